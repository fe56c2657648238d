"""The one configuration tree of a run: environment, agent, training, simulator, remote.

:class:`Config` is a tree of frozen dataclasses with a docstring per field. It loads from
YAML and ``key=value`` overrides (``acgym train train.total_steps=50000
env.track=monza``) through OmegaConf (``OmegaConf.structured`` + ``merge``): unknown
keys raise :class:`~acgym.errors.ConfigError` naming the key and the closest valid ones,
values are type-checked, and every dataclass's own checks run.

The original assetto_corsa_gym ``config.yml`` loads unchanged: its sections and keys are
accepted and translated (:data:`ORIGINAL_TOP_LEVEL`, ``acgym.rl.config.ORIGINAL_KEYS``):

==============================  ==========================================
original                        here
==============================  ==========================================
``AssettoCorsa.<key>``          ``env.<key>``
``Agent.num_steps``             ``train.total_steps`` (see ORIGINAL_KEYS)
``Agent.use_offline_buffer``    ``agent.use_offline_replay``
``SAC.gamma``, ``DisCor.*``     ``agent.*``
``seed``                        ``agent.seed``
``load_offline_data``           ``train.load_offline_data``
``dataset_path``                ``train.dataset_path``
``pre_train``                   ``train.pretrain``
``disable_wandb: true``         ``train.wandb=off``
==============================  ==========================================

Shortcuts for the keys used most: ``track``, ``car`` (``env.track``, ``env.car``),
``seed``, ``device`` (``agent.seed``, ``agent.device``), ``resume``, ``total_steps``,
``num_envs`` and ``wandb`` (``train.*``). Nothing is read at import time.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import inspect
import json
import logging
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from acgym.env.config import EnvConfig
from acgym.errors import ConfigError
from acgym.fileio import write_text_atomic
from acgym.rl.config import ORIGINAL_KEYS, AgentConfig, TrainerConfig

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.yaml"
"""Name of the resolved configuration saved in every run folder."""

BACKENDS = ("sim", "ac", "remote")
"""``sim``: ``acgym/Race-v0`` (the simulator in process); ``ac``: Assetto Corsa through its
plugin (``acgym/AssettoCorsa-v0`` in real time); ``remote``: ``acgym/AssettoCorsa-v0``
with the ``remote`` section's mode (the game, or ``acgym sim serve``)."""

WANDB_MODES = ("off", "on", "offline")


def _default_env() -> EnvConfig:
    from acgym.track.builtin import DEFAULT_TRACK

    return EnvConfig(track=DEFAULT_TRACK)


def _default_agent() -> AgentConfig:
    # Two departures from AgentConfig's (the original's) values, measured in
    # docs/results.md: two PyTorch threads (the learner's updates use both cores of a
    # 2-core machine while the simulator waits: the first clean lap 25 % sooner in wall
    # time than with one; on a machine busy with other jobs one thread can be faster,
    # agent.num_threads=1), and an initial temperature of 0.1 instead of 1 (with 1 the
    # entropy bonus dwarfs the speed reward of a car crawling off the line, and the first
    # 20k steps are spent standing still).
    return AgentConfig(num_threads=2, init_alpha=0.1)


