"""The one configuration loader: YAML files, mappings and ``key=value`` overrides into
the typed trees of acgym (frozen dataclasses with a docstring per field), through OmegaConf.

:func:`load_section` builds a tree from its defaults (or a ``base``), then a source (a
YAML file or a mapping), then overrides (``train.total_steps=50000``), the way OmegaConf
does it: ``OmegaConf.structured`` of the tree is the schema, the source and each override
are merged over it (``OmegaConf.merge``), ``OmegaConf.to_object`` builds the dataclasses,
whose ``__post_init__`` checks the ranges. So:

* keys are strict: an unknown key raises :class:`~acgym.errors.ConfigError` naming it
  and the closest valid ones;
* values are OmegaConf's to check and convert against the field's annotation: ``"abc"``
  or ``3.5`` for an int, a list for a scalar, a scalar for a section are refused;
  ``"yes"`` / ``"true"`` / ``1`` are ``true``, ``"5"`` is 5 for an int, a number is its
  text for a string, lists become tuples;
* files and override values are read as OmegaConf reads YAML (``true``, ``null``,
  ``[speed, gap]``; ``1e-4`` is a number; a key twice in a file is refused;
  ``${env.track}`` is an interpolation);
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
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException

from acgym.errors import ConfigError

logger = logging.getLogger(__name__)

T = TypeVar("T")

RUN_SECTIONS = ("env", "agent", "train", "sim", "remote")
"""The sections of a run's configuration (``acgym.config.Config``); ``backend`` and
``recipe`` are its only top-level values."""

RUN_VALUES = ("backend", "recipe")
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
        overrides: ``key=value`` items (YAML values, dotted keys), applied in order. With
            ``section`` set the keys are ``cls``'s own, or behind the original's section
            name (``AssettoCorsa.track=monza`` for ``env``).
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
    schema = _schema(cls) if base is None else OmegaConf.structured(base)
    layers: list[Any] = []
    try:
        if source is not None:
            values, where = _source_values(source, cls)
            layers.append(_scope(values, where, section))
        layers.extend(_override_layer(item, section) for item in overrides)
        return cast(T, OmegaConf.to_object(OmegaConf.merge(schema, *layers)))
    except OmegaConfBaseException as exc:  # a ConfigError of a __post_init__ passes as is
        raise _config_error(exc, schema, layers) from None


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
    """A tree as YAML text, its fields in order; loads back through :func:`load_section`
    (OmegaConf's writer quotes the strings its reader would take for numbers, ``'1e5'``)."""
    return OmegaConf.to_yaml(OmegaConf.create(to_plain(tree)))


def did_you_mean(key: str, valid: Sequence[str], prefix: str = "") -> str:
    """``"; did you mean 'a.b' or 'a.c'?"`` for the names of ``valid`` closest to ``key``."""
    close = difflib.get_close_matches(key, list(valid), n=3, cutoff=0.6)
    if not close:
        return ""
    return "; did you mean " + " or ".join(repr(prefix + c) for c in close) + "?"


@functools.cache
def _schema(cls: type) -> DictConfig:
    """``OmegaConf.structured(cls)``, made once per tree (read-only; merges copy it)."""
    return OmegaConf.structured(cls)


def _source_values(source: Any, cls: type) -> tuple[dict[str, Any], str]:
    """A source's top-level mapping, plain, and what to call it in errors."""
    if isinstance(source, str | Path):
        try:
            values = OmegaConf.load(source)
        except (OSError, yaml.YAMLError, OmegaConfBaseException) as exc:
            raise ConfigError(f"{source}: cannot read the configuration ({exc})") from exc
        if not isinstance(values, DictConfig):
            raise ConfigError(f"{source}: expected a mapping of keys, got a list")
        return cast(dict[str, Any], OmegaConf.to_container(values)), str(source)
    if OmegaConf.is_config(source):
        return cast(dict[str, Any], OmegaConf.to_container(source)), "config"
    if isinstance(source, Mapping):
        return dict(source), "config"
    raise ConfigError(
        f"config: expected an instance of {cls.__name__}, a mapping or a YAML path, "
        f"got {type(source).__name__}"
    )


def _override_layer(item: str, section: str | None) -> Any:
    """One ``key=value`` item (OmegaConf's dot-list) as a layer of ``section``'s keys (or
    of the whole run's, translated)."""
    key, equals, _ = str(item).partition("=")
    if not equals or not all(key.split(".")):
        raise ConfigError(f"override {item!r}: expected key=value (e.g. train.total_steps=1000)")
    try:
        values = cast(dict[str, Any], OmegaConf.to_container(OmegaConf.from_dotlist([item])))
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {item!r}: the value is not YAML ({exc})") from None
    if section is None:
        return translate(values, "overrides")
    ((name, value),) = values.items()
    if _SECTION_ALIASES.get(name) == section:  # AssettoCorsa.track -> track for env
        return _section(value, name, "overrides")
    return values


def _config_error(
    exc: OmegaConfBaseException, schema: DictConfig, layers: list[Any]
) -> ConfigError:
    """A ConfigError from an OmegaConf error: the full dotted key, and for an unknown key
    the closest valid ones."""
    key, value = exc.full_key, None
    if not key:  # a merge error: OmegaConf names neither the key nor the value
        key, value = _refused(schema, layers)
    if isinstance(exc, ConfigKeyError) and key:
        parents, _, leaf = key.rpartition(".")
        tree = exc.object_type if dataclasses.is_dataclass(exc.object_type) else None
        names = [f.name for f in dataclasses.fields(tree)] if tree else []
        prefix = parents + "." if parents else ""
        return ConfigError(f"unknown config key {key!r}{did_you_mean(leaf, names, prefix)}")
    message = str(exc).splitlines()[0]
    # OmegaConf leaves the message about a list's item unformatted.
    message = message.replace("Value '$VALUE' of type '$VALUE_TYPE' ", f"an item of {value!r} ")
    return ConfigError(f"{key}: {message}" if key else message)


def _refused(schema: DictConfig, layers: list[Any]) -> tuple[str, Any]:
    """The key and value that OmegaConf refused without naming them (a scalar where a
    section is, a list's item): each value merged alone, the first refused one."""
    for layer in layers:
        plain = OmegaConf.to_container(layer) if OmegaConf.is_config(layer) else layer
        for path, value in _leaves(plain):
            nested = value
            for part in reversed(path):
                nested = {part: nested}
            try:
                OmegaConf.merge(schema, nested)
            except OmegaConfBaseException as exc:
                return exc.full_key or ".".join(path), value
    return "", None


def _leaves(
    tree: Mapping[str, Any], path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Any]]:
    for key, value in tree.items():
        if isinstance(value, Mapping) and value:
            yield from _leaves(value, (*path, str(key)))
        else:
            yield (*path, str(key)), value


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


