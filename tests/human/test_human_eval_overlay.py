"""``acgym eval --human DATASET``: a person's best lap beside the agent's and the expert's
(map and speed against distance), and in the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from human_helpers import TINY_TRAIN, ExpertLap, make_env

from acgym.cli import main
from acgym.errors import ConfigError, DataFileError
from acgym.human.devices import ScriptedDevice
from acgym.human.drive import checkpoint_lap, drive_config, earlier_best, prepare
from acgym.human.session import DriveSession, SimulatorTap, VirtualClock
from acgym.rl.evaluation import human_reference, lap_figure
from acgym.track.builtin import load_builtin

PERIOD_S = 0.04
TINY = [*TINY_TRAIN, "env.max_episode_py_time=4"]  # 4 s episodes: no lap completed


@pytest.fixture(scope="module")
def human_dataset(oval_expert_lap: ExpertLap, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A person's session (the scripted driver) recorded in a dataset folder."""
    data = tmp_path_factory.mktemp("human") / "data"
    env = make_env(data / "oval" / "dallara_f317" / "20261207_120000_human")
    tap = SimulatorTap(env, env.unwrapped.track.length_m)
    device = ScriptedDevice(oval_expert_lap.inputs)
    DriveSession(env, device, tap, clock=VirtualClock()).run(max_steps=len(oval_expert_lap.inputs))
    return data


def test_the_lap_figure_puts_the_persons_lap_beside_the_others(
    human_dataset: Path, oval_expert_lap: ExpertLap
) -> None:
    human = human_reference(human_dataset, "oval", "dallara_f317", PERIOD_S)
    assert human.time_s == oval_expert_lap.time_s
    assert human.distance_m[-1] > 2400  # the whole lap's path
    fig = lap_figure(load_builtin("oval"), None, None, human=human)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:3] == [
        "agent: no clean lap",
        "expert (acgym.sim.driver): no clean lap",
        f"human: {human.time_s:.3f} s",
    ]
    speed_axes = fig.axes[-2]
    assert speed_axes.get_ylabel() == "speed, km/h"
    assert [line.get_label() for line in speed_axes.get_lines()] == [
        f"human ({human.time_s:.3f} s)"
    ]


def test_a_dataset_without_the_track_and_car_is_refused(human_dataset: Path) -> None:
    with pytest.raises(DataFileError, match=r"no laps folders|no clean lap"):
        human_reference(human_dataset, "oval", "bmw_z4_gt3", PERIOD_S)


def test_acgym_eval_reports_and_draws_the_persons_best_lap(
    human_dataset: Path,
    oval_expert_lap: ExpertLap,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = tmp_path / "run"
    assert main(["train", *TINY, f"train.run_dir={run}"]) == 0
    out = tmp_path / "eval"
    code = main(
        [
            "eval",
            "--checkpoint",
            str(run),
            "--no-expert",
            "--human",
            str(human_dataset),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    report = json.loads((out / "eval_report.json").read_text())
    assert report["human_best_lap_s"] == oval_expert_lap.time_s
    assert f"human's best lap {oval_expert_lap.time_s:.3f} s" in capsys.readouterr().out
    assert (out / "best_lap.png").stat().st_size > 0


def test_the_persons_earlier_best_lap_and_the_experts_ghost(
    human_dataset: Path, oval_expert_lap: ExpertLap
) -> None:
    best = earlier_best(human_dataset, "oval", "dallara_f317")
    assert best is not None and best.time_s == oval_expert_lap.time_s and best.clean
    assert earlier_best(human_dataset, "oval", "bmw_z4_gt3") is None
    config = drive_config(None, ["env.track=oval"], game=False)
    setup = prepare(config, out=None, ghost="expert")
    setup.env.close()
    assert setup.run_dir is None and setup.ghost is setup.reference
    assert setup.reference is not None and setup.reference.label == "expert"
    assert setup.reference.time_s < oval_expert_lap.time_s  # its flying lap: the faster


def test_a_checkpoints_ghost_must_have_learned_on_the_same_track_and_car(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert main(["train", *TINY, f"train.run_dir={run}"]) == 0
    with pytest.raises(ConfigError, match="learned on track 'oval'"):
        checkpoint_lap(run, drive_config(None, ["env.track=technical_circuit"], game=False))
    lap = checkpoint_lap(run, drive_config(None, ["env.track=oval"], game=False))
    assert lap is None  # no clean lap in a 4 s episode: no ghost
