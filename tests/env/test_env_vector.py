"""RaceVectorEnv: car i follows the single environment's trajectory, same-step autoreset with
final_obs / final_info, per-car reset options, images, rendering, episode files."""

from __future__ import annotations

import numpy as np
import pytest
from env_fakes import circle_track

from acgym.env.factory import make_race_env, make_race_vector_env
from acgym.env.history import find_histories, load_episodes_stats

NUM_CARS = 3
RANDOM = ["start.random=true", "start.max_lateral_offset_m=3", "start.max_speed_mps=25"]


@pytest.fixture(scope="module")
def track():
    return circle_track()


def drive_actions(steps: int, cars: int) -> np.ndarray:
    actions = np.random.default_rng(5).uniform(-1, 1, size=(steps, cars, 3)).astype(np.float32)
    actions[..., 1] = np.abs(actions[..., 1])  # mostly throttle: the cars leave the track
    return actions


@pytest.mark.parametrize("image", [False, True])
def test_car_i_follows_the_single_env_with_the_same_seed_and_actions_across_autoresets(
    track, image
):
    vector = make_race_vector_env(NUM_CARS, track, overrides=RANDOM, image=image)
    singles = [make_race_env(track, overrides=RANDOM, image=image) for _ in range(NUM_CARS)]
    obs, _ = vector.reset(seed=40)
    for i, env in enumerate(singles):
        expected, _ = env.reset(seed=40 + i)
        _assert_same({k: v[i] for k, v in obs.items()} if image else obs[i], expected)
    ends = 0
    for action in drive_actions(150, NUM_CARS):
        obs, reward, terminated, truncated, info = vector.step(action)
        for i, env in enumerate(singles):
            expected, r, term, trunc, single_info = env.step(action[i])
            assert (terminated[i], truncated[i]) == (term, trunc)
            assert reward[i] == r
            if term or trunc:
                ends += 1
                assert info["_final_obs"][i] and info["_final_info"][i]
                _assert_same(info["final_obs"][i], expected)
                assert (
                    info["final_info"]["termination_reasons"][i]
                    == single_info["termination_reasons"]
                )
                expected, _ = env.reset()
            _assert_same({k: v[i] for k, v in obs.items()} if image else obs[i], expected)
    assert ends >= 2  # the comparison went through autoresets


def _assert_same(a, b):
    if isinstance(b, dict):
        for key in b:
            np.testing.assert_array_equal(a[key], b[key])
    else:
        np.testing.assert_array_equal(a, b)


def test_steps_without_an_episode_end_have_an_empty_info(track):
    vector = make_race_vector_env(NUM_CARS, track)
    vector.reset(seed=0)
    *_, info = vector.step(np.zeros((NUM_CARS, 3), dtype=np.float32))
    assert info == {}


def test_reset_options_may_place_each_car(track):
    vector = make_race_vector_env(NUM_CARS, track)
    obs, _ = vector.reset(options={"speed_mps": [0.0, 8.0, 16.0], "lateral_offset_m": 1.0})
    layout = vector.observation_layout
    np.testing.assert_allclose(obs[:, layout.index("speed")], [0.0, 0.1, 0.2], atol=1e-7)
    np.testing.assert_allclose(obs[:, layout.index("gap")], -0.1, atol=1e-4)


def test_actions_of_the_wrong_shape_are_refused(track):
    vector = make_race_vector_env(NUM_CARS, track)
    vector.reset()
    with pytest.raises(ValueError, match=r"expected shape \(3, 3\)"):
        vector.step(np.zeros((2, 3)))


def test_rgb_render_draws_every_car(track):
    vector = make_race_vector_env(NUM_CARS, track, render_mode="rgb_array")
    vector.reset(options={"distance_m": [0.0, 200.0, 400.0]})
    image = vector.render()
    red = np.all(image == (220, 30, 30), axis=-1)
    assert image.shape == (400, 400, 3)
    # three separate discs: red pixels in at least three distant places
    rows, cols = np.nonzero(red)
    assert np.ptp(rows) > 100 and np.ptp(cols) > 100


def test_with_an_output_folder_every_cars_episodes_are_logged(track, tmp_path):
    vector = make_race_vector_env(
        2, track, overrides=["max_episode_py_time=0.2"], output_dir=tmp_path
    )
    vector.reset(seed=0)
    for _ in range(7):  # an episode of 6 steps per car (truncated), one step of the next
        vector.step(np.zeros((2, 3), dtype=np.float32))
    vector.close()
    stats = load_episodes_stats(tmp_path)
    assert list(stats["ep_steps"]) == [7, 7, 2, 2]  # reset state + 6 steps; reset + 1 step
    assert len(find_histories(tmp_path / "laps")) == 4
