"""Observation terms, the 125-value layout, and the state expander, against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from env_fakes import RADIUS_M, WIDTH_M, circle_track, full_state

from acgym.env.config import EnvConfig, load_env_config
from acgym.env.observations import (
    AppliedControls,
    BasicChannels,
    CurvatureAhead,
    Frame,
    ObservationHistory,
    OutOfTrackFlag,
    PreviousControls,
    PreviousObservations,
    RayDistances,
    StateExpander,
    TaskOneHot,
    frame_channels,
    frame_from_columns,
    heading_rad_from_yaw,
    make_observation_builder,
    ray_angles_rad,
)
from acgym.errors import BackendError, ConfigError


@pytest.fixture(scope="module")
def track():
    return circle_track()


def make_frame(num_cars: int = 1, **channels: float) -> Frame:
    frame = Frame(frame_channels(EnvConfig()), num_cars, num_rays=11, num_curvature=12)
    for name, value in channels.items():
        frame.values[:, frame.index[name]] = value
    frame.update_applied()
    return frame


def write(term, frame, history=None):
    history = history if history is not None else ObservationHistory(frame.num_cars, 3, 25)
    out = np.full((frame.num_cars, len(term.labels)), np.nan)
    term.write(frame, history, out)
    return out


# --- layout ---------------------------------------------------------------------------


def test_default_layout_has_the_original_125_values_in_order():
    builder = make_observation_builder(EnvConfig())
    names = builder.layout.names
    assert builder.size == 125
    assert builder.space.shape == (125,)
    expected = {
        0: "speed",
        1: "gap",
        6: "actualGear",
        7: "angular_velocity_y",
        13: "SlipAngle_rr",
        14: "ray_00",
        24: "ray_10",
        25: "out_of_track",
        26: "curvature_ahead_00",
        37: "curvature_ahead_11",
        38: "prev_steerAngle_3",
        40: "prev_steerAngle_1",
        41: "prev_accStatus_3",
        44: "prev_brakeStatus_3",
        46: "prev_brakeStatus_1",
        47: "applied_steerAngle",
        49: "applied_brakeStatus",
        50: "prev_obs_3/speed",
        75: "prev_obs_2/speed",
        100: "prev_obs_1/speed",
        124: "prev_obs_1/ray_10",
    }
    for index, name in expected.items():
        assert names[index] == name
    assert builder.layout.term_slice("previous_observations") == slice(50, 125)


@pytest.mark.parametrize(
    ("overrides", "size"),
    [
        (["enable_sensors=false"], 14 + 1 + 12 + 9 + 3 + 3 * 14),
        (["add_previous_obs_to_state=false"], 125 - 75),
        (["enable_task_id_in_obs=true", "track=monza"], 125 + 4),
        (
            ["observation.include_curvature=false", "observation.history_window=2"],
            25 + 1 + 6 + 3 + 50,
        ),
        (["observation.channels=[speed,gap]", "observation.num_rays=5"], 7 + 1 + 12 + 9 + 3 + 21),
    ],
)
def test_observation_size_follows_from_the_enabled_terms(overrides, size):
    builder = make_observation_builder(load_env_config(overrides=overrides))
    assert builder.size == size == len(builder.layout.names) == builder.space.shape[0]


def test_unknown_basic_channel_is_refused():
    with pytest.raises(ConfigError, match=r"unknown.*'speedo'"):
        make_observation_builder(load_env_config(overrides=["observation.channels=[speed,speedo]"]))


def test_task_outside_the_task_list_is_refused():
    with pytest.raises(ConfigError, match="not a task"):
        make_observation_builder(
            load_env_config(overrides=["enable_task_id_in_obs=true", "track=imola"])
        )


# --- terms ----------------------------------------------------------------------------


def test_basic_channels_are_divided_by_the_original_scales():
    frame = make_frame(
        speed=40.0,
        gap=-5.0,
        LastFF=0.5,
        RPM=5000.0,
        accelX=2.5,
        accelY=-2.5,
        actualGear=4.0,
        angular_velocity_y=math.pi / 2,
        local_velocity_x=40.0,
        local_velocity_y=10.0,
        SlipAngle_fl=12.5,
        SlipAngle_fr=-12.5,
        SlipAngle_rl=25.0,
        SlipAngle_rr=0.0,
    )
    term = BasicChannels(EnvConfig().observation.channels)
    expected = [0.5, -0.5, 0.5, 0.5, 0.5, -0.5, 0.5, 0.5, 0.5, 0.5, 0.5, -0.5, 1.0, 0.0]
    np.testing.assert_allclose(write(term, frame)[0], expected)


def test_rays_are_divided_by_the_200_m_range():
    frame = make_frame()
    frame.rays_m[0] = np.arange(11) * 20.0
    np.testing.assert_allclose(write(RayDistances(11, 180.0, 200.0), frame)[0], np.arange(11) * 0.1)


def test_out_of_track_flag_is_one_only_when_out():
    frame = make_frame(num_cars=2)
    frame.values[:, frame.index["out_of_track"]] = [1.0, 0.0]
    np.testing.assert_array_equal(write(OutOfTrackFlag(), frame)[:, 0], [1.0, 0.0])


def test_curvature_is_divided_by_0_1():
    frame = make_frame()
    frame.curvature_1pm[0] = 0.01
    np.testing.assert_allclose(write(CurvatureAhead(12, 300.0, 0.1), frame)[0], np.full(12, 0.1))


def test_applied_controls_are_steer_angle_over_450_and_the_pedals():
    frame = make_frame(steerAngle=-225.0, accStatus=0.25, brakeStatus=0.75)
    np.testing.assert_allclose(write(AppliedControls(), frame)[0], [-0.5, 0.25, 0.75])


def test_previous_controls_are_zero_until_three_steps_then_grouped_by_channel():
    term = PreviousControls(3)
    history = ObservationHistory(1, 3, 25)
    frame = make_frame()
    pushed = [(45.0, 0.1, 0.2), (90.0, 0.3, 0.4), (135.0, 0.5, 0.6)]
    for steer_deg, acc, brake in pushed:
        np.testing.assert_array_equal(write(term, frame, history), np.zeros((1, 9)))
        history.push(np.zeros((1, 25)), np.array([[steer_deg / 450.0, acc, brake]]))
    expected = [0.1, 0.2, 0.3, 0.1, 0.3, 0.5, 0.2, 0.4, 0.6]
    np.testing.assert_allclose(write(term, frame, history)[0], expected)
    history.push(np.zeros((1, 25)), np.array([[0.0, 1.0, 0.0]]))  # the oldest drops out
    np.testing.assert_allclose(
        write(term, frame, history)[0], [0.2, 0.3, 0.0, 0.3, 0.5, 1.0, 0.4, 0.6, 0.0]
    )


def test_previous_observations_are_the_basic_blocks_oldest_first():
    labels = tuple(f"b{k}" for k in range(2))
    term = PreviousObservations(3, labels)
    history = ObservationHistory(1, 3, 2)
    for step in range(3):
        np.testing.assert_array_equal(write(term, make_frame(), history), np.zeros((1, 6)))
        history.push(np.array([[step, 10.0 + step]]), np.zeros((1, 3)))
    np.testing.assert_array_equal(write(term, make_frame(), history)[0], [0, 10, 1, 11, 2, 12])
    assert term.labels[:3] == ("prev_obs_3/b0", "prev_obs_3/b1", "prev_obs_2/b0")


def test_task_one_hot_marks_the_track_car_pair():
    config = load_env_config(overrides=["enable_task_id_in_obs=true", "track=monza"])
    builder = make_observation_builder(config)
    (term,) = [t for t in builder.terms if isinstance(t, TaskOneHot)]
    np.testing.assert_array_equal(write(term, make_frame())[0], [0.0, 0.0, 1.0, 0.0])


def test_target_speed_look_ahead_follows_the_task_one_hot_divided_by_80(track):
    config = load_env_config(
        overrides=["use_target_speed=true", "enable_task_id_in_obs=true", "track=monza"]
    )
    builder = make_observation_builder(config)
    assert builder.layout.names[-13:] == (
        "task_03",
        *(f"target_speed_ahead_{k:02d}" for k in range(12)),
    )
    target_mps = np.full(len(track.line_m), 30.0)
    expander = StateExpander(config, track, target_speed_mps=target_mps)
    frame = expander.expand(full_state())
    obs = builder.build(frame, builder.new_history(1))
    np.testing.assert_allclose(obs[0, -12:], np.full(12, 30.0 / 80.0))


def test_target_speed_without_a_profile_is_refused(track):
    with pytest.raises(ConfigError, match="use_target_speed"):
        StateExpander(load_env_config(overrides=["use_target_speed=true"]), track)


# --- state expansion ------------------------------------------------------------------


def test_yaw_is_the_heading_in_the_world_xy_plane():
    assert heading_rad_from_yaw(0.3) == 0.3
    np.testing.assert_allclose(np.degrees(ray_angles_rad(11)), np.linspace(-90.0, 90.0, 11))


def test_expander_derives_gap_lap_distance_out_of_track_and_rays(track):
    expander = StateExpander(EnvConfig(), track, track_length_m=600.0)
    # 2 m inside the line (left of a CCW driver), heading along the line
    state = full_state(
        world_position_x=RADIUS_M - 2.0,
        world_position_y=0.0,
        yaw=math.pi / 2,
        NormalizedSplinePosition=0.25,
        numberOfTyresOut=3,
    )
    frame = expander.expand(state)
    column = {name: frame.values[0, i] for name, i in frame.index.items()}
    assert column["gap"] == pytest.approx(-2.0, abs=1e-3)  # the original's sign: + is right
    assert column["LapDist"] == pytest.approx(150.0)
    assert column["out_of_track_ac"] == 1.0  # more than 2 tyres out
    assert column["out_of_track_calc"] == 0.0
    assert column["out_of_track"] == 1.0  # use_ac_out_of_track
    outer, inner = RADIUS_M + WIDTH_M / 2, RADIUS_M - WIDTH_M / 2
    rays = frame.rays_m[0]
    assert rays[0] == pytest.approx(outer - (RADIUS_M - 2.0), abs=1e-2)  # right: outwards
    assert rays[10] == pytest.approx((RADIUS_M - 2.0) - inner, abs=1e-2)  # left: inwards
    assert rays[5] == pytest.approx(math.sqrt(outer**2 - (RADIUS_M - 2.0) ** 2), abs=0.1)
    assert column["dist_to_border"] == pytest.approx(3.0, abs=1e-2)
    np.testing.assert_allclose(frame.curvature_1pm[0], np.full(12, 1.0 / RADIUS_M), rtol=1e-3)


def test_expander_uses_the_geometry_when_not_using_the_games_tyre_count(track):
    config = load_env_config(overrides=["use_ac_out_of_track=false"])
    expander = StateExpander(config, track)
    frame = expander.expand(full_state(world_position_x=RADIUS_M + 8.0, numberOfTyresOut=0))
    assert frame.values[0, frame.index["out_of_track"]] == 1.0
    assert frame.values[0, frame.index["out_of_track_ac"]] == 0.0
    # outside the outer border, facing along it: the border is 3 m to the left
    assert frame.values[0, frame.index["dist_to_border"]] == pytest.approx(3.0, abs=1e-2)


def test_expander_of_many_cars_matches_one_car_at_a_time(track):
    config = load_env_config(overrides=["use_ac_out_of_track=false"])
    states = [
        full_state(world_position_x=RADIUS_M - 2.0, NormalizedSplinePosition=0.1, speed=3.0),
        full_state(world_position_x=0.0, world_position_y=RADIUS_M + 9.0, yaw=math.pi, speed=5.0),
    ]
    singles = [StateExpander(config, track).expand(s) for s in states]
    batched = StateExpander(config, track, num_cars=2).expand(
        {key: np.array([s[key] for s in states]) for key in states[0] if key != "tyres_load"}
    )
    for row, single in enumerate(singles):
        np.testing.assert_allclose(batched.values[row], single.values[0], atol=1e-9)
        np.testing.assert_allclose(batched.rays_m[row], single.rays_m[0], atol=1e-9)
        np.testing.assert_allclose(batched.curvature_1pm[row], single.curvature_1pm[0])


def test_state_without_a_required_channel_is_a_backend_error(track):
    state = full_state()
    del state["NormalizedSplinePosition"]
    with pytest.raises(BackendError, match="lacks the channel 'NormalizedSplinePosition'"):
        StateExpander(EnvConfig(), track).expand(state)


def test_whole_episode_built_at_once_equals_step_by_step(track):
    config = EnvConfig()
    builder = make_observation_builder(config)
    expander = StateExpander(config, track)
    history = builder.new_history(1)
    rng = np.random.default_rng(1)
    rows, stepwise = [], []
    for t in range(7):
        state = full_state(
            world_position_x=RADIUS_M + rng.uniform(-3, 3),
            speed=float(t),
            steerAngle=10.0 * t,
            accStatus=0.1 * t,
            NormalizedSplinePosition=0.01 * t,
        )
        frame = expander.expand(state)
        obs = builder.build(frame, history)
        stepwise.append(obs[0].copy())
        builder.push(obs, frame, history)
        row = dict(state)
        row.update({name: frame.values[0, i] for name, i in frame.index.items()})
        row["sensors"] = frame.rays_m[0].copy()
        rows.append(row)
    columns = {key: [r[key] for r in rows] for key in rows[0]}
    rebuilt = builder.build_sequence(frame_from_columns(columns, config, track))
    np.testing.assert_allclose(rebuilt, np.array(stepwise), atol=1e-12)
    assert np.all(rebuilt[:3, 38:47] == 0.0) and np.any(rebuilt[3:, 38:47] != 0.0)


def _stadium_track(straight_m: float = 200.0, radius_m: float = 50.0, spacing_m: float = 2.0):
    """A counter-clockwise stadium: curvature 0 on the straights, 1/radius in the bends."""
    from acgym.track.track import Track

    pieces = []
    n_straight = int(straight_m / spacing_m)
    n_arc = int(math.pi * radius_m / spacing_m)
    for side in (0, 1):
        sign = 1.0 if side == 0 else -1.0
        t = np.arange(n_straight) / n_straight
        x = sign * (-straight_m / 2 + t * straight_m)
        pieces.append(np.stack((x, np.full(n_straight, -sign * radius_m)), axis=1))
        a = -math.pi / 2 + side * math.pi + math.pi * np.arange(n_arc) / n_arc
        cx = sign * straight_m / 2
        pieces.append(np.stack((cx + radius_m * np.cos(a), radius_m * np.sin(a)), axis=1))
    centre = np.concatenate(pieces)
    tangent = np.roll(centre, -1, axis=0) - np.roll(centre, 1, axis=0)
    tangent /= np.hypot(tangent[:, 0], tangent[:, 1])[:, None]
    normal = np.stack((-tangent[:, 1], tangent[:, 0]), axis=1)
    return Track.from_arrays("stadium", centre + 5.0 * normal, centre - 5.0 * normal, centre)


@pytest.mark.parametrize("spline", [0.1, 0.45, 0.97])
def test_curvature_samples_fall_every_25_m_ahead_of_the_lap_distance_across_the_line(spline):
    """12 samples at lap + 0, 25, ..., 275 m of the reference line's curvature (wrapping
    past the start line), against a periodic interpolation of the track's own curvature;
    the stadium's straights (0) and bends (1/50 1/m) both appear in the window."""
    track = _stadium_track()
    length_m = track.length_m
    expander = StateExpander(EnvConfig(), track, track_length_m=length_m)
    frame = expander.expand(full_state(NormalizedSplinePosition=spline))
    lap_m = spline * length_m
    where = (lap_m + 25.0 * np.arange(12)) % length_m
    expected = np.interp(where, track.line_s_m, track.line_curvature_1pm, period=length_m)
    np.testing.assert_allclose(frame.curvature_1pm[0], expected, atol=1e-9)
    assert expected.max() > 0.015 and expected.min() < 0.005  # both kinds of section sampled
