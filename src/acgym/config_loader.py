"""The one configuration loader: YAML files, mappings and ``key=value`` overrides into
the typed trees of acgym (frozen dataclasses with a docstring per field).

:func:`load_section` builds a tree from its defaults (or a ``base``), then a source (a
YAML file or a mapping), then overrides (``train.total_steps=50000``):

* keys are strict: an unknown key raises :class:`~acgym.errors.ConfigError` naming it
  and the closest valid ones;
* values are checked against the field's annotation (``bool``, ``int``, ``float``,
  ``str``, ``None`` where allowed, tuples, nested trees): an int is accepted for a float,
  a whole float for an int, lists become tuples; nothing else is converted (``"yes"`` is
  not a bool, ``3`` is not a string). Range checks are each tree's ``__post_init__``;
* override values and files are read as YAML (``true``, ``null``, ``[speed, gap]``;
  ``1e-4`` is a number, as in YAML 1.2);
* the original assetto_corsa_gym ``config.yml`` (sections ``AssettoCorsa``, ``Agent``,
  ``SAC``, ``DisCor`` and top-level keys) is translated through :data:`ORIGINAL_KEYS`,
  whichever tree is loaded from it: the whole run (``acgym.config.load_config``) or one
  of its sections (``acgym.env.config.load_env_config``, a checkpoint's agent).

Nothing here knows the trees' classes: the run's section names are :data:`RUN_SECTIONS`.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import logging
import re
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

from acgym.errors import ConfigError

logger = logging.getLogger(__name__)

T = TypeVar("T")

RUN_SECTIONS = ("env", "agent", "train", "sim", "remote")
"""The sections of a run's configuration (``acgym.config.Config``); ``backend`` is its
only top-level value."""

RUN_VALUES = ("backend",)
"""Top-level values of a run's configuration that are not sections."""

ORIGINAL_KEYS: dict[str, str | None] = {
    # The original's environment section is ours, key for key.
    "AssettoCorsa": "env",
    # The original's learning sections.
    "Agent.algorithm": "agent.algorithm",  # the original's --algo flag
    "Agent.num_steps": "train.total_steps",
    "Agent.batch_size": "agent.batch_size",
    "Agent.memory_size": "agent.replay_size",
    "Agent.offline_buffer_size": "agent.offline_replay_size",
    "Agent.use_offline_buffer": "agent.use_offline_replay",
    "Agent.update_interval": "train.updates_per_step",  # 1 / update_interval
    "Agent.start_steps": "train.start_steps",
    "Agent.log_interval": None,  # episodes between reward logs: every episode is logged
    "Agent.eval_interval": "train.eval_interval",
    "Agent.num_eval_episodes": "train.num_eval_episodes",
    "Agent.checkpoint_freq": "train.checkpoint_interval",
    "SAC.gamma": "agent.gamma",
    "SAC.nstep": "agent.n_step",
    "SAC.policy_lr": "agent.actor_lr",
    "SAC.q_lr": "agent.critic_lr",
    "SAC.entropy_lr": "agent.alpha_lr",
    "SAC.policy_hidden_units": "agent.actor_hidden",
    "SAC.q_hidden_units": "agent.critic_hidden",
    "SAC.target_update_coef": "agent.tau",
    "SAC.log_interval": None,  # updates between loss logs: train.log_interval
    "DisCor.error_lr": "agent.error_lr",
    "DisCor.error_hidden_units": "agent.error_hidden",
    "DisCor.tau_init": "agent.error_tau_init",
    # The original's top-level keys.
    "seed": "agent.seed",
    "algo": "agent.algorithm",  # the original's --algo
    "load_offline_data": "train.load_offline_data",
    "dataset_path": "train.dataset_path",
    "pre_train": "train.pretrain",
    "work_dir": "train.run_dir",  # null leaves the setting as it is
    "wandb_project": "train.wandb_project",
    "wandb_entity": "train.wandb_entity",
    "disable_wandb": "train.wandb",  # true -> off; false leaves the setting as it is
    "task": None,  # the original's placeholders and switches with no counterpart
    "wandb_silent": None,
    "exp_name": None,
    "task_title": None,
    "save_csv": None,
    "save_video": None,
    "save_agent": None,
    "action_dim": None,
    "steps": None,
    # Shortcuts for the keys used most.
    "device": "agent.device",
    "track": "env.track",
    "car": "env.car",
    "resume": "train.resume",
    "total_steps": "train.total_steps",
    "num_envs": "train.num_envs",
    "wandb": "train.wandb",
}
"""THE translation of the original ``config.yml``'s keys (and of the top-level shortcuts)
into the run's dotted keys: ``Section.key`` or ``key`` -> ``section.key``; a whole
section -> its section (``AssettoCorsa`` -> ``env``); ``None``: accepted and ignored."""