def is_original_file(path: Path | str) -> bool:
    """Whether a YAML file is the original's ``config.yml``: a top-level section of the
    original's (``AssettoCorsa``, ``Agent``, ``SAC``...) and none of ours."""
    values, _ = _source_values(path, dict)
    original = (*_ORIGINAL_SECTIONS, *_SECTION_ALIASES)
    keys = [str(key) for key in values]
    return any(k in original for k in keys) and not any(k in _RUN_TOP_LEVEL for k in keys)


def translate(tree: Mapping[str, Any], where: str) -> DictConfig:
    """A run's configuration with the original's keys and the shortcuts translated into
    ours (:data:`ORIGINAL_KEYS`); our own sections pass as they are. A later key wins.

    Raises:
        ConfigError: An unknown top-level key or key of the original's sections, a section
            that is not a mapping, a key of :data:`MOVED_KEYS`.
    """
    out = OmegaConf.create()
    for key, value in tree.items():
        key = str(key)
        if key in RUN_VALUES:
            OmegaConf.update(out, key, value)
        elif key in RUN_SECTIONS or key in _SECTION_ALIASES:
            target = _SECTION_ALIASES.get(key, key)
            OmegaConf.update(out, target, _section(value, key, where), merge=True)
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
        if _select(out, old) is not _SKIP:
            raise ConfigError(f"{where}: {old} is gone; use {new}")
    wandb = _select(out, "train.wandb")
    if isinstance(wandb, bool):  # YAML 1.1 reads on / off as bools
        OmegaConf.update(out, "train.wandb", "on" if wandb else "off")
    return out


def _scope(values: dict[str, Any], where: str, section: str | None) -> Any:
    """A source's values as ``section``'s own keys (or the whole run's, translated)."""
    if section is None:
        return translate(values, where)
    if is_run_tree(values):
        return translate(values, where).get(section, {})
    return values


def _section(value: Any, key: str, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: section {key!r} must be a mapping of keys, got {value!r}")
    return dict(value)


def _put_original(out: DictConfig, key: str, value: Any, where: str) -> None:
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
        OmegaConf.update(out, target, value)


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


def _select(tree: DictConfig, key: str) -> Any:
    """The value at a dotted key (None for an interpolation that does not resolve);
    ``_SKIP`` where there is none."""
    return OmegaConf.select(tree, key, default=_SKIP, throw_on_resolution_failure=False)


__all__ = [
    "MOVED_KEYS",
    "ORIGINAL_KEYS",
    "RUN_SECTIONS",
    "RUN_VALUES",
    "did_you_mean",
    "is_run_tree",
    "load_section",
    "other_names",
    "to_plain",
    "to_yaml",
    "translate",
]
