"""Checkpoints of an agent: ``state_dict`` tensors + JSON metadata, written atomically.

A checkpoint is a folder::

    agent.pt      networks, optimisers, temperature, noise generator (torch.save of
                  tensors and plain containers; read back with ``weights_only=True``)
    replay.npz    the replay buffer (optional; ``numpy.load(allow_pickle=False)``)
    meta.json     configuration, sizes, the observation's layout (the name of every
                  value), action bounds, counters, numpy generator state

Every file is written to a temp file and renamed; ``meta.json`` is written last, so a
folder without it is an interrupted save and is ignored. Nothing is pickled beyond
tensors, numbers and strings.

Loading for an environment (a resumed run, an evaluation) checks that the env's
observation has the checkpoint's layout, value by value: a policy fed its inputs in
another order would drive blind. Checkpoints written before the layout was stored are
checked by size only (with a warning).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from acgym import __version__
from acgym.config_loader import load_section, to_plain
from acgym.errors import ConfigError, DataFileError
from acgym.fileio import atomic_path, write_text_atomic
from acgym.rl.config import AgentConfig
from acgym.rl.pixel_sac import agent_class
from acgym.rl.pixels import PixelLayout
from acgym.rl.sac import SAC

FORMAT = "acgym.rl.checkpoint"
VERSION = 1
AGENT_FILE = "agent.pt"
REPLAY_FILE = "replay.npz"
META_FILE = "meta.json"
LATEST_FILE = "latest"
MAX_LISTED_DIFFERENCES = 8
"""Differing observation entries named in a layout mismatch error."""

logger = logging.getLogger(__name__)


def save_checkpoint(
    path: Path | str,
    agent: SAC,
    *,
    save_replay: bool = False,
    observation_layout: Sequence[str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``agent`` (and optionally its replay buffer) to the folder ``path``.

    Args:
        path: checkpoint folder (created; files in it are replaced).
        agent: the agent to save.
        save_replay: include the replay buffer as ``replay.npz``.
        observation_layout: the name of every observation value of the env the agent
            learns on (:func:`env_observation_layout`), checked when it is loaded again.
        extra: JSON-serialisable data stored under ``meta["extra"]`` (e.g. the trainer's
            counters).

    Returns:
        The folder.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / META_FILE).unlink(missing_ok=True)  # incomplete until the new meta is written
    state = agent.state_dict()
    np_rng = state.pop("np_rng")
    with atomic_path(path / AGENT_FILE) as tmp:
        torch.save(state, tmp)
    if save_replay:
        with atomic_path(path / REPLAY_FILE) as tmp, open(tmp, "wb") as stream:
            np.savez(stream, **agent.replay.state_dict())
    else:
        (path / REPLAY_FILE).unlink(missing_ok=True)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "acgym": __version__,
        "torch": torch.__version__,
        "algorithm": agent.config.algorithm,
        "agent_config": to_plain(agent.config),
        "obs_dim": agent.obs_dim,
        "observation_layout": None if observation_layout is None else list(observation_layout),
        "action_dim": agent.action_dim,
        "action_low": agent.action_low.tolist(),
        "action_high": agent.action_high.tolist(),
        "num_envs": getattr(agent.replay, "num_envs", 1),
        "num_updates": agent.num_updates,
        "np_rng": np_rng,
        "replay": save_replay,
        "extra": extra or {},
    }
    write_text_atomic(path / META_FILE, json.dumps(meta, indent=2) + "\n")
    return path


def read_meta(path: Path | str) -> dict[str, Any]:
    """The metadata of a complete checkpoint folder; DataFileError if there is none."""
    meta_path = Path(path) / META_FILE
    if not meta_path.is_file():
        raise DataFileError(
            f"{path} is not a complete checkpoint (no {META_FILE}): pick another checkpoint "
            "or a run folder"
        )
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise DataFileError(
            f"{meta_path}: expected format {FORMAT} version {VERSION}, got "
            f"{meta.get('format')} version {meta.get('version')}"
        )
    return meta


def load_checkpoint(
    path: Path | str,
    agent: SAC,
    *,
    load_replay: bool = True,
    observation_layout: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Restore a checkpoint into ``agent`` (built with the same configuration).

    Args:
        path: checkpoint folder.
        agent: destination; its sizes and algorithm must match the checkpoint's.
        load_replay: also restore the replay buffer when the checkpoint has one.
        observation_layout: the observation layout of the env the agent will drive;
            checked against the checkpoint's (:func:`check_observation_layout`).

    Returns:
        The checkpoint's metadata.
    """
    path = Path(path)
    meta = read_meta(path)
    check_observation_layout(path, meta, observation_layout)
    saved = (meta["algorithm"], meta["obs_dim"], meta["action_dim"])
    if saved != (agent.config.algorithm, agent.obs_dim, agent.action_dim):
        raise DataFileError(
            f"{path}: checkpoint of (algorithm, obs_dim, action_dim) = {saved}, agent is "
            f"{(agent.config.algorithm, agent.obs_dim, agent.action_dim)}"
        )
    state = torch.load(path / AGENT_FILE, map_location="cpu", weights_only=True)
    state["np_rng"] = meta["np_rng"]
    agent.load_state_dict(state)
    if load_replay and meta["replay"]:
        with np.load(path / REPLAY_FILE, allow_pickle=False) as data:
            agent.replay.load_state_dict({key: data[key] for key in data.files})
    return meta


