"""The batched World: API, determinism, robustness, surface, standstill."""

from __future__ import annotations

import numpy as np
import pytest

from acgym.errors import ConfigError
from acgym.sim import CarParams, World, WorldConfig, list_cars, load_car
from acgym.sim import layout as L
from acgym.track.builtin import list_builtin_tracks, load_builtin
from acgym.track.track import Track


def _random_run(world: World, track: Track | None, steps: int, seed: int) -> None:
    """Correlated random controls (mostly throttle), random gear requests, resets of cars
    that leave the track or the area. Every step's states and outputs must be finite (checked
    before any reset, which would overwrite a broken car)."""
    rng = np.random.default_rng(seed)
    n = world.num_cars
    controls = np.zeros((n, 3))
    for _ in range(steps):
        controls = np.clip(
            0.8 * controls + 0.5 * rng.standard_normal((n, 3)) + [0.0, 0.2, -0.3], -1.0, 1.0
        )
        flags = (rng.random((n, 3)) < [0.02, 0.3, 0.3]).astype(np.float64)
        world.step(controls, flags)
        finite = np.isfinite(world.state).all(axis=1) & np.isfinite(world.outputs).all(axis=1)
        assert finite.all(), f"cars {np.flatnonzero(~finite).tolist()} are not finite"
        if track is not None:
            lost = world.wheels_on_track.sum(axis=1) < 2
        else:
            lost = np.hypot(world.x_m, world.y_m) > 300.0
        if lost.any():
            world.reset(
                lost,
                x_m=track.line_m[0, 0] if track else 0.0,
                y_m=track.line_m[0, 1] if track else 0.0,
                yaw_rad=track.line_heading_rad[0] if track else 0.0,
                speed_mps=rng.uniform(0.0, 30.0),
            )


def test_a_million_random_car_steps_stay_finite(loop_track: Track) -> None:
    """256 cars (every preset) x 4,000 control steps of random controls and gear requests,
    each car-step checked."""
    presets = [load_car(name) for name in list_cars()]
    world = World([presets[i % len(presets)] for i in range(256)], track=loop_track)
    start = loop_track.line_m[0]
    world.reset(x_m=start[0], y_m=start[1], yaw_rad=loop_track.line_heading_rad[0], speed_mps=20.0)
    for chunk in range(8):
        _random_run(world, loop_track, 500, seed=chunk)
        assert np.isfinite(world.state).all() and np.isfinite(world.outputs).all()
    assert world.speed_mps.max() < 120.0


def test_every_preset_survives_random_driving_from_a_standstill() -> None:
    world = World([load_car(name) for name in list_cars() for _ in range(8)])
    _random_run(world, None, 1500, seed=7)
    assert np.isfinite(world.state).all() and np.isfinite(world.outputs).all()


def test_repeated_runs_are_bit_identical(loop_track: Track) -> None:
    runs = []
    for _ in range(2):
        world = World("dallara_f317", num_cars=16, track=loop_track)
        start = loop_track.line_m[0]
        world.reset(
            x_m=start[0], y_m=start[1], yaw_rad=loop_track.line_heading_rad[0], speed_mps=15.0
        )
        _random_run(world, loop_track, 300, seed=3)
        runs.append((world.state.copy(), world.outputs.copy()))
    assert np.array_equal(runs[0][0], runs[1][0]) and np.array_equal(runs[0][1], runs[1][1])


def test_a_car_in_a_batch_moves_exactly_as_it_would_alone() -> None:
    cars = [load_car(name) for name in list_cars()]
    batch = World(cars * 3)
    alone = World(cars[1])
    batch.reset(speed_mps=12.0)
    alone.reset(speed_mps=12.0)
    rng = np.random.default_rng(0)
    for _ in range(200):
        controls = rng.uniform(-1, 1, (batch.num_cars, 3))
        batch.step(controls)
        alone.step(controls[4:5])
    assert np.array_equal(batch.state[4], alone.state[0])
    assert np.array_equal(batch.outputs[4], alone.outputs[0])


def test_presets_mix_in_one_batch() -> None:
    world = World(["ks_mazda_miata", "dallara_f317"])
    world.reset()
    for _ in range(50):
        world.step(np.array([[0.0, 1.0, -1.0], [0.0, 1.0, -1.0]]))
    assert world.cars[0].name == "ks_mazda_miata" and world.cars[1].name == "dallara_f317"
    assert world.vx_mps[1] > world.vx_mps[0] > 0.0  # the F3 out-accelerates the MX-5