@dataclass(frozen=True)
class TrainingConfig(TrainerConfig):
    """The training run: the loop's settings (inherited) plus collection, files, logging,
    offline data and the final evaluation.

    Defaults are chosen for the built-in simulator on a laptop: the default run reaches a
    clean lap of the default track and ends by itself (docs/results.md).
    """

    total_steps: int = 300_000
    """Environment steps to train for, all cars counted (original: ``Agent.num_steps``)."""
    start_steps: int = 2000
    """Steps of uniformly random actions before the policy acts and learning starts, all
    cars counted (original: ``Agent.start_steps``)."""
    updates_per_step: float = 0.25
    """Update-to-data ratio: gradient updates per environment step (original: one per
    step). On a CPU the updates bound the wall time; see docs/results.md for the choice."""
    num_envs: int = 4
    """Cars collecting at once (the simulator's batched vector env); 1 = a single env.
    The game is always one car."""
    time_limit_s: float = 0.0
    """Stop after this much wall time, s (a checkpoint is written); 0 = no limit."""
    stop_after_clean_laps: int = 0
    """Stop once training episodes have completed this many clean laps; 0 = never."""
    runs_root: str = "runs"
    """Folder under which each run gets ``<timestamp>_<track>_<car>/``."""
    run_dir: str | None = None
    """This run's folder; None = ``<runs_root>/<timestamp>_<track>_<car>`` (original:
    ``work_dir``)."""
    resume: str | None = None
    """A run folder or a checkpoint to continue: its ``config.yaml`` is the base, the
    counters, networks and optimisers continue, files go on in the same folder."""
    log_episodes: bool = True
    """Write every training episode (Parquet states, ``episodes_stats.csv``) under the
    run folder, through the environment's episode log."""
    wandb: str = "off"
    """Weights & Biases: ``off``, ``on`` (needs ``pip install acgym[wandb]`` and a login)
    or ``offline`` (no account; ``wandb sync`` later)."""
    wandb_project: str = "acgym"
    """Weights & Biases project."""
    wandb_entity: str | None = None
    """Weights & Biases user or team; None = the default of the login."""
    load_offline_data: bool = False
    """Fill the replay (the offline buffer when ``agent.use_offline_replay``) with the
    laps found under ``dataset_path`` before training."""
    dataset_path: str | None = None
    """A dataset in the original layout (``<track>/<car>/<run>/laps/*.parquet`` or
    ``*.pkl``, ``static_info.json`` beside) or one run folder with ``laps/``."""
    dataset_all_tracks: bool = False
    """Load the laps of every track and car in the dataset (the original loads all);
    False = only those of ``env.track`` and ``env.car``."""
    pretrain: bool = False
    """Gradient updates on the offline data before collecting (original: ``pre_train``)."""
    pretrain_steps: int | None = None
    """Updates of the pretraining; None = one per offline transition (the original)."""
    eval_at_end: bool = True
    """Run ``acgym eval`` on the final policy when training ends (report, PNG)."""
    final_eval_episodes: int = 1
    """Episodes of the final evaluation."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_envs < 1:
            raise ConfigError(f"train.num_envs must be >= 1, got {self.num_envs}")
        if self.wandb not in WANDB_MODES:
            raise ConfigError(f"train.wandb must be one of {WANDB_MODES}, got {self.wandb!r}")
        if self.time_limit_s < 0 or self.stop_after_clean_laps < 0:
            raise ConfigError("train.time_limit_s and train.stop_after_clean_laps must be >= 0")
        if self.pretrain_steps is not None and self.pretrain_steps < 0:
            raise ConfigError(f"train.pretrain_steps must be >= 0, got {self.pretrain_steps}")
        if self.final_eval_episodes < 1:
            raise ConfigError(
                f"train.final_eval_episodes must be >= 1, got {self.final_eval_episodes}"
            )

    def trainer_config(self, **changes: Any) -> TrainerConfig:
        """The loop's part, for :class:`acgym.rl.trainer.Trainer` (with ``changes``)."""
        names = {f.name for f in dataclasses.fields(TrainerConfig)}
        return TrainerConfig(**{**{n: getattr(self, n) for n in names}, **changes})


@dataclass(frozen=True)
class SimulatorConfig:
    """The built-in simulator (``backend=sim``). The track, the car and the control rate
    are the environment's: ``env.track``, ``env.car``, ``env.ego_sampling_freq``."""

    physics_hz: float = 200.0
    """Integration rate, Hz; a whole multiple of the control rate."""
    auto_shift: bool = True
    """Automatic gear shifting."""
    random_start: bool = False
    """Start training episodes at seeded random places along the track (``env.start``
    sets the bounds); evaluation always starts on the line."""


