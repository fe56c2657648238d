"""Entry points of the registered ids (``gymnasium.make``, ``gymnasium.make_vec``).

* ``acgym/Race-v0``: :func:`make_race_env` (the simulator in process, ``LocalSim``) and,
  for ``make_vec(..., vectorization_mode="vector_entry_point")``,
  :func:`make_race_vector_env` (N cars in one batched simulator).
* ``acgym/AssettoCorsa-v0``: :func:`make_remote_env` (the game plugin, or ``acgym sim
  serve``, over the protocol).

The config's ``track`` and ``car`` are set from the arguments (the backend must run
them); anything else comes from ``config`` (an ``EnvConfig``, a mapping, or a YAML path:
the environment's keys, or a whole run's configuration such as the original
``config.yml``) and then ``overrides`` (``["key=value", ...]``), read by the one loader
(:func:`acgym.env.config.load_env_config`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from acgym.env.actions import CarMaps
from acgym.env.backend import track_full_name
from acgym.env.client_inputs import ClientInputs, ClientInputsBackend
from acgym.env.config import EnvConfig, load_env_config
from acgym.env.racing_env import RacingEnv
from acgym.errors import ConfigError
from acgym.sim.car_params import car_folder
from acgym.sim.session import DEFAULT_CAR
from acgym.sim.world import WorldConfig
from acgym.track.builtin import DEFAULT_TRACK
from acgym.track.loaders import load_track
from acgym.track.track import Track

ConfigLike = EnvConfig | Mapping[str, Any] | str | Path | None


def resolve_config(
    config: ConfigLike,
    overrides: Sequence[str] = (),
    **fields: Any,
) -> EnvConfig:
    """An ``EnvConfig`` from a config-like value, dotted overrides, then ``fields``."""
    if isinstance(config, EnvConfig):
        resolved = load_env_config(None, overrides, base=config)
    else:
        resolved = load_env_config(config, overrides)
    return dataclasses.replace(resolved, **fields) if fields else resolved


def _track(track: Track | str | Path) -> Track:
    return track if isinstance(track, Track) else load_track(track)


def car_maps(car: str | Path) -> CarMaps:
    """The steer and brake maps of a car preset name or car folder."""
    return CarMaps.from_folder(car_folder(car))


def _world_config(value: WorldConfig | Mapping[str, Any] | None) -> WorldConfig | None:
    """The simulator's settings from a ``WorldConfig`` or a mapping of its fields."""
    if value is None or isinstance(value, WorldConfig):
        return value
    try:
        return WorldConfig(**value)
    except TypeError as exc:
        names = [f.name for f in dataclasses.fields(WorldConfig)]
        raise ConfigError(f"world_config: {exc}; its fields are {names}") from None


def make_race_env(
    track: Track | str | Path = DEFAULT_TRACK,
    car: str = DEFAULT_CAR,
    *,
    config: ConfigLike = None,
    overrides: Sequence[str] = (),
    image: bool | None = None,
    world_config: WorldConfig | Mapping[str, Any] | None = None,
    output_dir: Path | str | None = None,
    render_mode: str | None = None,
) -> RacingEnv:
    """``acgym/Race-v0``: the environment over the simulator in process.

    Args:
        track: A ``Track`` or a name / path for ``load_track`` (default the built-in oval).
        car: A car preset name or folder (its ``steer_map.csv`` / ``brake_map.csv``).
        config: Options (``EnvConfig``, mapping or YAML path).
        overrides: ``key=value`` overrides applied to ``config``.
        image: Add the egocentric image (``image.enabled``); None keeps the config's.
        world_config: The simulator's rates and surface settings (a ``WorldConfig`` or a
            mapping of its fields, e.g. ``{"physics_hz": 400.0, "auto_shift": True}``).
        output_dir: Episode log folder (default None: no files, statistics in memory).
        render_mode: None, ``"rgb_array"`` or ``"human"``.
    """
    from acgym.env.backends.local import LocalSim

    the_track = _track(track)
    resolved = _sim_config(config, overrides, the_track, str(car), image)
    backend = LocalSim(
        the_track, car, world_config=_world_config(world_config), start=resolved.start
    )
    return RacingEnv(
        backend,
        the_track,
        car_maps(car),
        resolved,
        output_dir=output_dir,
        render_mode=render_mode,
    )


