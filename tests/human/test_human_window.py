"""What the drive window draws, read back from its pixels (SDL's dummy video driver: the
window is a surface in memory): the road ahead at the width the camera's geometry gives,
the car, the ghost, the map with the car where it is, the pause banner, the deltas'
colours, and the screenshot file."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from acgym.human.devices import DeviceInput
from acgym.human.laps import CarStatus
from acgym.human.sdl import init_video
from acgym.human.session import Snapshot
from acgym.human.window import (
    ASPHALT_RGB,
    CAR_RGB,
    FASTER_RGB,
    GHOST_RGB,
    GRASS_RGB,
    PAUSE_RGB,
    SKY_RGB,
    WARNING_RGB,
    DriveWindow,
)
from acgym.track.builtin import list_builtin_tracks, load_builtin

W, H = 960, 600


@pytest.fixture(scope="module")
def window() -> DriveWindow:
    pygame = init_video()
    return DriveWindow(pygame, load_builtin("oval"), (W, H))


def straight_pose(window: DriveWindow, index: int = 0) -> tuple[float, float, float, float]:
    """The centre of cross-section ``index`` (on the oval's start straight), the heading
    along the track there, and the track's width."""
    track = window.track
    centre = track.centre_m
    x, y = centre[index]
    dx, dy = centre[index + 1] - centre[index]
    return float(x), float(y), math.atan2(dy, dx), float(track.section_width_m[index])


def snapshot(x: float, y: float, yaw: float, **fields) -> Snapshot:  # type: ignore[no-untyped-def]
    status = CarStatus(x, y, yaw, 30.0, 4, 7000.0, 12.3, 0, 0.0, 100.0, 0, False)
    values = dict(
        status=status,
        previous=status,
        blend=1.0,
        device_input=DeviceInput(0.0, 0.5, 0.0),
        device_name="scripted",
        best=None,
        delta_best_s=None,
        delta_reference_s=None,
        reference_label=None,
        ghost=None,
        ghost_label=None,
        paused=None,
        message=None,
        recording=None,
    )
    values.update(fields)
    return Snapshot(**values)


def pixels(window: DriveWindow) -> np.ndarray:
    """The window's pixels, ``(H, W, 3)``."""
    return window._pg.surfarray.array3d(window.screen).transpose(1, 0, 2)


def test_the_chase_view_shows_the_road_ahead_as_wide_as_the_camera_sees_it(
    window: DriveWindow,
) -> None:
    x, y, yaw, width_m = straight_pose(window)
    window.view = "chase"
    window.render(snapshot(x, y, yaw))
    image = pixels(window)
    cam = window.chase
    ahead_m = 40.0  # from the camera
    row = round(cam.horizon_px + cam.focal_px * cam.height_m / ahead_m)
    road = np.flatnonzero(np.any(image[row] != GRASS_RGB, axis=1))
    road = road[(road > W * 0.1) & (road < W * 0.9)]  # the inset and HUD are elsewhere
    expected_px = cam.focal_px * width_m / ahead_m
    assert road[-1] - road[0] == pytest.approx(expected_px, abs=6)  # the border lines: 2 px
    assert (road[0] + road[-1]) / 2 == pytest.approx(W / 2, abs=4)  # centred: on the centre
    assert tuple(image[row, W // 2 + 20]) == ASPHALT_RGB
    assert tuple(image[5, W // 3]) == SKY_RGB
    car_row = round(cam.horizon_px + cam.focal_px * cam.height_m / cam.distance_m)
    assert tuple(image[car_row - 30, W // 2 - 40]) == CAR_RGB  # the car's body, from behind


def test_the_chase_view_puts_the_road_where_the_car_points(window: DriveWindow) -> None:
    x, y, yaw, _ = straight_pose(window)
    window.view = "chase"
    window.render(snapshot(x, y, yaw + 0.3))  # turned left: the road runs off to the right
    image = pixels(window)
    row = round(window.chase.horizon_px + window.chase.focal_px * window.chase.height_m / 40.0)
    road = np.flatnonzero(np.all(image[row] == ASPHALT_RGB, axis=1))
    assert road.mean() > W / 2 + 100


def test_the_ghost_is_drawn_where_it_is_ahead_and_not_without_one(window: DriveWindow) -> None:
    x, y, yaw, _ = straight_pose(window)
    ghost = (x + 30.0 * math.cos(yaw), y + 30.0 * math.sin(yaw), yaw)
    window.view = "chase"
    cam = window.chase
    ((gx, gy),), _ = cam.ground(np.array([ghost[:2]]), x, y, yaw)
    box = (slice(int(gy) - 40, int(gy) + 2), slice(int(gx) - 40, int(gx) + 40))
    window.render(snapshot(x, y, yaw, ghost=ghost, ghost_label="expert"))
    assert np.all(pixels(window)[box] == GHOST_RGB, axis=-1).sum() > 20
    window.render(snapshot(x, y, yaw))
    assert np.all(pixels(window)[box] == GHOST_RGB, axis=-1).sum() == 0


def test_the_map_view_shows_the_whole_track_and_the_car_where_it_is(window: DriveWindow) -> None:
    x, y, yaw, _ = straight_pose(window, 300)
    window.view = "map"
    window.render(snapshot(x, y, yaw))
    image = pixels(window)
    ((cx, cy),) = window.map_camera.pixels(np.array([[x, y]]))
    assert tuple(image[int(cy), int(cx)]) == CAR_RGB
    far = window.track.centre_m[len(window.track.centre_m) // 2]  # the other side of the oval
    ((fx, fy),) = window.map_camera.pixels(far[None])
    assert tuple(image[int(fy), int(fx)]) == ASPHALT_RGB
    ((mx, my),) = window.map_camera.pixels(window.track.centre_m.mean(axis=0)[None])
    assert tuple(image[int(my), int(mx)]) == GRASS_RGB  # inside the oval


def test_the_hud_shows_the_pause_banner_and_colours_the_deltas(window: DriveWindow) -> None:
    x, y, yaw, _ = straight_pose(window)
    window.view = "chase"
    window.render(snapshot(x, y, yaw, paused="paused: press pause again to drive on"))
    assert tuple(pixels(window)[H // 2, 10]) == PAUSE_RGB
    region = (slice(40, 110), slice(10, 200))  # below the lap time, top left
    for delta, rgb, other in ((-0.5, FASTER_RGB, WARNING_RGB), (0.5, WARNING_RGB, FASTER_RGB)):
        window.render(snapshot(x, y, yaw, delta_best_s=delta))
        area = pixels(window)[region]
        assert np.all(area == rgb, axis=-1).sum() > 20
        assert np.all(area == other, axis=-1).sum() == 0


def test_a_screenshot_holds_the_frame(window: DriveWindow, tmp_path: Path) -> None:
    x, y, yaw, _ = straight_pose(window)
    window.render(snapshot(x, y, yaw))
    path = window.screenshot(tmp_path / "frame.png")
    loaded = window._pg.surfarray.array3d(window._pg.image.load(str(path))).transpose(1, 0, 2)
    np.testing.assert_array_equal(loaded, pixels(window))
    assert [p.name for p in tmp_path.iterdir()] == ["frame.png"]


@pytest.mark.parametrize("name", list_builtin_tracks())
def test_every_builtin_track_is_drawn_with_the_road_ahead_of_the_car(name: str) -> None:
    track = load_builtin(name)
    window = DriveWindow(init_video(), track, (W, H))
    x, y = track.line_m[0]
    dx, dy = track.line_m[1] - track.line_m[0]
    window.render(snapshot(float(x), float(y), math.atan2(dy, dx)))  # on the start line
    image, cam = pixels(window), window.chase
    ahead_row = round(cam.horizon_px + cam.focal_px * cam.height_m / 20.0)
    assert tuple(image[ahead_row, W // 2]) == ASPHALT_RGB  # the road, 11 m ahead of the car
    car_row = round(cam.horizon_px + cam.focal_px * cam.height_m / cam.distance_m)
    assert tuple(image[car_row - 30, W // 2 - 40]) == CAR_RGB