MOVED_KEYS: dict[str, str] = {
    "sim.random_start": "env.start.random (with the env.start.* bounds; training, "
    "recording and evaluation all read it)",
}
"""Keys of older configurations that are gone -> what to use instead (a ConfigError)."""

_RUN_TOP_LEVEL = (*RUN_SECTIONS, *RUN_VALUES)
_ORIGINAL_SECTIONS = tuple(dict.fromkeys(k.split(".")[0] for k in ORIGINAL_KEYS if "." in k))
"""The original's sections translated key by key (``Agent``, ``SAC``, ``DisCor``)."""
_SECTION_ALIASES = {k: str(v) for k, v in ORIGINAL_KEYS.items() if v in RUN_SECTIONS}
"""The original's sections that are one of ours as a whole (``AssettoCorsa``: ``env``)."""

_SKIP = object()


# --------------------------------------------------------------------- loading


def load_section(
    cls: type[T],
    source: Path | str | Mapping[str, Any] | None = None,
    overrides: Sequence[str] = (),
    *,
    base: T | None = None,
    section: str | None = None,
) -> T:
    """Build the tree ``cls``: defaults (or ``base``), then ``source``, then ``overrides``.

    Args:
        cls: A frozen dataclass tree (``acgym.config.Config``, ``EnvConfig``...).
        source: A YAML file or a mapping (plain or an OmegaConf container); None = none.
            With ``section`` set, a source that is a whole run's configuration (its
            top-level keys are sections: ours or the original's) gives that section,
            translated as for the whole run; any other source holds ``cls``'s own keys.
        overrides: ``key=value`` items (YAML values, dotted keys). With ``section`` set
            the keys are ``cls``'s own, or behind the original's section name
            (``AssettoCorsa.track=monza`` for ``env``).
        base: A tree to start from instead of ``cls()`` (a resumed run).
        section: Where ``cls`` sits in a run's configuration (``"env"``, ``"agent"``...);
            None: ``cls`` is the whole run's configuration (the original's keys and the
            shortcuts are translated everywhere).

    Raises:
        ConfigError: An unknown key (with the closest valid ones), a value of the wrong
            type or out of range, an unreadable file.
    """
    if section is not None and section not in RUN_SECTIONS:
        raise ConfigError(f"section: expected one of {RUN_SECTIONS}, got {section!r}")
    tree = to_plain(cls() if base is None else base)
    if source is not None:
        if isinstance(source, Mapping):
            where, values = "config", to_plain(source)
        elif isinstance(source, str | Path):
            where, values = str(source), read_yaml(Path(source))
        else:
            raise ConfigError(
                f"config: expected an instance of {cls.__name__}, a mapping or a YAML path, "
                f"got {type(source).__name__}"
            )
        tree = merge(tree, _scope(values, where, section))
    if overrides:
        tree = merge(tree, _scope_overrides(parse_overrides(overrides), section))
    return build(cls, tree)


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML file's top-level mapping ({} for an empty file)."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YamlLoader)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the configuration ({exc})") from exc
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: expected a mapping of keys, got {type(data).__name__}")
    return dict(data)