def load_agent(
    path: Path | str,
    *,
    device: str | None = None,
    load_replay: bool = False,
    observation_layout: Sequence[str] | None = None,
    **agent_kwargs: Any,
) -> SAC:
    """Build the agent a checkpoint describes and restore it (e.g. for evaluation).

    Args:
        path: checkpoint folder, or a run folder (its latest checkpoint).
        device: override the saved device setting (``"cpu"``, ``"auto"``...).
        load_replay: restore the replay buffer too (it is then allocated at full size).
        observation_layout: the observation layout of the env the agent will drive;
            checked against the checkpoint's (:func:`check_observation_layout`).
        agent_kwargs: passed to the agent's constructor (e.g. ``replay``).
    """
    path = resolve_checkpoint(path)
    meta = read_meta(path)
    values = dict(meta["agent_config"])
    if device is not None:
        values["device"] = device
    if not load_replay and "replay" not in agent_kwargs:
        values.update(replay_size=1, offline_replay_size=1)  # evaluation needs no replay
    config = load_section(AgentConfig, values, section="agent")
    pixels = PixelLayout.from_names(meta.get("observation_layout"))
    if pixels is not None:  # learned on images: the agent with the encoder
        agent_kwargs["pixels"] = pixels
    agent = agent_class(config.algorithm, pixels)(
        meta["obs_dim"],
        meta["action_dim"],
        config,
        num_envs=meta.get("num_envs", 1),
        action_low=meta["action_low"],
        action_high=meta["action_high"],
        **agent_kwargs,
    )
    load_checkpoint(path, agent, load_replay=load_replay, observation_layout=observation_layout)
    return agent


def env_observation_layout(env: Any) -> tuple[str, ...] | None:
    """The name of every observation value of ``env`` (a single or vector env, wrapped
    or not), or ``None`` for an env that does not name them (only acgym's do:
    ``observation_layout``)."""
    layout = getattr(env, "observation_layout", None)  # a wrapper that names its own
    if layout is None:  # (acgym.rl.pixels: the image first), else the env's
        layout = getattr(getattr(env, "unwrapped", env), "observation_layout", None)
    return None if layout is None else tuple(str(name) for name in layout)


def check_observation_layout(
    path: Path | str, meta: dict[str, Any], observation_layout: Sequence[str] | None
) -> None:
    """Refuse an env whose observation differs from the one the checkpoint learned on.

    Args:
        path: the checkpoint (named in the messages).
        meta: its metadata (:func:`read_meta`).
        observation_layout: the env's layout; ``None`` (an env that does not name its
            values) checks nothing here (the size is checked on loading).

    Raises:
        ConfigError: the layouts differ; the message lists the differing entries.
    """
    if observation_layout is None:
        return
    saved = meta.get("observation_layout")
    if saved is None:
        logger.warning(
            "%s: written before checkpoints stored their observation layout; only its size "
            "(%d values) is checked against the env's",
            path,
            meta["obs_dim"],
        )
        return
    env = list(observation_layout)
    if saved == env:
        return
    differing = [
        i
        for i in range(max(len(saved), len(env)))
        if i >= len(saved) or i >= len(env) or saved[i] != env[i]
    ]

    def name(layout: list[str], index: int) -> str:
        return repr(layout[index]) if index < len(layout) else "(none)"

    listed = "; ".join(
        f"[{i}] checkpoint {name(saved, i)}, env {name(env, i)}"
        for i in differing[:MAX_LISTED_DIFFERENCES]
    )
    more = len(differing) - MAX_LISTED_DIFFERENCES
    raise ConfigError(
        f"{path}: the env's observation ({len(env)} values) is not the one this checkpoint "
        f"learned on ({len(saved)} values); {len(differing)} entries differ: {listed}"
        f"{f' (and {more} more)' if more > 0 else ''}. Use the run's env settings (its "
        "config.yaml) and drop the env.* overrides that change the observation"
    )


def resolve_checkpoint(path: Path | str) -> Path:
    """A checkpoint folder from a checkpoint folder or a run/checkpoints folder (latest)."""
    path = Path(path)
    if (path / META_FILE).is_file():
        return path
    for folder in (path, path / "checkpoints"):
        latest = latest_checkpoint(folder)
        if latest is not None:
            return latest
    raise DataFileError(
        f"no complete checkpoint in {path} (a run stopped before its first checkpoint has "
        "none: start it again): give a checkpoint folder or a run folder with checkpoints/"
    )


def latest_checkpoint(folder: Path | str) -> Path | None:
    """The newest complete checkpoint in ``folder`` (the ``latest`` pointer, else the
    last complete ``step_*`` folder by name), or ``None``."""
    folder = Path(folder)
    pointer = folder / LATEST_FILE
    if pointer.is_file():
        candidate = folder / pointer.read_text(encoding="utf-8").strip()
        if (candidate / META_FILE).is_file():
            return candidate
    complete = sorted(p for p in folder.glob("step_*") if (p / META_FILE).is_file())
    return complete[-1] if complete else None


def mark_latest(folder: Path | str, checkpoint: Path | str) -> None:
    """Point ``folder/latest`` at ``checkpoint`` (atomically)."""
    write_text_atomic(Path(folder) / LATEST_FILE, Path(checkpoint).name + "\n")


def prune_checkpoints(folder: Path | str, keep: int) -> None:
    """Delete all but the ``keep`` newest ``step_*`` checkpoints (``keep = 0``: none)."""
    if keep <= 0:
        return
    checkpoints = sorted(Path(folder).glob("step_*"))
    for old in checkpoints[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
