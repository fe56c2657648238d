"""The one configuration tree of a run: environment, agent, training, simulator, remote.

:class:`Config` is a tree of frozen dataclasses with a docstring per field.
:func:`load_config` builds it from YAML and ``key=value`` overrides (``acgym train
train.total_steps=50000 env.track=monza``) through the one loader,
:func:`acgym.config_loader.load_section` (OmegaConf: ``structured`` + ``merge`` +
``to_object``): unknown keys raise :class:`~acgym.errors.ConfigError` naming the key and
the closest valid ones, OmegaConf checks and converts the values' types, and every
dataclass's own checks run.

The original assetto_corsa_gym ``config.yml`` loads unchanged: its sections and keys are
translated by the loader's one table, :data:`acgym.config_loader.ORIGINAL_KEYS`:

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
import inspect
import json
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from acgym.config_loader import is_original_file, load_section, other_names, to_plain, to_yaml
from acgym.env.config import ActionConfig, EnvConfig, RewardConfig, StartConfig
from acgym.errors import ConfigError
from acgym.fileio import write_text_atomic
from acgym.rl.config import AgentConfig, TrainerConfig

CONFIG_FILE = "config.yaml"
"""Name of the resolved configuration saved in every run folder."""

BACKENDS = ("sim", "ac", "remote")
"""``sim``: ``acgym/Race-v0`` (the simulator in process); ``ac``: Assetto Corsa through its
plugin (``acgym/AssettoCorsa-v0`` in real time); ``remote``: ``acgym/AssettoCorsa-v0``
with the ``remote`` section's mode (the game, or ``acgym sim serve``)."""

WANDB_MODES = ("off", "on", "offline")


DEFAULT_EVAL_INTERVAL = 50_000
"""Environment steps between periodic evaluations of a simulator run by default
(``train.eval_interval``): 20 in the default run, a few per cent of its time."""

RECIPES = ("progress", "original")
"""The defaults a run starts from (``recipe``): ``progress`` (acgym's, for real circuits:
GT Sophy's progress reward, starts spread over the lap on the car's speed profile, the
learner of docs/results.md) or ``original`` (the original's reward, every episode from
the start line at rest, its n-step, for the paper's comparisons). Keys given in a file or
on the command line apply over either."""


def _default_env() -> EnvConfig:
    from acgym.track.builtin import DEFAULT_TRAINING_TRACK

    # Measured in docs/results.md ("Real circuits"): without starts spread over the lap
    # a car never meets a corner it has not crashed at, and never learns to brake; with
    # relative pedals it does not learn to brake either (a released pedal stays released
    # under the policy's noise), so the pedals are absolute and only the steering is
    # rate-limited; and with half the starts placed before where recent episodes ended,
    # the corners that end them (La Caixa, turn 5) are met often enough to be learned:
    # the first clean lap of Catalunya where uniform starts gave none in 27 minutes.
    return EnvConfig(
        track=DEFAULT_TRAINING_TRACK,
        actions=ActionConfig(relative_pedals=False),
        reward=RewardConfig(kind="progress"),
        start=StartConfig(
            random=True,
            max_lateral_offset_m=1.0,
            max_heading_offset_rad=0.05,
            min_profile_speed_fraction=0.5,
            max_profile_speed_fraction=0.9,
            failure_fraction=0.5,
        ),
    )


def _default_agent() -> AgentConfig:
    # Departures from AgentConfig's (the original's) values, measured in
    # docs/results.md: two PyTorch threads (the learner's updates use both cores of a
    # 2-core machine while the simulator waits: the first clean lap 25 % sooner in wall
    # time than with one; on a machine busy with other jobs one thread can be faster,
    # agent.num_threads=1), and an initial temperature of 0.1 instead of 1 (with 1 the
    # entropy bonus dwarfs the speed reward of a car crawling off the line, and the first
    # 20k steps are spent standing still); 10-step returns carry the cost of a crash back
    # to where braking would have avoided it.
    return AgentConfig(num_threads=2, init_alpha=0.1, n_step=10)


def recipe_defaults(recipe: str) -> Config:
    """The configuration a recipe starts from (:data:`RECIPES`).

    Raises:
        ConfigError: An unknown recipe.
    """
    from acgym.track.builtin import DEFAULT_TRAINING_TRACK

    if recipe == "progress":
        return Config()
    if recipe == "original":
        return Config(
            recipe="original",
            env=EnvConfig(track=DEFAULT_TRAINING_TRACK),
            agent=AgentConfig(num_threads=2, init_alpha=0.1),
        )
    raise ConfigError(f"recipe must be one of {RECIPES}, got {recipe!r}")