def parse_overrides(overrides: Sequence[str]) -> dict[str, Any]:
    """``["a.b=1", "c=[x, y]"]`` -> ``{"a": {"b": 1}, "c": ["x", "y"]}`` (YAML values)."""
    out: dict[str, Any] = {}
    for item in overrides:
        key, equals, text = str(item).partition("=")
        parts = key.strip().split(".")
        if not equals or not all(parts):
            raise ConfigError(
                f"override {item!r}: expected key=value (e.g. train.total_steps=1000)"
            )
        try:
            value = yaml.load(text, Loader=_YamlLoader)
        except yaml.YAMLError as exc:
            raise ConfigError(f"override {item!r}: the value is not YAML ({exc})") from None
        _put(out, parts, value, item)
    return out


def merge(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``patch`` laid over it, mappings merged key by key."""
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def to_plain(obj: Any) -> Any:
    """Plain data of a tree or container: dicts, lists and scalars (YAML- and JSON-ready)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(key): to_plain(value) for key, value in obj.items()}
    if isinstance(obj, Sequence) and not isinstance(obj, str | bytes):
        return [to_plain(value) for value in obj]
    return obj


def to_yaml(tree: Any) -> str:
    """A tree as YAML text, its fields in order; loads back through :func:`load_section`."""
    return yaml.safe_dump(to_plain(tree), sort_keys=False)


def did_you_mean(key: str, valid: Sequence[str], prefix: str = "") -> str:
    """``"; did you mean 'a.b' or 'a.c'?"`` for the names of ``valid`` closest to ``key``."""
    close = difflib.get_close_matches(key, list(valid), n=3, cutoff=0.6)
    if not close:
        return ""
    return "; did you mean " + " or ".join(repr(prefix + c) for c in close) + "?"


# --------------------------------------------------------------------- building


def build(cls: type[T], values: Any, prefix: str = "") -> T:
    """``cls`` from a nested mapping of its fields: strict keys, checked types.

    Keys missing from ``values`` keep ``cls``'s defaults; ``prefix`` (``"env."``) goes in
    front of the keys that errors name.
    """
    if not isinstance(values, Mapping):
        where = prefix.rstrip(".") or cls.__name__
        raise ConfigError(f"{where}: expected a mapping of keys, got {values!r}")
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        key = str(key)
        if key not in hints:
            raise ConfigError(
                f"unknown config key {prefix + key!r}{did_you_mean(key, list(hints), prefix)}"
            )
        kwargs[key] = _check(hints[key], value, prefix + key)
    return cls(**kwargs)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _check(hint: Any, value: Any, key: str) -> Any:
    """``value`` checked against the annotation ``hint`` (lists become tuples)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        (inner,) = [o for o in options if o is not type(None)]
        return _check(inner, value, key)
    if dataclasses.is_dataclass(hint):
        return value if isinstance(value, hint) else build(hint, value, key + ".")
    if origin is tuple:
        (item, _ellipsis) = typing.get_args(hint)
        if isinstance(value, str) or not isinstance(value, Sequence):
            raise ConfigError(f"{key}: expected a list of {item.__name__}, got {value!r}")
        return tuple(_check(item, v, f"{key}[{i}]") for i, v in enumerate(value))
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r} (quote it)")
        return value
    raise AssertionError(f"unsupported config annotation {hint!r} for {key}")


# --------------------------------------------------------------------- the original's keys


def other_names() -> list[str]:
    """What a run's configuration accepts besides its own keys: ``Section.<key>`` for
    the original's sections, and the top-level keys that set something (``seed``...)."""
    sections = [f"{name}.<key>" for name in (*_SECTION_ALIASES, *_ORIGINAL_SECTIONS)]
    keys = [k for k, v in ORIGINAL_KEYS.items() if "." not in k and v and k not in _SECTION_ALIASES]
    return sections + keys


def is_run_tree(values: Mapping[str, Any]) -> bool:
    """Whether a mapping is a whole run's configuration: one of its top-level keys is a
    section or value of ours (``env``, ``backend``...) or the original's (``AssettoCorsa``,
    ``Agent``...)."""
    names = (*_RUN_TOP_LEVEL, *_ORIGINAL_SECTIONS, *_SECTION_ALIASES)
    return any(str(key) in names for key in values)


