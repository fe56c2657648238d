"""``EnvConfig``: the environment's options, one typed tree with strict keys.

Every option of the original ``AssettoCorsa:`` config section is accepted under its
original name with its original default, so an existing ``config.yml`` loads unchanged.
Options that only concern the game plugin or its client (ports, vJoy, screen capture) are
accepted, documented and handed to the Remote backend; the environment itself ignores
them. The original's hard-coded constants (ray count, look-ahead, low-speed timeout,
pedal rate, task list) live in the nested sections with the original values.

Load with :func:`load_env_config` (a YAML file or a mapping, then ``key=value``
overrides such as ``observation.num_rays=5``): the one loader of every configuration
(:func:`acgym.config_loader.load_section`, built on OmegaConf), so the env reads a file
as ``acgym train`` does: unknown keys and values that OmegaConf cannot take for the
field's type raise :class:`acgym.errors.ConfigError`, and an original ``config.yml``
gives its ``AssettoCorsa`` section.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acgym.config_loader import load_section, to_plain, to_yaml
from acgym.env.derived import GAP
from acgym.errors import ConfigError
from acgym.protocol import channels as ch

SECTION = "env"
"""The environment's section in a run's configuration (the original's ``AssettoCorsa``)."""

DEFAULT_OBS_CHANNELS = (
    ch.SPEED,
    GAP,
    ch.LAST_FF,
    ch.RPM,
    ch.ACCEL_X,
    ch.ACCEL_Y,
    ch.ACTUAL_GEAR,
    ch.ANGULAR_VELOCITY_Y,
    ch.LOCAL_VELOCITY_X,
    ch.LOCAL_VELOCITY_Y,
    *ch.SLIP_ANGLE,
)
"""The original's ``obs_enabled_channels``: the basic observation, in this order."""

DEFAULT_EXTRA_CHANNELS = (
    ch.LOCAL_VELOCITY_X,
    ch.LOCAL_VELOCITY_Y,
    ch.ANGULAR_VELOCITY_Y,
    ch.STEER_ANGLE,
    ch.ACC_STATUS,
    ch.BRAKE_STATUS,
    ch.WORLD_POSITION_X,
    ch.WORLD_POSITION_Y,
    ch.YAW,
)
"""The original's ``obs_extra_enabled_channels`` (``info["obs_extra"]``)."""

DEFAULT_TASK_TRACKS = (
    "ks_barcelona-layout_gp",
    "ks_red_bull_ring-layout_gp",
    "monza",
    "indianapolis_sp",
)
"""Tracks of the original's task one-hot, in index order."""

DEFAULT_TASK_CARS = ("dallara_f317",)
"""Cars of the original's task one-hot (task index = track index * cars + car index)."""


@dataclass(frozen=True)
class ObservationConfig:
    """The observation vector's pieces (the original's module constants)."""

    channels: tuple[str, ...] = DEFAULT_OBS_CHANNELS
    """Telemetry channels of the basic observation, in order; each is divided by its scale
    in ``acgym.env.observations.CHANNEL_SCALES``."""
    num_rays: int = 11
    """Ray-cast distances to the track borders (odd, spread over ``ray_fov_deg``)."""
    ray_fov_deg: float = 180.0
    """Angle covered by the ray fan, centred on the car's heading, degrees."""
    max_ray_range_m: float = 200.0
    """Longest ray; rays are capped there and divided by it, m."""
    curvature_num_samples: int = 12
    """Samples of the reference line's curvature ahead of the car."""
    curvature_distance_m: float = 300.0
    """How far ahead the curvature samples reach, m."""
    curvature_scale_1pm: float = 0.1
    """Curvature divisor, 1/m."""
    history_window: int = 3
    """Previous steps of applied controls and basic observations in the vector."""
    include_out_of_track: bool = True
    """Add the out-of-track flag."""
    include_curvature: bool = True
    """Add the curvature look-ahead."""
    include_previous_controls: bool = True
    """Add the applied controls of the previous ``history_window`` steps."""
    include_applied_controls: bool = True
    """Add the controls applied when the state was read."""
    target_speed_scale_mps: float = 80.0
    """Divisor of the target-speed look-ahead (``use_target_speed``), m/s."""
    extra_channels: tuple[str, ...] = DEFAULT_EXTRA_CHANNELS
    """Channels returned unscaled in ``info["obs_extra"]`` when ``use_obs_extra``."""


@dataclass(frozen=True)
class TerminationConfig:
    """Episode-end thresholds (the original's module constants)."""

    low_speed_mps: float = 1.0
    """Speed under which the car counts as stopped, m/s (TERMINAL_LIMIT_PROGRESS_SPEED)."""
    low_speed_timeout_s: float = 10.0
    """Stopped this long in a row ends the episode, s (TERMINAL_JUDGE_TIMEOUT)."""
    max_tyres_out: int = 2
    """The game's out-of-track: more than this many tyres off the track surface."""


@dataclass(frozen=True)
class ActionConfig:
    """Relative actions beyond the original's ``use_relative_actions`` and ``max_steer_rate``."""

    pedal_rate_per_s: float = 12.0
    """Largest change of the gas and brake inputs (range [-1, 1]) per second, 1/s."""
    relative_pedals: bool = True
    """With ``use_relative_actions``: the gas and brake actions are changes too (the
    original); false: they are the pedals themselves and only the steering is
    rate-limited (see :mod:`acgym.env.actions`)."""


@dataclass(frozen=True)
class TaskConfig:
    """The task one-hot (``enable_task_id_in_obs``): one task per (track, car) pair."""

    tracks: tuple[str, ...] = DEFAULT_TASK_TRACKS
    """Track names, in index order."""
    cars: tuple[str, ...] = DEFAULT_TASK_CARS
    """Car names, in index order."""


@dataclass(frozen=True)
class StartConfig:
    """Where simulator episodes start (LocalSim and the vector env; the game always starts
    at its own start): the one setting, read alike by a run's training, recording and
    evaluation envs. Reset options of the same names override these for one episode."""

    distance_m: float = 0.0
    """Start this far along the reference line, m (0: the start/finish line)."""
    lateral_offset_m: float = 0.0
    """Start this far left (+) of the reference line, m."""
    heading_offset_rad: float = 0.0
    """Heading relative to the reference line's, rad, anticlockwise +."""
    speed_mps: float = 0.0
    """Forward speed at the start, m/s."""
    random: bool = False
    """Draw every start from the episode's seeded generator (``env.reset(seed=...)``):
    distance uniform over the lap, lateral offset, heading offset and speed uniform within
    the bounds below; the four fixed values above are then unused (reset option
    ``random_start`` sets this per episode)."""
    max_lateral_offset_m: float = 0.0
    """Random starts: lateral offset uniform in [-this, this], m."""
    max_heading_offset_rad: float = 0.0
    """Random starts: heading offset uniform in [-this, this], rad."""
    max_speed_mps: float = 0.0
    """Random starts: speed uniform in [0, this], m/s (unused when
    ``max_profile_speed_fraction`` is set)."""
    min_profile_speed_fraction: float = 0.0
    """Random starts with ``max_profile_speed_fraction``: the lowest fraction of the speed
    profile's speed, 0..1."""
    max_profile_speed_fraction: float = 0.0
    """Random starts: when > 0, the speed is this far along the car's speed profile at
    the drawn place: a fraction uniform in [``min_profile_speed_fraction``, this] of the
    profile's speed there (the car's own limits on the reference line, the speed the
    expert's lap estimate drives); 0: ``max_speed_mps`` instead. Simulator only."""
    failure_fraction: float = 0.0
    """Random starts: this fraction of them (0..1) is placed up to ``failure_lead_m``
    before the place where one of the env's last ``failure_memory`` terminated episodes
    ended (left the track, or stopped), drawn uniformly from them; the rest, and all while
    none has ended yet, uniformly over the lap. The corners that end episodes are met
    that much more often (starts concentrated on failures, as a reverse curriculum).
    Simulator in process only; episodes cut by the time or lap limit do not count."""
    failure_lead_m: float = 300.0
    """Failure starts: how far before the recorded end, at most, m (uniform in [0, this])."""
    failure_memory: int = 100
    """Failure starts: how many of the latest terminated episodes' ends are remembered."""


REWARD_KINDS = ("original", "progress")
"""Rewards by name (``reward.kind``); see :mod:`acgym.env.rewards`."""


@dataclass(frozen=True)
class RewardConfig:
    """Which reward, and the weights of its terms (docs/environment.md, Rewards)."""

    kind: str = "original"
    """``original``: speed (km/h) x (1 - |gap| / ``gap_const``) / 300, the original's (its
    switches: ``use_reference_line_in_reward``, ``gap_const``, ``penalize_actions_diff``).
    ``progress``: GT Sophy's course progress (Wurman et al. 2022): the change of the
    car's distance along the reference line over the step times ``progress_per_m``,
    minus ``off_track`` at every step with the out-of-track flag set (and the
    ``penalize_actions_diff`` term when that is on)."""
    progress_per_m: float = 0.3
    """``progress``: reward per metre of progress. 0.3 at 25 Hz equals the original's
    speed reward of a car on the line: v m/s gives 0.04 v m per step, 0.012 v either way."""
    off_track: float = 0.0
    """``progress``: penalty of every step with the out-of-track flag set (>= 0). With the
    out-of-track termination on, it is paid once, at the terminal step."""


@dataclass(frozen=True)
class CameraConfig:
    """The simulated camera (``image.view = camera``, ``acgym.env.camera``): a pinhole
    camera fixed on the car. The defaults are a chase view; a driver's eye is about
    ``mount_forward_m=0.5 mount_height_m=1.0 pitch_deg=4 draw_car=false``."""

    width_px: int = 64
    """Image width, pixels."""
    height_px: int = 64
    """Image height, pixels."""
    fov_deg: float = 90.0
    """Horizontal field of view, degrees (the vertical one follows from the aspect)."""
    color: str = "gray"
    """``gray`` (one channel), ``rgb`` or ``bgr`` (three)."""
    mount_forward_m: float = -6.0
    """Camera position ahead of the car's centre of gravity, m (negative: behind it)."""
    mount_height_m: float = 3.0
    """Camera height above the ground, m."""
    pitch_deg: float = 15.0
    """Downward tilt of the camera, degrees."""
    max_distance_m: float = 150.0
    """Ground farther than this is drawn as sky; haze grows towards it, m."""
    raster_cell_m: float = 0.25
    """Cell of the track's colour raster (drawn once per track), m."""
    draw_car: bool = True
    """Draw the car's own body (a chase view sees it)."""
    car_length_m: float = 4.6
    """Length of the drawn body, m."""
    car_width_m: float = 1.9
    """Width of the drawn body, m."""


IMAGE_VIEWS = ("camera", "map")
"""``image.view``: the simulated camera, or the top-down occupancy map."""


@dataclass(frozen=True)
class ImageConfig:
    """The optional image (``observation`` becomes a Dict of "vector" and "image"): the
    simulated camera's view (``view = camera``), or the occupancy of the track surface
    around the car, forward up (``view = map``; ``size_px``, ``m_per_px``, ``behind_px``,
    ``raster_oversample``)."""

    enabled: bool = False
    """Add the image to the observation."""
    view: str = "camera"
    """``camera`` (a perspective view from the car, ``camera.*``) or ``map`` (top-down
    occupancy of the track surface)."""
    camera: CameraConfig = field(default_factory=CameraConfig)
    """The simulated camera (``view = camera``)."""
    size_px: int = 64
    """Map: side of the square image, pixels."""
    m_per_px: float = 1.5
    """Ground size of one pixel, m (64 px x 1.5 m: 84 m ahead, 12 m behind, 48 m each side)."""
    behind_px: int = 8
    """Rows below the car's centre of gravity (the view behind the car), pixels."""
    raster_oversample: int = 4
    """The track surface is rasterised once at ``m_per_px / raster_oversample`` metres per
    cell with ``Track.is_inside``; each image pixel reads the cell under its centre."""


@dataclass(frozen=True)
class EnvConfig:
    """Options of the racing environment, under the original ``AssettoCorsa:`` names."""

    ego_sampling_freq: int = 25
    """Control and telemetry rate, Hz; must equal the plugin's / simulator's."""
    max_episode_py_time: float = 600.0
    """Episode length limit, s; the step limit is this times ``ego_sampling_freq``."""
    gap_const: float = 12.0
    """Gap to the racing line at which the speed reward reaches zero, m (the original
    hard-codes 12 in the reward; this default keeps that)."""
    eval_number_of_laps: int = 4
    """``max_laps_number`` in evaluation mode (``set_eval_mode``), including the out lap."""
    save_lap_csv: bool = False
    """Accepted for compatibility; the original never reads it. No effect."""
    remote_machine_ip: str = "localhost"
    """Host of the game plugin's servers (Remote backend)."""
    ego_server_port: int = 2345
    """UDP port of the plugin's telemetry / controls stream (Remote backend)."""
    opponents_server_port: int = 2346
    """UDP port of the plugin's opponents stream (Remote backend; unused by the env)."""
    simulation_management_server_port: int = 2347
    """TCP port of the plugin's management server (Remote backend)."""
    use_relative_actions: bool = True
    """Actions are rate-limited changes of the controls (True) or the controls (False)."""
    enable_sensors: bool = True
    """Add the ray-cast distances to the observation."""
    vjoy_executed_by_server: bool = False
    """Where the original applied the controls: a vJoy driven by its plugin (True) or by
    the client's machine (False). acgym's game plugin always applies them itself through
    its control backend (docs/plugin.md): accepted for compatibility, no effect."""
    enable_out_of_track_termination: bool = True
    """End the episode (terminated) when the car leaves the track."""
    enable_low_speed_termination: bool = True
    """End the episode (terminated) when the car stays under ``low_speed_mps``."""
    recover_car_on_done: bool = False
    """Send neutral controls and a backend reset as soon as an episode ends."""
    send_reset_at_start: bool = True
    """Reset the car at every ``reset()`` (False: reconnect and start from where it is)."""
    record_controls_from_client: bool = False
    """The original's reading of the client machine's own input device into every state of
    the game (a person driving the game with a wheel): the states then carry
    ``steerAngleManual``, ``accStatusManual`` and ``brakeStatusManual``
    (``acgym.env.client_inputs``). ``acgym/AssettoCorsa-v0`` needs the device
    (``client_inputs``; ``acgym drive --backend ac`` passes its own); the simulator in
    process refuses it (there the person's controls are the applied ones)."""
    enable_out_of_track_penalty: bool = False
    """Accepted for compatibility; the original reads it but its reward never uses it.
    No effect."""
    max_laps_number: int | None = None
    """Truncate after more than this many laps (counting the out lap); None: no limit."""
    enable_task_id_in_obs: bool = False
    """Append the task one-hot (``tasks``) to the observation."""
    penalize_actions_diff: bool = False
    """Subtract ``penalize_actions_diff_coef`` times the L2 norm of the change of the
    applied controls from the reward."""
    penalize_actions_diff_coef: float = 0.1
    """Weight of the control-change penalty."""
    max_steer_rate: float = 900.0
    """Largest steering-wheel rate of relative actions, deg/s."""
    track: str = "ks_barcelona-layout_gp"
    """Track name (``TrackName-TrackConfiguration`` in the game)."""
    car: str = "dallara_f317"
    """Car name (its folder holds ``steer_map.csv`` and ``brake_map.csv``)."""
    use_ac_out_of_track: bool = True
    """Out of track from the game's tyres-out count (True) or from the track geometry."""
    add_previous_obs_to_state: bool = True
    """Append the previous ``history_window`` basic observations."""
    use_reference_line_in_reward: bool = True
    """Scale the speed reward by ``1 - |gap| / gap_const``."""
    use_target_speed: bool = False
    """Append a target-speed look-ahead (needs a track with a target speed)."""
    screen_capture_enable: bool = False
    """The original's capture of game frames: the observation becomes a Dict with the
    ``image`` of each state, ``final_image_height`` x ``final_image_width`` in
    ``color_mode``: the game's window grabbed by the capture helper (``acgym capture``;
    the plugin's ``screen_capture_enable``) on a remote car, the simulated camera
    (``image.camera``'s mount and field of view) on the simulator."""
    final_image_width: int = 320
    """Width of the captured frames, pixels."""
    final_image_height: int = 240
    """Height of the captured frames, pixels."""
    color_mode: str = "gray"
    """Colours of the captured frames: ``gray`` (one channel), ``bgr`` (the original's
    OpenCV order) or ``rgb``."""
    screen_capture_port: int = 2348
    """UDP port of the capture helper on the game's machine (``acgym capture --port``)."""
    screen_capture_transport: str = "auto"
    """How frames reach a remote env: ``shm`` (the helper's shared memory, same machine),
    ``udp`` (its compressed stream), ``auto`` (shm when the game's host is loopback)."""
    screen_capture_timeout_s: float = 0.1
    """How long a state waits for its frame, s; a state whose frame does not come is
    skipped (counted) and the next one read: a state is never given another's frame."""
    use_obs_extra: bool = False
    """Return ``observation.extra_channels`` in ``info["obs_extra"]``."""
    max_gap: float | None = None
    """End the episode (terminated) when ``|gap|`` exceeds this, m; None or 0: never
    (the original's constructor argument)."""
    save_observations: bool = True
    """Write each episode's states as Parquet when an output folder is given."""
    train_steps: int | None = None
    """The step budget of older original configs (``AssettoCorsa.train_steps``); acgym's
    is ``train.total_steps``: accepted for compatibility, no effect."""
    observation: ObservationConfig = field(default_factory=ObservationConfig)
    """The observation vector's pieces."""
    termination: TerminationConfig = field(default_factory=TerminationConfig)
    """Episode-end thresholds."""
    actions: ActionConfig = field(default_factory=ActionConfig)
    """Rate limits of relative actions."""
    tasks: TaskConfig = field(default_factory=TaskConfig)
    """The task one-hot's (track, car) pairs."""
    start: StartConfig = field(default_factory=StartConfig)
    """Where simulator episodes start."""
    reward: RewardConfig = field(default_factory=RewardConfig)
    """Which reward, and its weights."""
    image: ImageConfig = field(default_factory=ImageConfig)
    """The optional egocentric image observation."""

    def __post_init__(self) -> None:
        _check_values(self)

    # --- derived --------------------------------------------------------------------

    @property
    def control_period_s(self) -> float:
        """Time between two steps, s."""
        return 1.0 / self.ego_sampling_freq

    @property
    def max_episode_steps(self) -> int:
        """Step limit of an episode: ``max_episode_py_time * ego_sampling_freq``."""
        return round(self.max_episode_py_time * self.ego_sampling_freq)

    @property
    def low_speed_timeout_steps(self) -> int:
        """Consecutive slow steps that end an episode (``int(timeout * rate)``)."""
        return int(self.termination.low_speed_timeout_s * self.ego_sampling_freq)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (lists for tuples), loadable by :func:`load_env_config`."""
        return to_plain(self)

    def to_yaml(self) -> str:
        """The resolved config as YAML text."""
        return to_yaml(self)


def load_env_config(
    source: Path | str | Mapping[str, Any] | None = None,
    overrides: Sequence[str] = (),
    *,
    base: EnvConfig | None = None,
) -> EnvConfig:
    """The environment's options: defaults (or ``base``), then ``source``, then overrides.

    Args:
        source: A YAML file or a mapping: the environment's own keys (as
            :meth:`EnvConfig.to_yaml` writes them), or a whole run's configuration, ours
            (its ``env`` section is read) or the original's ``config.yml`` (its
            ``AssettoCorsa`` section), read exactly as ``acgym train`` reads it.
        overrides: ``key=value`` items of the environment's keys (``start.random=true``);
            the original's ``AssettoCorsa.`` in front is accepted.
        base: Options to start from instead of the defaults.

    Raises:
        ConfigError: An unknown key (with the closest valid ones), a value of the wrong
            type or out of range, an unreadable file.
    """
    return load_section(EnvConfig, source, overrides, base=base, section=SECTION)


def _check_values(config: EnvConfig) -> None:
    """Range checks that a type cannot express."""

    def positive(name: str, value: float) -> None:
        if not (math.isfinite(value) and value > 0):
            raise ConfigError(f"{name}: expected a positive number, got {value}")

    positive("ego_sampling_freq", config.ego_sampling_freq)
    positive("max_episode_py_time", config.max_episode_py_time)
    positive("gap_const", config.gap_const)
    positive("max_steer_rate", config.max_steer_rate)
    positive("actions.pedal_rate_per_s", config.actions.pedal_rate_per_s)
    positive("observation.max_ray_range_m", config.observation.max_ray_range_m)
    positive("observation.curvature_distance_m", config.observation.curvature_distance_m)
    positive("observation.curvature_scale_1pm", config.observation.curvature_scale_1pm)
    positive("observation.target_speed_scale_mps", config.observation.target_speed_scale_mps)
    positive("termination.low_speed_timeout_s", config.termination.low_speed_timeout_s)
    obs = config.observation
    if obs.num_rays < 1 or obs.num_rays % 2 == 0:
        raise ConfigError(f"observation.num_rays: expected an odd count >= 1, got {obs.num_rays}")
    if not 0.0 < obs.ray_fov_deg <= 360.0:
        raise ConfigError(f"observation.ray_fov_deg: expected (0, 360], got {obs.ray_fov_deg}")
    if obs.curvature_num_samples < 1:
        raise ConfigError(
            f"observation.curvature_num_samples: expected >= 1, got {obs.curvature_num_samples}"
        )
    if obs.history_window < 1:
        raise ConfigError(f"observation.history_window: expected >= 1, got {obs.history_window}")
    if config.max_gap is not None and config.max_gap < 0:
        raise ConfigError(f"max_gap: expected None or >= 0 m, got {config.max_gap}")
    if config.max_laps_number is not None and config.max_laps_number < 0:
        raise ConfigError(f"max_laps_number: expected None or >= 0, got {config.max_laps_number}")
    if config.color_mode not in ("gray", "bgr", "rgb"):
        raise ConfigError(f"color_mode: expected 'gray', 'bgr' or 'rgb', got {config.color_mode!r}")
    for name in ("final_image_width", "final_image_height"):
        if not 8 <= getattr(config, name) <= 2048:
            raise ConfigError(f"{name}: expected 8 to 2048 pixels, got {getattr(config, name)}")
    if config.screen_capture_transport not in ("auto", "shm", "udp"):
        raise ConfigError(
            "screen_capture_transport: expected 'auto', 'shm' or 'udp', got "
            f"{config.screen_capture_transport!r}"
        )
    if not 0 <= config.screen_capture_port <= 65535:
        raise ConfigError(
            f"screen_capture_port: expected 0 to 65535, got {config.screen_capture_port}"
        )
    positive("screen_capture_timeout_s", config.screen_capture_timeout_s)
    start = config.start
    for name in ("max_lateral_offset_m", "max_heading_offset_rad", "max_speed_mps", "speed_mps"):
        value = getattr(start, name)
        if not (math.isfinite(value) and value >= 0):
            raise ConfigError(f"start.{name}: expected a finite number >= 0, got {value}")
    fractions = (start.min_profile_speed_fraction, start.max_profile_speed_fraction)
    if not all(math.isfinite(f) for f in fractions) or not 0.0 <= fractions[0] <= fractions[1]:
        raise ConfigError(
            "start.min_profile_speed_fraction, start.max_profile_speed_fraction: expected "
            f"0 <= min <= max, got {fractions[0]}, {fractions[1]}"
        )
    if not 0.0 <= start.failure_fraction <= 1.0:
        raise ConfigError(f"start.failure_fraction: expected 0 to 1, got {start.failure_fraction}")
    if not (math.isfinite(start.failure_lead_m) and start.failure_lead_m >= 0):
        raise ConfigError(
            f"start.failure_lead_m: expected a finite number >= 0, got {start.failure_lead_m}"
        )
    if start.failure_memory < 1:
        raise ConfigError(f"start.failure_memory: expected >= 1, got {start.failure_memory}")
    reward = config.reward
    if reward.kind not in REWARD_KINDS:
        raise ConfigError(f"reward.kind: expected one of {REWARD_KINDS}, got {reward.kind!r}")
    positive("reward.progress_per_m", reward.progress_per_m)
    if not (math.isfinite(reward.off_track) and reward.off_track >= 0):
        raise ConfigError(
            f"reward.off_track: expected a finite number >= 0, got {reward.off_track}"
        )
    image = config.image
    positive("image.m_per_px", image.m_per_px)
    if image.size_px < 8:
        raise ConfigError(f"image.size_px: expected >= 8, got {image.size_px}")
    if not 0 <= image.behind_px < image.size_px:
        raise ConfigError(
            f"image.behind_px: expected 0 <= behind_px < size_px ({image.size_px}), got {image.behind_px}"
        )
    if image.raster_oversample < 1:
        raise ConfigError(f"image.raster_oversample: expected >= 1, got {image.raster_oversample}")
    if image.view not in IMAGE_VIEWS:
        raise ConfigError(f"image.view: expected one of {IMAGE_VIEWS}, got {image.view!r}")
    _check_camera(image.camera)
    if config.termination.low_speed_mps < 0:
        raise ConfigError(
            f"termination.low_speed_mps: expected >= 0, got {config.termination.low_speed_mps}"
        )


def _check_camera(camera: CameraConfig) -> None:
    """Range checks of the simulated camera's settings."""
    for name in ("width_px", "height_px"):
        value = getattr(camera, name)
        if not 8 <= value <= 2048:
            raise ConfigError(f"image.camera.{name}: expected 8 to 2048 pixels, got {value}")
    if not 10.0 <= camera.fov_deg <= 170.0:
        raise ConfigError(f"image.camera.fov_deg: expected 10 to 170 degrees, got {camera.fov_deg}")
    if camera.color not in ("gray", "rgb", "bgr"):
        raise ConfigError(
            f"image.camera.color: expected 'gray', 'rgb' or 'bgr', got {camera.color!r}"
        )
    if not -45.0 <= camera.pitch_deg <= 89.0:
        raise ConfigError(f"image.camera.pitch_deg: expected -45 to 89, got {camera.pitch_deg}")
    if not math.isfinite(camera.mount_forward_m):
        raise ConfigError(
            f"image.camera.mount_forward_m: expected a finite number, got {camera.mount_forward_m}"
        )
    for name in (
        "mount_height_m",
        "max_distance_m",
        "raster_cell_m",
        "car_length_m",
        "car_width_m",
    ):
        value = getattr(camera, name)
        if not (math.isfinite(value) and value > 0):
            raise ConfigError(f"image.camera.{name}: expected a positive number, got {value}")