@dataclass(frozen=True)
class TrainingConfig(TrainerConfig):
    """The training run: the loop's settings (inherited) plus collection, files, logging,
    offline data and the final evaluation.

    Defaults are chosen for the built-in simulator on a laptop: the default run reaches a
    clean lap of the default track and ends by itself (docs/results.md).
    """

    total_steps: int = 1_000_000
    """Environment steps to train for, all cars counted (original: ``Agent.num_steps``):
    the default circuit's first clean lap comes after 0.3-0.5 million (docs/results.md)."""
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
    eval_interval: int | None = None  # type: ignore[assignment]
    """Environment steps between evaluations of the deterministic policy (TensorBoard
    ``eval/``); the best one is kept as ``checkpoints/best`` and evaluated at the end
    beside the final one. None: every :data:`DEFAULT_EVAL_INTERVAL` steps on the
    simulator, never with a remote backend (it needs a second env); 0 = never."""
    eval_at_end: bool = True
    """Run ``acgym eval`` on the final policy when training ends (report, PNG)."""
    final_eval_episodes: int = 1
    """Episodes of the final evaluation."""
    workers: int = 1
    """Rollout workers. 1: this process collects and learns (the single-process loop).
    N >= 2: N workers as Ray actors (``pip install 'acgym[ray]'``; docs/distributed.md),
    each driving ``train.num_envs`` simulated cars or one remote car of ``remote.hosts``,
    while this process learns; on a local Ray unless ``train.ray_address`` is set."""
    ray_address: str | None = None
    """The Ray cluster of the workers (what ``ray start --head`` prints, e.g.
    ``192.168.0.10:6379``, or ``auto``); None: a Ray of this machine alone when
    ``train.workers`` >= 2; ``local``: that, even with one worker. Set, the run uses Ray
    even with one worker."""
    weight_sync_updates: int = 100
    """Distributed: gradient updates between two broadcasts of the policy's weights to
    the workers (a worker acts with the newest it has; the staleness is logged)."""
    send_steps: int = 128
    """Distributed: a worker sends each car's steps in segments of at most this many
    transitions (an episode's end closes one sooner); a segment closed inside an episode
    ends as a truncation, its last transitions bootstrapping, and the next goes on from
    the same state. Smaller: fresher data and more messages."""
    worker_restarts: int = 5
    """Distributed: times one worker is replaced after its process died or it failed,
    before the run goes on without it."""

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
        if self.eval_interval is not None and self.eval_interval < 0:
            raise ConfigError(
                f"train.eval_interval must be >= 0 or null (the default), got {self.eval_interval}"
            )
        if self.final_eval_episodes < 1:
            raise ConfigError(
                f"train.final_eval_episodes must be >= 1, got {self.final_eval_episodes}"
            )
        if self.workers < 1:
            raise ConfigError(f"train.workers must be >= 1, got {self.workers}")
        for name in ("weight_sync_updates", "send_steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        if self.worker_restarts < 0:
            raise ConfigError(f"train.worker_restarts must be >= 0, got {self.worker_restarts}")

    def trainer_config(self, **changes: Any) -> TrainerConfig:
        """The loop's part, for :class:`acgym.rl.trainer.Trainer` (with ``changes``; an
        ``eval_interval`` of None becomes 0: :attr:`Config.eval_interval` resolves it)."""
        names = {f.name for f in dataclasses.fields(TrainerConfig)}
        values = {n: getattr(self, n) for n in names}
        values["eval_interval"] = values["eval_interval"] or 0
        return TrainerConfig(**{**values, **changes})


@dataclass(frozen=True)
class SimulatorConfig:
    """The built-in simulator (``backend=sim``). The track, the car and the control rate
    are the environment's: ``env.track``, ``env.car``, ``env.ego_sampling_freq``; where
    episodes start is ``env.start`` (training, recording and evaluation alike)."""

    physics_hz: float = 200.0
    """Integration rate, Hz; a whole multiple of the control rate."""
    auto_shift: bool = True
    """Automatic gear shifting."""


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
    hosts: tuple[str, ...] = ()
    """Distributed runs: the game PCs (or ``acgym sim serve`` servers), one worker each
    (``train.workers`` = their number): ``HOST``, ``HOST:EGO_PORT`` or
    ``HOST:EGO_PORT:MGMT_PORT``; absent ports are ``env.ego_server_port`` and
    ``env.simulation_management_server_port``. Empty: ``env.remote_machine_ip``."""
    reconnect_interval_s: float = 5.0
    """Distributed runs: a worker whose game or server stopped answering tries to
    connect again this often, s, until it answers."""

    def __post_init__(self) -> None:
        if self.mode not in ("realtime", "lockstep"):
            raise ConfigError(f"remote.mode must be 'realtime' or 'lockstep', got {self.mode!r}")
        for entry in self.hosts:
            parse_host(entry, 1, 1)
        if not self.reconnect_interval_s > 0:
            raise ConfigError(
                f"remote.reconnect_interval_s must be > 0, got {self.reconnect_interval_s}"
            )


@dataclass(frozen=True)
class Config:
    """Everything a run needs; saved as ``config.yaml`` in the run folder."""

    backend: str = "sim"
    """``sim`` (``acgym/Race-v0``, the simulator in process), ``ac`` (the game through its
    plugin, real time) or ``remote`` (``acgym/AssettoCorsa-v0`` with ``remote.mode``: the
    game, or ``acgym sim serve``)."""
    recipe: str = "progress"
    """The defaults the run starts from: ``progress`` (real circuits: progress reward,
    starts spread over the lap) or ``original`` (the original's reward and starts from the
    line at rest, its n-step: the paper's setting); see ``acgym.config.RECIPES``."""
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
        if self.recipe not in RECIPES:
            raise ConfigError(f"recipe must be one of {RECIPES}, got {self.recipe!r}")

    @property
    def distributed(self) -> bool:
        """Whether the run has Ray workers (``train.workers`` >= 2, or a
        ``train.ray_address``, or ``remote.hosts``): ``acgym.dist``'s to run."""
        train = self.train
        return train.workers > 1 or train.ray_address is not None or bool(self.remote.hosts)

    @property
    def eval_interval(self) -> int:
        """Environment steps between periodic evaluations: ``train.eval_interval``, or
        when that is None :data:`DEFAULT_EVAL_INTERVAL` on the simulator and 0 (never)
        with a remote backend."""
        if self.train.eval_interval is not None:
            return self.train.eval_interval
        return DEFAULT_EVAL_INTERVAL if self.backend == "sim" else 0

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
        return to_plain(self)

    def to_yaml(self) -> str:
        """The resolved configuration as YAML."""
        return to_yaml(self)

    def save(self, path: Path | str) -> Path:
        """Write :meth:`to_yaml` atomically; returns the path."""
        path = Path(path)
        write_text_atomic(path, self.to_yaml())
        return path


def parse_host(entry: str, ego_port: int, mgmt_port: int) -> tuple[str, int, int]:
    """``HOST[:EGO_PORT[:MGMT_PORT]]`` of ``remote.hosts`` as ``(host, ego_port,
    mgmt_port)``, the absent ports taken from the arguments.

    Raises:
        ConfigError: An empty host, or a port that is not a number in 1..65535.
    """
    host, *ports = str(entry).split(":")
    if not host or len(ports) > 2:
        raise ConfigError(
            f"remote.hosts: {entry!r} is not HOST, HOST:EGO_PORT or HOST:EGO_PORT:MGMT_PORT"
        )
    values = [ego_port, mgmt_port]
    for i, text in enumerate(ports):
        if not text.isdigit() or not 1 <= int(text) <= 65535:
            raise ConfigError(f"remote.hosts: {entry!r}: port {text!r} is not in 1..65535")
        values[i] = int(text)
    return host, values[0], values[1]


def load_config(
    path: Path | str | None = None,
    overrides: Sequence[str] = (),
    *,
    base: Config | None = None,
) -> Config:
    """Build a :class:`Config`: the defaults of the recipe the file or the overrides name
    (``recipe``, :func:`recipe_defaults`; ``original`` for the original's ``config.yml``,
    which names none) or ``base``, then the YAML file, then overrides.

    Args:
        path: A YAML file (ours, or the original's ``config.yml``); None = none.
        overrides: ``key=value`` items (YAML values, dotted keys, original names too).
        base: A config to start from instead of the defaults (resume).

    Raises:
        ConfigError: An unknown key (with the closest valid ones), a value of the wrong
            type or out of range, an unreadable file.
    """
    config = load_section(Config, path, overrides, base=base)
    if base is None:
        # The recipe named in the file or the items picks the defaults they apply over;
        # the original's config.yml names none and means the original's setting.
        named = config.recipe != Config.recipe or any(
            item.partition("=")[0].strip() == "recipe" for item in overrides
        )
        original = not named and path is not None and is_original_file(path)
        recipe = "original" if original else config.recipe
        if recipe != Config.recipe:
            config = load_section(Config, path, overrides, base=recipe_defaults(recipe))
    return config


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


def documented_keys(
    cls: type = Config, prefix: str = "", instance: Any = None
) -> list[tuple[str, Any, str]]:
    """Every leaf key of the tree under ``cls``: ``(dotted key, default, docstring)``; the
    defaults are ``instance``'s (default ``cls()``, whose sections may set their own)."""
    rows: list[tuple[str, Any, str]] = []
    docs = field_docstrings(cls)
    instance = cls() if instance is None else instance
    for f in dataclasses.fields(cls):
        value = getattr(instance, f.name)
        key = prefix + f.name
        if dataclasses.is_dataclass(value):
            rows.extend(documented_keys(type(value), key + ".", value))
        else:
            rows.append((key, to_plain(value), docs.get(f.name, "")))
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
    lines += ["", f"Also accepted (the original's names, shortcuts): {', '.join(other_names())}."]
    return "\n".join(lines)


__all__ = [
    "BACKENDS",
    "CONFIG_FILE",
    "RECIPES",
    "Config",
    "RemoteConfig",
    "SimulatorConfig",
    "TrainingConfig",
    "config_help",
    "documented_keys",
    "field_docstrings",
    "load_config",
    "parse_host",
    "recipe_defaults",
]