def translate(tree: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A run's configuration with the original's keys and the shortcuts translated into
    ours (:data:`ORIGINAL_KEYS`); our own sections pass as they are.

    Raises:
        ConfigError: An unknown top-level key or key of the original's sections, a section
            that is not a mapping, a key of :data:`MOVED_KEYS`.
    """
    out: dict[str, Any] = {}
    for key, value in tree.items():
        key = str(key)
        if key in RUN_VALUES:
            out[key] = value
        elif key in RUN_SECTIONS or key in _SECTION_ALIASES:
            target = _SECTION_ALIASES.get(key, key)
            out[target] = merge(out.get(target, {}), _section(value, key, where))
        elif key in _ORIGINAL_SECTIONS:
            for name, item in _section(value, key, where).items():
                _put_original(out, f"{key}.{name}", item, where)
        elif key in ORIGINAL_KEYS:
            _put_original(out, key, value, where)
        else:
            valid = [*_RUN_TOP_LEVEL, *_ORIGINAL_SECTIONS]
            valid += [k for k in ORIGINAL_KEYS if "." not in k]
            raise ConfigError(f"{where}: unknown config key {key!r}{did_you_mean(key, valid)}")
    for old, new in MOVED_KEYS.items():
        if _has(out, old.split(".")):
            raise ConfigError(f"{where}: {old} is gone; use {new}")
    train = out.get("train")
    if isinstance(train, dict) and isinstance(train.get("wandb"), bool):
        train["wandb"] = "on" if train["wandb"] else "off"  # YAML 1.1 reads on / off as bools
    return out


def _scope(values: Mapping[str, Any], where: str, section: str | None) -> dict[str, Any]:
    """A source's values as ``section``'s own keys (or the whole run's, translated)."""
    if section is None:
        return translate(values, where)
    if is_run_tree(values):
        return translate(values, where).get(section, {})
    return dict(values)


def _scope_overrides(values: Mapping[str, Any], section: str | None) -> dict[str, Any]:
    """Overrides as ``section``'s own keys: the original's name of the section is lifted
    (``AssettoCorsa.track`` -> ``track`` for ``env``)."""
    if section is None:
        return translate(values, "overrides")
    out: dict[str, Any] = {}
    for key, value in values.items():
        if _SECTION_ALIASES.get(key) == section:
            out = merge(out, _section(value, key, "overrides"))
        else:
            out = merge(out, {key: value})
    return out


def _section(value: Any, key: str, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: section {key!r} must be a mapping of keys, got {value!r}")
    return dict(value)


def _put_original(out: dict[str, Any], key: str, value: Any, where: str) -> None:
    if key not in ORIGINAL_KEYS:
        section, _, name = key.rpartition(".")
        valid = [k.rpartition(".")[2] for k in ORIGINAL_KEYS if k.startswith(section + ".")]
        raise ConfigError(
            f"{where}: unknown config key {key!r}{did_you_mean(name, valid, section + '.')}"
        )
    target = ORIGINAL_KEYS[key]
    if target is None:
        logger.debug("%s: the original's key %r has no effect here", where, key)
        return
    value = _original_value(key, value)
    if value is not _SKIP:
        _put(out, target.split("."), value, key)


def _original_value(key: str, value: Any) -> Any:
    """The original's values that mean something else here."""
    if key == "Agent.update_interval":  # one update every `update_interval` steps
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{key}: expected an integer >= 1, got {value!r}")
        return 1.0 / value
    if key == "disable_wandb":
        return "off" if value else _SKIP
    if key == "work_dir" and value is None:
        return _SKIP
    return value


def _put(out: dict[str, Any], parts: Sequence[str], value: Any, item: str) -> None:
    node = out
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{item!r}: {part!r} is a value, not a section")
    node[parts[-1]] = value


def _has(tree: Mapping[str, Any], parts: Sequence[str]) -> bool:
    node: Any = tree
    for part in parts:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


class _YamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader, reading ``1e-4`` (no dot) as a number too (YAML 1.2)."""


_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


__all__ = [
    "MOVED_KEYS",
    "ORIGINAL_KEYS",
    "RUN_SECTIONS",
    "RUN_VALUES",
    "build",
    "did_you_mean",
    "is_run_tree",
    "load_section",
    "merge",
    "other_names",
    "parse_overrides",
    "read_yaml",
    "to_plain",
    "to_yaml",
    "translate",
]
