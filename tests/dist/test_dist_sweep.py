"""A sweep's definition (acgym.dist.sweep), without Ray: its tasks, grid and folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from acgym.dist.sweep import SWEEP_FILE, SWEEP_SUITE, SweepSpec, open_sweep, parse_grid
from acgym.errors import ConfigError, DataFileError
from acgym.suite.tasks import get_suite, resolve_task


def test_every_combination_of_car_track_and_grid_is_a_task_with_its_items() -> None:
    spec = SweepSpec(
        ("oval", "fast_circuit"),
        ("dallara_f317",),
        parse_grid(["agent.algorithm=sac,discor", "train.num_envs=2,4"]),
    )
    tasks = spec.tasks()
    assert len(tasks) == 2 * 2 * 2
    assert tasks[0].task_id == "dallara_f317-oval-agent.algorithm-sac-train.num_envs-2"
    assert tasks[0].overrides == ("agent.algorithm=sac", "train.num_envs=2")
    assert tasks[-1].overrides == ("agent.algorithm=discor", "train.num_envs=4")
    assert {t.car for t in tasks} == {"dallara_f317"}
    assert [resolve_task(t, None).track for t in tasks[::4]] == ["oval", "fast_circuit"]


def test_without_a_grid_there_is_one_task_per_car_and_track() -> None:
    spec = SweepSpec(("oval",), ("dallara_f317", "bmw_z4_gt3"))
    assert [t.task_id for t in spec.tasks()] == ["dallara_f317-oval", "bmw_z4_gt3-oval"]
    assert all(t.overrides == () for t in spec.tasks())


@pytest.mark.parametrize("item", ["agent.algorithm", "=sac", "agent.algorithm=", "a=,"])
def test_a_grid_item_without_key_or_values_is_refused(item: str) -> None:
    with pytest.raises(ConfigError, match="expected key=value1,value2"):
        parse_grid([item])


def test_a_sweep_needs_a_track_and_a_car() -> None:
    with pytest.raises(ConfigError, match="at least one track"):
        SweepSpec((), ("dallara_f317",))


def test_a_sweep_folder_keeps_its_definition_and_refuses_another(tmp_path: Path) -> None:
    spec = SweepSpec(("oval",), ("dallara_f317",), parse_grid(["agent.gamma=0.99,0.995"]))
    assert open_sweep(tmp_path, spec) == spec
    assert (tmp_path / SWEEP_FILE).is_file()
    assert get_suite(SWEEP_SUITE).task_ids() == tuple(t.task_id for t in spec.tasks())
    assert open_sweep(tmp_path, None) == spec  # resume: the folder's own
    with pytest.raises(ConfigError, match="holds another sweep"):
        open_sweep(tmp_path, SweepSpec(("fast_circuit",), ("dallara_f317",)))


def test_a_folder_without_a_sweep_is_refused_for_resume(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="not a sweep folder"):
        open_sweep(tmp_path, None)