@dataclass(frozen=True)
class RemoteConfig:
    """The remote backend (``backend=remote``): the game plugin or ``acgym sim serve``.
    Host and ports are the environment's (``env.remote_machine_ip``,
    ``env.ego_server_port``, ``env.simulation_management_server_port``)."""

    mode: str = "realtime"
    """``realtime`` (the game, or a real-time simulator server) or ``lockstep``."""
    legacy: bool = False
    """Speak the original plugin's wire format (real time only)."""
    token: str | None = None
    """The server's shared token (protocol v1)."""
    timeout_s: float = 5.0
    """How long a call waits for the server before failing, s."""

    def __post_init__(self) -> None:
        if self.mode not in ("realtime", "lockstep"):
            raise ConfigError(f"remote.mode must be 'realtime' or 'lockstep', got {self.mode!r}")


@dataclass(frozen=True)
class Config:
    """Everything a run needs; saved as ``config.yaml`` in the run folder."""

    backend: str = "sim"
    """``sim`` (``acgym/Race-v0``, the simulator in process), ``ac`` (the game through its
    plugin, real time) or ``remote`` (``acgym/AssettoCorsa-v0`` with ``remote.mode``: the
    game, or ``acgym sim serve``)."""
    env: EnvConfig = field(default_factory=_default_env)
    """The environment (the original's ``AssettoCorsa`` section; that name is accepted)."""
    agent: AgentConfig = field(default_factory=_default_agent)
    """SAC / DisCor (the original's ``Agent``, ``SAC`` and ``DisCor`` keys are accepted)."""
    train: TrainingConfig = field(default_factory=TrainingConfig)
    """The training run."""
    sim: SimulatorConfig = field(default_factory=SimulatorConfig)
    """The built-in simulator."""
    remote: RemoteConfig = field(default_factory=RemoteConfig)
    """The remote backend."""

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"backend must be one of {BACKENDS}, got {self.backend!r}")

    @property
    def remote_mode(self) -> str | None:
        """``realtime`` or ``lockstep`` for a remote backend (``ac`` is real time); None
        for the simulator in process."""
        if self.backend == "sim":
            return None
        return "realtime" if self.backend == "ac" else self.remote.mode

    @property
    def realtime(self) -> bool:
        """Whether the real-time loop runs: ``train.realtime``, or always against a
        backend in real time (the game does not wait for the learner)."""
        return self.train.realtime or self.remote_mode == "realtime"

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (lists for tuples), loadable by :func:`load_config`."""
        return _to_plain(self)

    def to_yaml(self) -> str:
        """The resolved configuration as YAML."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def save(self, path: Path | str) -> Path:
        """Write :meth:`to_yaml` atomically; returns the path."""
        path = Path(path)
        write_text_atomic(path, self.to_yaml())
        return path


SECTIONS = ("env", "agent", "train", "sim", "remote")
"""The sections of :class:`Config` (mappings); ``backend`` is the only top-level value."""

ORIGINAL_TOP_LEVEL: dict[str, str | None] = {
    "seed": "agent.seed",
    "algo": "agent.algorithm",  # the original's --algo
    "device": "agent.device",
    "track": "env.track",
    "car": "env.car",
    "resume": "train.resume",
    "total_steps": "train.total_steps",
    "num_envs": "train.num_envs",
    "wandb": "train.wandb",
    "load_offline_data": "train.load_offline_data",
    "dataset_path": "train.dataset_path",
    "pre_train": "train.pretrain",
    "work_dir": "train.run_dir",
    "wandb_project": "train.wandb_project",
    "wandb_entity": "train.wandb_entity",
    "disable_wandb": "train.wandb",  # true -> off; false leaves the setting as it is
    # The original's placeholders and switches with no counterpart: accepted, ignored.
    "task": None,
    "wandb_silent": None,
    "exp_name": None,
    "task_title": None,
    "save_csv": None,
    "save_video": None,
    "save_agent": None,
    "action_dim": None,
    "steps": None,
}
"""Top-level keys of the original ``config.yml`` (and shortcuts) -> dotted key here;
``None``: accepted and ignored."""

_ENV_SECTION = "AssettoCorsa"
_AGENT_SECTIONS = ("Agent", "SAC", "DisCor")