def test_views_are_read_only_and_shaped_per_car(car: CarParams) -> None:
    world = World(car, num_cars=3)
    world.step(np.zeros((3, 3)))
    shapes = {
        "x_m": (3,), "yaw_rad": (3,), "vx_mps": (3,), "speed_mps": (3,), "rpm": (3,), "gear": (3,),
        "gas": (3,), "brake": (3,), "steer_wheel_deg": (3,), "road_wheel_angle_rad": (3,), "time_s": (3,),
        "wheel_speed_radps": (3, 4), "slip_angle_rad": (3, 4), "slip_ratio": (3, 4), "normal_load_n": (3, 4),
        "lateral_friction": (3, 4), "wheels_on_track": (3, 4), "contact_points_m": (3, 4, 2),
        "tyre_force_n": (3, 4, 2), "accel_mps2": (3, 2), "world_velocity_mps": (3, 2),
        "state": (3, L.NUM_STATE), "outputs": (3, L.NUM_OUTPUTS),
    }  # fmt: skip
    for name, shape in shapes.items():
        assert getattr(world, name).shape == shape, name
    with pytest.raises(ValueError, match="read-only"):
        world.slip_angle_rad[0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        world.state[0, 0] = 1.0
    assert world.time_s[0] == pytest.approx(0.04)


def test_applied_controls_go_through_the_steer_and_brake_maps(car: CarParams) -> None:
    world = World(car, 1)
    world.step(np.array([[-0.25, 0.5, 0.0]]))
    wheel_deg = float(car.steering.map.to_deg(-0.25))
    assert world.steer_wheel_deg[0] == pytest.approx(wheel_deg)
    assert world.road_wheel_angle_rad[0] == pytest.approx(
        np.radians(-wheel_deg / car.steering.ratio)
    )
    assert world.road_wheel_angle_rad[0] > 0.0  # negative steer turns left
    assert world.gas[0] == pytest.approx(0.75)
    assert world.brake[0] == pytest.approx(float(car.brake_map.status(0.0)))
    world.step(np.array([[-5.0, 3.0, -7.0]]))  # out of range: clipped
    assert world.steer_wheel_deg[0] == pytest.approx(-car.steering.map.full_lock_deg)
    assert world.gas[0] == 1.0 and world.brake[0] == 0.0


def test_steering_left_turns_the_car_left() -> None:
    world = World("ks_mazda_miata")
    world.reset(speed_mps=15.0)
    for _ in range(25):
        world.step(np.array([[-0.3, 0.0, -1.0]]))
    assert world.yaw_rate_radps[0] > 0.1 and world.y_m[0] > 1.0


def test_contact_points_are_the_wheel_positions_in_the_world(car: CarParams) -> None:
    world = World(car, 1)
    world.reset(x_m=10.0, y_m=-5.0, yaw_rad=np.pi / 2)
    c = car.chassis
    expected = np.array(
        [
            [10.0 - c.track_front_m / 2, -5.0 + c.lf_m],
            [10.0 + c.track_front_m / 2, -5.0 + c.lf_m],
            [10.0 - c.track_rear_m / 2, -5.0 - c.lr_m],
            [10.0 + c.track_rear_m / 2, -5.0 - c.lr_m],
        ]
    )
    np.testing.assert_allclose(world.contact_points_m[0], expected, atol=1e-12)


def test_stopping_comes_to_rest_without_chatter(car: CarParams) -> None:
    world = World(car, 1)
    world.reset(speed_mps=20.0)
    history = []
    for _ in range(25 * 6):
        world.step(np.array([[0.3, -1.0, 0.5]]))
        history.append((world.vx_mps[0], world.vy_mps[0], world.yaw_rate_radps[0]))
    history = np.array(history)
    stopped = np.argmax(np.abs(history[:, 0]) < 1e-3)
    assert stopped > 0
    assert np.abs(history[stopped:]).max() < 1e-3  # stays put: no creeping, no sign flipping
    assert np.all(history[:stopped, 0] > 0.0)


def test_a_car_at_rest_with_no_input_stays_exactly_at_rest(car: CarParams) -> None:
    world = World(car, 1)
    for _ in range(100):
        world.step(np.array([[0.7, -1.0, -1.0]]))
    assert np.all(world.state[0, : L.S_WHEEL_OMEGA + 4] == 0.0)


def test_leaving_the_track_costs_grip_and_adds_rolling_resistance(loop_track: Track) -> None:
    start = loop_track.line_m[0]
    heading = loop_track.line_heading_rad[0]
    normal = np.array([-np.sin(heading), np.cos(heading)])
    world = World("ks_mazda_miata", num_cars=2, track=loop_track)
    off = start - 30.0 * normal  # well outside the 12 m wide surface
    world.reset(x_m=[start[0], off[0]], y_m=[start[1], off[1]], yaw_rad=heading, speed_mps=20.0)
    assert world.wheels_on_track[0].all() and not world.wheels_on_track[1].any()
    for _ in range(25):
        world.step(np.array([[0.0, -1.0, -1.0], [0.0, -1.0, -1.0]]))
    assert world.vx_mps[1] < world.vx_mps[0] - 0.5  # grass slows a coasting car
    assert world.lateral_friction[1, 0] == pytest.approx(
        world.config.offtrack_grip * world.lateral_friction[0, 0], rel=0.05
    )


def test_bad_arguments_are_refused_with_a_reason() -> None:
    world = World("bmw_z4_gt3", num_cars=2)
    with pytest.raises(ConfigError, match=r"expected shape \(2, 3\)"):
        world.step(np.zeros((3, 3)))
    with pytest.raises(ConfigError, match="finite"):
        world.step(np.array([[0.0, np.nan, 0.0], [0.0, 0.0, 0.0]]))
    with pytest.raises(ConfigError, match="whole multiple"):
        World("bmw_z4_gt3", config=WorldConfig(control_hz=30.0, physics_hz=200.0))
    with pytest.raises(ConfigError, match=">= 200"):
        World("bmw_z4_gt3", config=WorldConfig(control_hz=25.0, physics_hz=100.0))
    with pytest.raises(ConfigError, match="num_cars"):
        World(["bmw_z4_gt3"], num_cars=2)
    with pytest.raises(ConfigError, match="gear"):
        world.reset(gear=12)


def test_reset_touches_only_the_chosen_cars() -> None:
    world = World("bmw_z4_gt3", num_cars=3)
    for _ in range(25):
        world.step(np.tile([0.0, 1.0, -1.0], (3, 1)))
    before = world.state.copy()
    world.reset([1], x_m=5.0, speed_mps=10.0)
    assert np.array_equal(world.state[[0, 2]], before[[0, 2]])
    assert world.x_m[1] == 5.0 and world.vx_mps[1] == 10.0 and world.time_s[1] == 0.0
    world.reset(np.array([True, False, False]))
    assert world.vx_mps[0] == 0.0 and world.gear[0] == 2


def test_surface_flags_match_the_tracks_inside_test(loop_track: Track) -> None:
    world = World("dallara_f317", num_cars=32, track=loop_track)
    start = loop_track.line_m[0]
    world.reset(x_m=start[0], y_m=start[1], yaw_rad=loop_track.line_heading_rad[0], speed_mps=25.0)
    rng = np.random.default_rng(5)
    controls = np.zeros((32, 3))
    crossings = 0
    for _ in range(150):
        controls = np.clip(
            0.9 * controls + 0.3 * rng.standard_normal((32, 3)) + [0.0, 0.1, -0.2], -1, 1
        )
        before = world.wheels_on_track
        world.step(controls)
        expected = loop_track.is_inside(world.contact_points_m.reshape(-1, 2)).reshape(32, 4)
        assert np.array_equal(world.wheels_on_track, expected)
        crossings += int((before != world.wheels_on_track).sum())
    assert crossings > 0  # the run did leave the surface


@pytest.mark.parametrize("name", list_builtin_tracks())
def test_reset_anywhere_locates_every_tyre_and_the_nearest_border(name: str) -> None:
    """Cars placed at random poses on, beside and across the borders of each built-in track
    (hairpins included): the surface flags equal the track's inside test of each contact
    point, and the stored border distance equals the track's nearest-border query (the
    one-test shortcut for cars far from the borders gives the same flags)."""
    track = load_builtin(name)
    rng = np.random.default_rng(11)
    n = 400
    world = World("bmw_z4_gt3", num_cars=n, track=track)
    s_m = rng.uniform(0.0, track.length_m, n)
    point, heading = track.line_point_at(s_m)
    normal = np.stack((-np.sin(heading), np.cos(heading)), axis=1)
    offset = rng.uniform(-12.0, 12.0, n)
    xy = point + offset[:, None] * normal
    world.reset(x_m=xy[:, 0], y_m=xy[:, 1], yaw_rad=heading + rng.normal(0.0, 0.6, n))
    expected = track.is_inside(world.contact_points_m.reshape(-1, 2)).reshape(n, 4)
    assert np.array_equal(world.wheels_on_track, expected)
    assert 0 < world.wheels_on_track.sum() < 4 * n  # both sides were sampled
    mixed = world.wheels_on_track.any(axis=1) & ~world.wheels_on_track.all(axis=1)
    assert mixed.any()  # some cars straddle a border
    np.testing.assert_allclose(
        np.sqrt(world._border_d2), track.border_distance(xy), rtol=1e-12, atol=1e-9
    )


@pytest.mark.slow
def test_freshly_compiled_and_cached_kernels_give_the_same_bits(tmp_path) -> None:
    """Two processes with an empty Numba cache of their own: the first compiles the kernels
    and caches them, the second loads that cache; both give this process's bits."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from sim_digest import run_digest

    from acgym.kernel_cache import CACHE_DIR_ENV

    env = {**os.environ, CACHE_DIR_ENV: str(tmp_path / "numba_cache")}
    digests = [
        subprocess.run(
            [sys.executable, str(Path(__file__).with_name("sim_digest.py"))],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        ).stdout.strip()
        for _ in range(2)
    ]
    assert any((tmp_path / "numba_cache").rglob("*.nbc"))  # the first one did cache
    here = run_digest()  # the same run in this process
    assert digests == [here, here]
