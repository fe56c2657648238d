"""The egocentric occupancy map (``image.view=map``): forward up, the car's left on the image's left, the track surface
where the geometry says (a ring of radius 95 m to 105 m)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from env_fakes import RADIUS_M, WIDTH_M, circle_track

from acgym.env.config import ImageConfig
from acgym.env.factory import make_race_env
from acgym.env.image import ON_TRACK, EgoImage
from acgym.errors import ConfigError


@pytest.fixture(scope="module")
def track():
    return circle_track()


def ring_mask(image: EgoImage, x: float, y: float, heading: float) -> tuple[np.ndarray, np.ndarray]:
    """Hand geometry: each pixel centre's distance from the ring's centre; on the surface
    between R - w/2 and R + w/2. Also the pixels clear of a border by more than a raster cell."""
    f, left = np.meshgrid(image.forward_m, image.left_m, indexing="ij")
    px = x + f * math.cos(heading) - left * math.sin(heading)
    py = y + f * math.sin(heading) + left * math.cos(heading)
    r = np.hypot(px, py)
    inner, outer = RADIUS_M - WIDTH_M / 2, RADIUS_M + WIDTH_M / 2
    clear = np.minimum(np.abs(r - inner), np.abs(r - outer)) > image.config.m_per_px / 4 + 0.05
    return (r >= inner) & (r <= outer), clear


def test_the_image_shows_the_ring_where_the_geometry_puts_it(track):
    image = EgoImage(track, ImageConfig(enabled=True))
    heading = math.pi / 2 + 0.2
    drawn = image.draw(np.array([RADIUS_M - 2.0]), np.array([0.0]), np.array([heading]))[0, :, :, 0]
    inside, clear = ring_mask(image, RADIUS_M - 2.0, 0.0, heading)
    np.testing.assert_array_equal(drawn[clear], np.where(inside, ON_TRACK, 0)[clear])
    assert clear.mean() > 0.9


def test_forward_is_up_and_the_left_is_on_the_left(track):
    image = EgoImage(track, ImageConfig(enabled=True))
    # at (R, 0) heading +y the ring curves to the left (towards the centre at the car's left)
    drawn = image.draw(np.array([RADIUS_M]), np.array([0.0]), np.array([math.pi / 2]))[0, :, :, 0]
    car_row = 64 - 1 - image.config.behind_px
    assert drawn[car_row, 31] == ON_TRACK and drawn[car_row, 32] == ON_TRACK
    top = np.flatnonzero(drawn[0])  # 84 m ahead the ring has turned 40 m to the left
    assert top.mean() < 16
    assert drawn[car_row, 0] == 0 and drawn[car_row, 63] == 0  # 48 m to each side: off


def test_the_env_gives_the_image_of_its_car(track):
    env = make_race_env(track, image=True, overrides=["image.view=map"])
    assert isinstance(env.pipeline.image, EgoImage)
    obs, _ = env.reset(options={"lateral_offset_m": 2.0})
    state = env.episode_states().iloc[0]
    expected = env.pipeline.image.draw(
        np.array([state["world_position_x"]]),
        np.array([state["world_position_y"]]),
        np.array([state["yaw"]]),
    )[0]
    np.testing.assert_array_equal(obs["image"], expected)


def test_an_image_config_out_of_range_is_refused(track):
    with pytest.raises(ConfigError, match="behind_px"):
        make_race_env(track, overrides=["image.behind_px=64"])