def load_config(
    path: Path | str | None = None,
    overrides: Sequence[str] = (),
    *,
    base: Config | Mapping[str, Any] | None = None,
) -> Config:
    """Build a :class:`Config`: defaults, then ``base``, then the YAML file, then overrides.

    Args:
        path: A YAML file (ours, or the original's ``config.yml``); None = none.
        overrides: ``key=value`` items (YAML values, dotted keys, original names too).
        base: A config (or its dict) to start from instead of the defaults (resume).

    Raises:
        ConfigError: An unknown key (with the closest valid ones), a value of the wrong
            type or out of range, an unreadable file.
    """
    from omegaconf import OmegaConf

    layers: list[dict[str, Any]] = []
    if base is not None:
        layers.append(base.to_dict() if isinstance(base, Config) else dict(base))
    if path is not None:
        layers.append(_normalise(_read_yaml(Path(path)), str(path)))
    if overrides:
        layers.append(_normalise(_parse_dotlist(overrides), "overrides"))
    try:
        merged = OmegaConf.merge(OmegaConf.structured(Config), *layers)
        config = OmegaConf.to_object(merged)
    except ConfigError:
        raise
    except Exception as exc:  # omegaconf's own errors: unknown key, wrong type
        raise _config_error(exc) from None
    assert isinstance(config, Config)
    return config


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the configuration ({exc})") from exc
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: expected a mapping of sections, got {type(data).__name__}")
    return dict(data)


def _parse_dotlist(overrides: Sequence[str]) -> dict[str, Any]:
    from omegaconf import OmegaConf

    for item in overrides:
        if "=" not in item or item.startswith("="):
            raise ConfigError(
                f"override {item!r}: expected key=value (e.g. train.total_steps=1000)"
            )
    try:
        container = OmegaConf.to_container(OmegaConf.from_dotlist(list(overrides)))
    except Exception as exc:  # omegaconf grammar errors
        raise ConfigError(f"overrides {list(overrides)}: {exc}") from None
    assert isinstance(container, dict)
    return container


def _normalise(tree: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Translate the original's sections and keys and the shortcuts into our keys."""
    out: dict[str, Any] = {}

    def put(dotted: str, value: Any) -> None:
        node = out
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value

    for key, value in tree.items():
        key = str(key)
        if key in SECTIONS:
            if not isinstance(value, Mapping):
                raise ConfigError(f"{where}: section {key!r} must be a mapping, got {value!r}")
            out[key] = _deep_merge(out.get(key, {}), dict(value))
        elif key == "backend":
            out[key] = value
        elif key == _ENV_SECTION:
            if not isinstance(value, Mapping):
                raise ConfigError(f"{where}: section {key!r} must be a mapping")
            out["env"] = _deep_merge(out.get("env", {}), dict(value))
        elif key in _AGENT_SECTIONS:
            if not isinstance(value, Mapping):
                raise ConfigError(f"{where}: section {key!r} must be a mapping")
            for name, item in value.items():
                for dotted, translated in _original_agent_key(key, str(name), item):
                    put(dotted, translated)
        elif key in ORIGINAL_TOP_LEVEL:
            target = ORIGINAL_TOP_LEVEL[key]
            if target is None:
                logger.debug("%s: the original's key %r has no effect here", where, key)
            elif key == "disable_wandb":
                if value:
                    put(target, "off")
            elif key == "work_dir" and value is None:
                continue
            else:
                put(target, value)
        else:
            valid = [*SECTIONS, "backend", _ENV_SECTION, *_AGENT_SECTIONS, *ORIGINAL_TOP_LEVEL]
            raise ConfigError(f"{where}: unknown config key {key!r}{_did_you_mean(key, valid)}")
    train = out.get("train")
    if isinstance(train, dict) and isinstance(train.get("wandb"), bool):
        train["wandb"] = "on" if train["wandb"] else "off"  # YAML reads `on` / `off` as bools
    return out


def _original_agent_key(section: str, key: str, value: Any) -> list[tuple[str, Any]]:
    if (section, key) not in ORIGINAL_KEYS:
        valid = [k for s, k in ORIGINAL_KEYS if s == section]
        raise ConfigError(
            f"unknown config key {section + '.' + key!r}{_did_you_mean(key, valid, section)}"
        )
    target = ORIGINAL_KEYS[(section, key)]
    if target is None:
        return []
    which, name = target
    if name == "updates_per_step":  # the original updates once every `update_interval` steps
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{section}.{key}: expected an integer >= 1, got {value!r}")
        value = 1.0 / value
    return [(f"{'agent' if which == 'agent' else 'train'}.{name}", value)]


def _deep_merge(base: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _did_you_mean(key: str, valid: Sequence[str], prefix: str = "") -> str:
    close = difflib.get_close_matches(key, list(valid), n=3, cutoff=0.6)
    if not close:
        return ""
    dotted = [f"{prefix}.{c}" if prefix else c for c in close]
    return "; did you mean " + " or ".join(repr(c) for c in dotted) + "?"


def _config_error(exc: Exception) -> ConfigError:
    """A ConfigError from an omegaconf error, naming the full key and close matches."""
    from omegaconf.errors import ConfigKeyError

    full_key = str(getattr(exc, "full_key", "") or "")
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, ConfigKeyError) and full_key:
        *parents, leaf = full_key.split(".")
        node: Any = Config()
        for part in parents:
            node = getattr(node, part, None)
        names = [f.name for f in dataclasses.fields(node)] if dataclasses.is_dataclass(node) else []
        return ConfigError(
            f"unknown config key {full_key!r}{_did_you_mean(leaf, names, '.'.join(parents))}"
        )
    if full_key:
        return ConfigError(f"config key {full_key!r}: {message}")
    return ConfigError(message)


def _to_plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple | list):
        return [_to_plain(v) for v in obj]
    return obj