def _sim_config(
    config: ConfigLike,
    overrides: Sequence[str],
    track: Track,
    car: str,
    image: bool | None,
) -> EnvConfig:
    resolved = resolve_config(config, overrides)
    if resolved.record_controls_from_client:
        raise ConfigError(
            "record_controls_from_client: the simulator in process applies the person's "
            "controls itself (acgym drive); the option is the game client's "
            "(acgym/AssettoCorsa-v0): set it to false"
        )
    fields: dict[str, Any] = {
        "track": track_full_name(
            {"TrackName": track.name, "TrackConfiguration": track.configuration}
        ),
        "car": Path(car).name,
    }
    if image is not None:
        fields["image"] = dataclasses.replace(resolved.image, enabled=bool(image))
    return dataclasses.replace(resolved, **fields)


def make_race_vector_env(
    num_envs: int = 1,
    track: Track | str | Path = DEFAULT_TRACK,
    car: str = DEFAULT_CAR,
    *,
    config: ConfigLike = None,
    overrides: Sequence[str] = (),
    image: bool | None = None,
    world_config: WorldConfig | Mapping[str, Any] | None = None,
    output_dir: Path | str | None = None,
    render_mode: str | None = None,
) -> Any:
    """``acgym/Race-v0``'s vector entry point: ``num_envs`` cars in one simulator.

    Same arguments as :func:`make_race_env`; see ``acgym.env.vector_env.RaceVectorEnv``.
    """
    from acgym.env.vector_env import RaceVectorEnv

    the_track = _track(track)
    resolved = _sim_config(config, overrides, the_track, str(car), image)
    return RaceVectorEnv(
        num_envs,
        the_track,
        car,
        resolved,
        world_config=_world_config(world_config),
        output_dir=output_dir,
        render_mode=render_mode,
    )


def make_remote_env(
    track: Track | str | Path | None = None,
    car: str = DEFAULT_CAR,
    *,
    host: str = "127.0.0.1",
    ego_port: int | None = None,
    mgmt_port: int | None = None,
    token: str | None = None,
    legacy: bool = False,
    mode: str = "realtime",
    timeout_s: float = 5.0,
    config: ConfigLike = None,
    overrides: Sequence[str] = (),
    output_dir: Path | str | None = None,
    render_mode: str | None = None,
    client_inputs: ClientInputs | None = None,
) -> RacingEnv:
    """``acgym/AssettoCorsa-v0``: the environment over a remote car (game or simulator).

    Args:
        track: The track the server runs: a ``Track`` or a name / path for
            ``load_track`` (None: the config's ``track``).
        car: The car the server runs: a preset name or a folder with its maps.
        host, ego_port, mgmt_port: The server (ports default to the config's
            ``ego_server_port`` and ``simulation_management_server_port``).
        token: The server's shared token (v1).
        legacy: Speak the original plugin's wire format (real time only).
        mode: ``"realtime"`` (the game) or ``"lockstep"`` (``acgym sim serve --lockstep``).
        timeout_s: How long a call waits before ``BackendError``.
        config, overrides, output_dir, render_mode: As :func:`make_race_env`.
        client_inputs: The client machine's own input device, read at every state
            (``record_controls_from_client``; :mod:`acgym.env.client_inputs`).
    """
    from acgym.env.backends.remote import Remote
    from acgym.protocol.frame_client import FrameReceiver

    resolved = dataclasses.replace(resolve_config(config, overrides), car=Path(str(car)).name)
    if track is None:
        the_track = load_track(resolved.track)
    else:  # the server must run the named track
        the_track = _track(track)
        name = {"TrackName": the_track.name, "TrackConfiguration": the_track.configuration}
        resolved = dataclasses.replace(resolved, track=track_full_name(name))
    frames = None
    if resolved.screen_capture_enable:  # the game's frames, from its capture helper
        frames = FrameReceiver(
            host, resolved.screen_capture_port, token, resolved.screen_capture_transport
        )
    backend = Remote(
        host,
        resolved.ego_server_port if ego_port is None else ego_port,
        resolved.simulation_management_server_port if mgmt_port is None else mgmt_port,
        token=token,
        legacy=legacy,
        mode=mode,
        timeout_s=timeout_s,
        frames=frames,
        frame_wait_s=resolved.screen_capture_timeout_s,
    )
    if resolved.record_controls_from_client:
        if client_inputs is None:
            raise ConfigError(
                "record_controls_from_client=true reads the client's input device at every "
                "state: pass client_inputs= (acgym.human.client_inputs.DeviceClientInputs), or "
                "record a person's laps in the game with `acgym drive --backend ac`"
            )
        backend = ClientInputsBackend(backend, client_inputs)
    return RacingEnv(
        backend,
        the_track,
        car_maps(car),
        resolved,
        output_dir=output_dir,
        render_mode=render_mode,
    )
