"""Values the game may not know (a null tyres-out count, TrackLength 0) never read as
"on track" or "no distance": the env falls back to the track's own geometry and says so."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
from env_fakes import FakeBackend, circle_track

from acgym.env.actions import CarMaps
from acgym.env.config import EnvConfig
from acgym.env.racing_env import RacingEnv
from acgym.protocol import codec
from acgym.protocol.messages import EgoFromServer
from acgym.sim.car_params import car_folder


@pytest.fixture(scope="module")
def track():
    return circle_track()


@pytest.fixture(scope="module")
def car():
    return CarMaps.from_folder(car_folder("dallara_f317"))


class NoTyresOut(FakeBackend):
    """The game without shared memory: ``numberOfTyresOut`` arrives as null (NaN)."""

    def _advance(self, dt_s):
        state = super()._advance(dt_s)
        state["numberOfTyresOut"] = math.nan
        return state


def _env(track, car, backend):
    return RacingEnv(backend, track, car, EnvConfig(track="circle"))


def test_a_null_tyres_out_count_decodes_as_nan() -> None:
    state = codec.encode_state(1, 0, {"numberOfTyresOut": None, "speed": 3.0})
    decoded = codec.decode_from_server(state)
    assert isinstance(decoded, EgoFromServer)
    assert math.isnan(decoded.channels["numberOfTyresOut"])


def test_a_missing_tyres_out_count_ends_an_episode_off_the_track(track, car, caplog):
    """Before: NaN > 2 is false, so the default out-of-track rule never fired."""
    env = _env(track, car, NoTyresOut(car, lateral_gain=2.0))
    env.reset(seed=0)
    steer_left = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    with caplog.at_level(logging.WARNING, logger="acgym.env.observations"):
        for _ in range(200):
            _, _, terminated, truncated, info = env.step(steer_left)
            if terminated or truncated:
                break
    assert terminated and not truncated
    assert "out_of_track" in info["termination_reasons"]
    assert info["tyres_out_missing_steps"] == env.expander.tyres_out_missing_steps
    assert info["tyres_out_missing_steps"] >= env.ep_steps  # every step so far was counted
    warnings = [r for r in caplog.records if "tyres-out count" in r.getMessage()]
    assert len(warnings) == 1  # said once, not per step
    assert env.episode_states()["out_of_track_ac"].iloc[-1] == 1.0


def test_a_missing_tyres_out_count_on_the_track_is_on_the_track(track, car):
    env = _env(track, car, NoTyresOut(car))
    env.reset(seed=0)
    for _ in range(50):
        _, _, terminated, _, info = env.step(np.zeros(3, dtype=np.float32))
        assert not terminated
    assert info["tyres_out_missing_steps"] > 0
    assert env.episode_states()["out_of_track"].max() == 0.0


def test_a_known_tyres_out_count_adds_nothing_to_info(track, car):
    env = _env(track, car, FakeBackend(car))
    env.reset(seed=0)
    _, _, _, _, info = env.step(np.zeros(3, dtype=np.float32))
    assert "tyres_out_missing_steps" not in info


@pytest.mark.parametrize("reported", [0, 0.0, -1.0, None, "unknown"])
def test_an_unknown_track_length_takes_the_track_files_length(track, car, reported, caplog):
    """Before: TrackLength 0 made LapDist (and so the curvature look-ahead) stay 0."""
    backend = FakeBackend(car)
    backend._static["TrackLength"] = reported
    env = _env(track, car, backend)
    with caplog.at_level(logging.WARNING, logger="acgym.env.backend"):
        env.reset(seed=0)
    assert env.expander.track_length_m == pytest.approx(track.length_m)
    for _ in range(25):
        env.step(np.zeros(3, dtype=np.float32))
    lap_dist_m = env.episode_states()["LapDist"].iloc[-1]
    spline = backend.s_m / backend.length_m  # what the backend reports
    assert lap_dist_m == pytest.approx(spline * track.length_m, rel=1e-12)
    assert lap_dist_m > 20.0
    assert any("TrackLength" in r.getMessage() for r in caplog.records)


def test_a_known_track_length_is_the_backends(track, car):
    backend = FakeBackend(car)
    backend._static["TrackLength"] = 700.0
    env = _env(track, car, backend)
    env.reset(seed=0)
    assert env.expander.track_length_m == 700.0