# --------------------------------------------------------------------- documentation


@cache
def field_docstrings(cls: type) -> dict[str, str]:
    """The docstring written under each field of a dataclass (and of its bases).

    Returns:
        field name -> docstring (fields without one are missing).
    """
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass) or klass is object:
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        body = ast.parse(source).body[0]
        assert isinstance(body, ast.ClassDef)
        for node, following in zip(body.body, body.body[1:], strict=False):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                docs[node.target.id] = inspect.cleandoc(following.value.value)
    return docs


def documented_keys(cls: type = Config, prefix: str = "") -> list[tuple[str, Any, str]]:
    """Every leaf key of the tree under ``cls``: ``(dotted key, default, docstring)``."""
    rows: list[tuple[str, Any, str]] = []
    docs = field_docstrings(cls)
    instance = cls()
    for f in dataclasses.fields(cls):
        value = getattr(instance, f.name)
        key = prefix + f.name
        if dataclasses.is_dataclass(value):
            rows.extend(documented_keys(type(value), key + "."))
        else:
            rows.append((key, _to_plain(value), docs.get(f.name, "")))
    return rows


def config_help() -> str:
    """A text listing of every key, its default and what it does (``--help-config``)."""
    lines = []
    for key, default, doc in documented_keys():
        value = default if isinstance(default, str) else json.dumps(default)
        lines.append(f"{key}={value}")
        lines.extend(
            textwrap.wrap(
                " ".join(doc.split()), 88, initial_indent="    ", subsequent_indent="    "
            )
        )
    shortcuts = ", ".join(k for k, v in ORIGINAL_TOP_LEVEL.items() if v is not None)
    lines += [
        "",
        f"Also accepted: AssettoCorsa.<key>, Agent.<key>, SAC.<key>, DisCor.<key>, {shortcuts}.",
    ]
    return "\n".join(lines)


__all__ = [
    "BACKENDS",
    "CONFIG_FILE",
    "ORIGINAL_TOP_LEVEL",
    "Config",
    "RemoteConfig",
    "SimulatorConfig",
    "TrainingConfig",
    "config_help",
    "documented_keys",
    "field_docstrings",
    "load_config",
]
