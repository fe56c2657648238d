"""The simulated camera: pinhole geometry in closed form, materials where the borders put
them, the car's left on the image's left, one batched call equal to one call per car,
and the env's Dict observation drawn from its car's pose."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from env_fakes import RADIUS_M, WIDTH_M, circle_track

from acgym.env.camera import (
    ASPHALT,
    CAR,
    GRASS,
    GROUND,
    KERB_RED,
    KERB_WHITE,
    LINE,
    SKY,
    Camera,
    material_raster,
    pixel_rays,
)
from acgym.env.config import CameraConfig, EnvConfig, ImageConfig
from acgym.env.factory import make_race_env
from acgym.errors import ConfigError


@pytest.fixture(scope="module")
def track():
    return circle_track()


def test_each_pixel_sees_the_ground_where_the_pinhole_geometry_puts_it():
    config = CameraConfig(width_px=32, height_px=24, fov_deg=80.0, pitch_deg=12.0, draw_car=False)
    rays = pixel_rays(config, num_levels=1)
    focal_px = 16 / math.tan(math.radians(40.0))
    kind = rays.kind.reshape(24, 32)
    forward = rays.forward_m.reshape(24, 32)
    left = rays.left_m.reshape(24, 32)
    for row in range(24):
        for col in (3, 20):
            right, up = (col + 0.5 - 16) / focal_px, (12 - row - 0.5) / focal_px
            pitch = math.radians(12.0)
            d_forward = math.cos(pitch) + up * math.sin(pitch)
            d_up = -math.sin(pitch) + up * math.cos(pitch)
            if d_up >= 0.0:
                assert kind[row, col] == SKY
                continue
            t = config.mount_height_m / -d_up
            distance = t * math.sqrt(d_forward**2 + right**2 + d_up**2)
            if distance > config.max_distance_m:
                assert kind[row, col] == SKY
                continue
            assert kind[row, col] == GROUND
            assert forward[row, col] == pytest.approx(config.mount_forward_m + t * d_forward)
            assert left[row, col] == pytest.approx(-t * right)
    # the horizon: 12 - f tan(pitch) rows from the top
    horizon_row = 12 - focal_px * math.tan(math.radians(12.0))
    assert (kind[: math.floor(horizon_row)] == SKY).all()
    assert (kind[math.ceil(horizon_row) + 1 :] == GROUND).all()


def test_a_chase_view_sees_its_own_car_below_the_centre():
    rays = pixel_rays(CameraConfig(), num_levels=1)
    kind = rays.kind.reshape(64, 64)
    rows, cols = np.nonzero(kind == CAR)
    assert rows.size > 0
    assert rows.min() > 32  # below the image centre, ahead of the camera
    assert cols.mean() == pytest.approx(31.5)  # centred
    assert not (pixel_rays(CameraConfig(draw_car=False), 1).kind == CAR).any()


def test_the_raster_paints_asphalt_lines_kerbs_and_grass_where_the_borders_are(track):
    cell_m = 0.1
    materials, frame = material_raster(track, cell_m)

    def at(radius_m: float, angle_rad: float = 1.0) -> int:
        x, y = radius_m * math.cos(angle_rad), radius_m * math.sin(angle_rad)
        return int(materials[int((y - frame[1]) / cell_m), int((x - frame[0]) / cell_m)])

    inner, outer = RADIUS_M - WIDTH_M / 2, RADIUS_M + WIDTH_M / 2
    assert at(RADIUS_M) == ASPHALT
    assert at(inner + 0.2) == LINE and at(outer - 0.2) == LINE
    # radius 100 m is tighter than the kerbs' 120 m: kerbs on both sides, red and white
    kerbs = {at(outer + 0.6, a) for a in np.linspace(0.5, 0.6, 12)}
    assert kerbs == {KERB_RED, KERB_WHITE}
    assert at(inner - 0.6) in (KERB_RED, KERB_WHITE)
    assert at(outer + 5.0) == GRASS and at(inner - 5.0) == GRASS
    wide = circle_track(radius_m=400.0)  # gentle: no kerbs
    materials, frame = material_raster(wide, 0.25)
    assert not np.isin(materials, (KERB_RED, KERB_WHITE)).any()


def test_the_cars_left_is_on_the_images_left(track):
    camera = Camera(track, CameraConfig(color="rgb", draw_car=False, mount_forward_m=0.0), 1)
    # 0.3 m right of the left (inner) border, heading along the track (+y at angle 0):
    # grass (green) 2.3 to 2.6 m left at the image's left close by, grey asphalt at its right
    image = camera.draw(np.array([RADIUS_M - 4.7]), np.array([0.0]), np.array([math.pi / 2]))[
        0
    ].astype(int)
    row = image[-4]
    green = (row[:, 1] > row[:, 0] + 30) & (row[:, 1] > row[:, 2] + 30)
    assert green[:4].all() and not green[-8:].any()
    mirrored = camera.draw(np.array([RADIUS_M + 4.7]), np.array([0.0]), np.array([-math.pi / 2]))[
        0
    ].astype(int)[-4]  # the same place of the outer border, driving the other way
    green = (mirrored[:, 1] > mirrored[:, 0] + 30) & (mirrored[:, 1] > mirrored[:, 2] + 30)
    assert green[:4].all() and not green[-8:].any()


def test_one_batched_call_draws_what_one_call_per_car_draws(track):
    config = CameraConfig(color="rgb", width_px=40, height_px=30)
    angles = np.array([0.1, 1.5, 3.0, 4.4])
    x, y = RADIUS_M * np.cos(angles), RADIUS_M * np.sin(angles)
    heading = angles + math.pi / 2
    batch = Camera(track, config, 4).draw(x, y, heading).copy()
    for i in range(4):
        one = Camera(track, config, 1).draw(x[i : i + 1], y[i : i + 1], heading[i : i + 1])
        np.testing.assert_array_equal(batch[i], one[0])
    assert len({batch[i].tobytes() for i in range(4)}) == 4  # different places, images
    partial = Camera(track, config, 4)
    partial.draw(x, y, heading, np.array([2]))
    np.testing.assert_array_equal(partial.images[2], batch[2])
    assert not partial.images[[0, 1, 3]].any()


def test_the_env_observes_its_cars_camera_image(track):
    env = make_race_env(track, image=True)
    assert env.observation_space["image"].shape == (64, 64, 1)
    obs, _ = env.reset(options={"lateral_offset_m": 2.0})
    state = env.episode_states().iloc[-1]
    camera = Camera(track, CameraConfig(), 1)
    expected = camera.draw(
        np.array([state["world_position_x"]]),
        np.array([state["world_position_y"]]),
        np.array([state["yaw"]]),
    )[0]
    np.testing.assert_array_equal(obs["image"], expected)
    assert env.observation_space["image"].contains(obs["image"])
    env.close()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"view": "front"}, "image.view"),
        ({"camera": CameraConfig(color="cmyk")}, "image.camera.color"),
        ({"camera": CameraConfig(fov_deg=179.0)}, "image.camera.fov_deg"),
        ({"camera": CameraConfig(width_px=4)}, "image.camera.width_px"),
        ({"camera": CameraConfig(mount_height_m=0.0)}, "image.camera.mount_height_m"),
    ],
)
def test_bad_camera_settings_are_refused(change, message):
    with pytest.raises(ConfigError, match=message):
        EnvConfig(image=dataclasses.replace(ImageConfig(enabled=True), **change))


def test_the_camera_bench_runs_quick():
    from acgym.bench import run_bench

    results = run_bench("camera", quick=True)
    for name in ("64x64_gray", "128x128_gray", "320x240_rgb"):
        assert results[name]["cars_64"]["best_images_per_s"] > 0
    assert results["raster_s"] > 0 and "met" in results["targets"]
