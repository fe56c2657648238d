"""Checkpoints store the observation layout; loading one for an env of another layout is
refused with the entries that differ, and an older checkpoint without it loads with a
warning (its size still checked)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from acgym.errors import ConfigError, DataFileError
from acgym.rl import SAC
from acgym.rl.checkpoint import (
    MAX_LISTED_DIFFERENCES,
    META_FILE,
    load_agent,
    load_checkpoint,
    save_checkpoint,
)
from acgym.rl.config import AgentConfig

LAYOUT = ("speed", "gap", "ray_00")


def _agent(obs_dim: int = len(LAYOUT)) -> SAC:
    config = AgentConfig(
        actor_hidden=(16, 16), critic_hidden=(16, 16), replay_size=100, device="cpu"
    )
    return SAC(obs_dim, 2, config)


def _saved(tmp_path: Path) -> Path:
    path = tmp_path / "ckpt"
    save_checkpoint(path, _agent(), observation_layout=LAYOUT)
    return path


def test_a_checkpoint_stores_the_name_of_every_observation_value(tmp_path: Path) -> None:
    meta = json.loads((_saved(tmp_path) / META_FILE).read_text())
    assert meta["observation_layout"] == list(LAYOUT) and meta["obs_dim"] == len(LAYOUT)


def test_loading_for_another_layout_names_the_entries_that_differ(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    swapped = ("gap", "speed", "ray_00")
    with pytest.raises(ConfigError, match="2 entries differ") as info:
        load_checkpoint(path, _agent(), observation_layout=swapped)
    message = str(info.value)
    assert "[0] checkpoint 'speed', env 'gap'" in message
    assert "[1] checkpoint 'gap', env 'speed'" in message
    assert "ray_00" not in message  # the same in both
    with pytest.raises(ConfigError, match="entries differ"):
        load_agent(path, observation_layout=swapped)
    load_agent(path, observation_layout=LAYOUT)  # the same layout loads


def test_a_layout_of_another_length_shows_the_missing_entries(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    with pytest.raises(ConfigError, match=r"\[3\] checkpoint \(none\), env 'task_0'"):
        load_checkpoint(path, _agent(), observation_layout=(*LAYOUT, "task_0"))


def test_a_long_list_of_differences_is_cut_and_counted(tmp_path: Path) -> None:
    names = tuple(f"v{i:02d}" for i in range(20))
    path = tmp_path / "ckpt"
    save_checkpoint(path, _agent(len(names)), observation_layout=names)
    with pytest.raises(ConfigError, match="20 entries differ") as info:
        load_checkpoint(path, _agent(len(names)), observation_layout=names[::-1])
    message = str(info.value)
    assert message.count(" checkpoint 'v") == MAX_LISTED_DIFFERENCES
    assert f"(and {20 - MAX_LISTED_DIFFERENCES} more)" in message


def test_an_older_checkpoint_without_a_layout_loads_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _saved(tmp_path)
    meta = json.loads((path / META_FILE).read_text())
    del meta["observation_layout"]  # as written before the layout was stored
    (path / META_FILE).write_text(json.dumps(meta))
    with caplog.at_level(logging.WARNING, logger="acgym.rl.checkpoint"):
        load_checkpoint(path, _agent(), observation_layout=("a", "b", "c"))
    assert "only its size (3 values) is checked" in caplog.text
    with pytest.raises(DataFileError, match="obs_dim"):  # the size still is
        load_checkpoint(path, _agent(4), observation_layout=("a", "b", "c", "d"))


def test_an_env_that_does_not_name_its_values_is_checked_by_size_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _saved(tmp_path)
    with caplog.at_level(logging.WARNING, logger="acgym.rl.checkpoint"):
        load_checkpoint(path, _agent())
    assert caplog.text == ""
