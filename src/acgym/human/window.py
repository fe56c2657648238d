"""The drive window (pygame-ce): a chase view with the track map inset, or the whole map,
and the HUD.

The chase view projects the road in front of the car (the cross-sections of
:class:`~acgym.human.cameras.TrackWindow`, far to near) through
:class:`~acgym.human.cameras.ChaseCamera`: asphalt quads between the borders, white border
lines, the racing line dashed in yellow, the car from behind, the ghost as an outline.
The map view (and the inset) is drawn once per track and the cars over it. Keys: P or
Space pause, R restart, T back on the track, V or Tab switch the view, Esc or the close
button quit.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np

from acgym.fileio import write_bytes_atomic
from acgym.human.cameras import NEAR_M, ChaseCamera, MapCamera, TrackWindow
from acgym.human.hud import hud_text
from acgym.human.session import Snapshot
from acgym.track.track import Track

SKY_RGB = (120, 165, 215)
GRASS_RGB = (46, 112, 52)
ASPHALT_RGB = (84, 84, 88)
BORDER_RGB = (235, 235, 235)
LINE_RGB = (230, 200, 40)
CAR_RGB = (220, 30, 30)
CAR_DARK_RGB = (40, 40, 45)
GHOST_RGB = (90, 200, 255)
TEXT_RGB = (255, 255, 255)
WARNING_RGB = (255, 80, 60)
FASTER_RGB = (80, 230, 110)
PANEL_RGB = (20, 20, 24)
PAUSE_RGB = (200, 140, 20)

CAR_WIDTH_M = 1.9
CAR_HEIGHT_M = 1.1
MAP_CAR_RADIUS_PX = 5
INSET_SIZE_PX = 220
VIEWS = ("chase", "map")

KEY_COMMANDS = {
    "K_p": "pause",
    "K_SPACE": "pause",
    "K_r": "restart",
    "K_t": "reset",
    "K_v": "view",
    "K_TAB": "view",
    "K_ESCAPE": "quit",
}
"""The window's keys (pygame names) and their commands."""


class DriveWindow:
    """The window a person drives in.

    Args:
        pygame: pygame, video started (:func:`acgym.human.sdl.init_video`).
        track: The track driven.
        size_px: Window width and height.
        title: Window title.
    """

    def __init__(
        self, pygame: Any, track: Track, size_px: tuple[int, int] = (960, 600), title: str = ""
    ) -> None:
        self._pg = pygame
        self.width, self.height = size_px
        self.screen = pygame.display.set_mode(size_px)
        pygame.display.set_caption(title or f"acgym drive: {track.name}")
        self.track = track
        self.view = VIEWS[0]
        self.chase = ChaseCamera(self.width, self.height)
        self.sections = TrackWindow(track)
        self.map_camera = MapCamera.fit(track, 20, 20, self.width - 40, self.height - 90)
        self.inset_camera = MapCamera.fit(
            track, self.width - INSET_SIZE_PX - 10, 10, INSET_SIZE_PX, INSET_SIZE_PX
        )
        self._map = self._map_surface(self.map_camera, (self.width, self.height), GRASS_RGB)
        self._map = self._map.convert()  # opaque: the fastest blit
        inset_local = MapCamera.fit(track, 0, 0, INSET_SIZE_PX, INSET_SIZE_PX)
        self._inset = self._map_surface(inset_local, (INSET_SIZE_PX, INSET_SIZE_PX), None)
        self._inset = self._inset.convert_alpha()
        self._inset_at = (int(self.inset_camera.left_px), int(self.inset_camera.top_px))
        self._keys = {getattr(pygame, name): command for name, command in KEY_COMMANDS.items()}
        self._fonts = {size: pygame.font.Font(None, size) for size in (20, 26, 34, 64)}
        self._text_cache: dict[tuple[str, int, tuple[int, int, int]], Any] = {}

    # ------------------------------------------------------------------ View

    def events(self) -> tuple[list[Any], list[str]]:
        """Pending events and the commands among them (keys, the close button)."""
        pg = self._pg
        events = pg.event.get()
        commands = []
        for event in events:
            if event.type == pg.QUIT:
                commands.append("quit")
            elif event.type == pg.KEYDOWN and event.key in self._keys:
                commands.append(self._keys[event.key])
        return events, commands

    def switch_view(self) -> None:
        """Chase view <-> map view."""
        self.view = VIEWS[(VIEWS.index(self.view) + 1) % len(VIEWS)]

    def draw(self, snapshot: Snapshot) -> None:
        """Draw one frame and show it."""
        self.render(snapshot)
        self._pg.display.flip()

    # ------------------------------------------------------------------ drawing

    def render(self, snapshot: Snapshot) -> None:
        """Draw one frame on the window's surface (without showing it)."""
        x, y, yaw = pose_between(snapshot)
        if self.view == "chase":
            self._draw_chase(x, y, yaw, snapshot.ghost)
            self.screen.blit(self._inset, self._inset_at)
            self._draw_map_cars(self.inset_camera, x, y, yaw, snapshot.ghost, radius_px=4)
        else:
            self.screen.blit(self._map, (0, 0))
            self._draw_map_cars(self.map_camera, x, y, yaw, snapshot.ghost, MAP_CAR_RADIUS_PX)
        self._draw_hud(snapshot)

    def _draw_chase(
        self, x: float, y: float, yaw: float, ghost: tuple[float, float, float] | None
    ) -> None:
        pg, screen, cam = self._pg, self.screen, self.chase
        horizon = int(cam.horizon_px)
        screen.fill(SKY_RGB, (0, 0, self.width, horizon))
        screen.fill(GRASS_RGB, (0, horizon, self.width, self.height - horizon))
        index = self.sections.sections(x, y)
        left, left_fwd = cam.ground(self.track.left_m[index], x, y, yaw)
        right, right_fwd = cam.ground(self.track.right_m[index], x, y, yaw)
        visible = (left_fwd > NEAR_M) & (right_fwd > NEAR_M)
        for k in range(len(index) - 2, -1, -1):  # far to near
            if visible[k] and visible[k + 1]:
                pg.draw.polygon(screen, ASPHALT_RGB, (left[k], left[k + 1], right[k + 1], right[k]))
        for border in (left, right):
            self._polyline(border, visible, BORDER_RGB, 2)
        s0 = self.track.project_point(x, y)[0]
        line_s = self.track.line_s_m
        ahead = (line_s - s0) % self.track.length_m
        near = np.flatnonzero(ahead < self.sections.ahead_m)
        near = near[np.argsort(ahead[near])]
        line, line_fwd = cam.ground(self.track.line_m[near], x, y, yaw)
        dashes = (np.floor(line_s[near] / 6.0) % 2 == 0) & (line_fwd > NEAR_M)
        self._polyline(line, dashes, LINE_RGB, 1)
        if ghost is not None:
            ((gx, gy),), gfwd = cam.ground(np.array([[ghost[0], ghost[1]]]), x, y, yaw)
            if gfwd[0] > 2.0:
                self._car_shape(gx, gy, cam.scale_at(gfwd[0]), GHOST_RGB, outline=True)
        ((cx, cy),), _ = cam.ground(np.array([[x, y]]), x, y, yaw)
        self._car_shape(cx, cy, cam.scale_at(cam.distance_m), CAR_RGB, outline=False)

    def _polyline(self, points: np.ndarray, keep: np.ndarray, rgb: tuple, width: int) -> None:
        """Lines through consecutive kept points (runs of ``keep``)."""
        pg, run = self._pg, []
        for point, kept in zip(points.tolist(), keep.tolist(), strict=True):
            if kept:
                run.append(point)
                continue
            if len(run) > 1:
                pg.draw.lines(self.screen, rgb, False, run, width)
            run = []
        if len(run) > 1:
            pg.draw.lines(self.screen, rgb, False, run, width)

    def _car_shape(
        self, cx: float, cy: float, px_per_m: float, rgb: tuple, *, outline: bool
    ) -> None:
        """A car seen from behind, its wheels' contact line at row ``cy``."""
        pg = self._pg
        w, h = CAR_WIDTH_M * px_per_m, CAR_HEIGHT_M * px_per_m
        body = pg.Rect(0, 0, max(2, int(w)), max(2, int(0.6 * h)))
        body.midbottom = (int(cx), int(cy - 0.15 * h))
        if outline:
            pg.draw.rect(self.screen, rgb, body, 2)
            return
        cabin = pg.Rect(0, 0, max(2, int(0.6 * w)), max(2, int(0.4 * h)))
        cabin.midbottom = body.midtop
        for side in (-1, 1):
            wheel = pg.Rect(0, 0, max(2, int(0.18 * w)), max(2, int(0.3 * h)))
            wheel.midbottom = (int(cx + side * 0.38 * w), int(cy))
            pg.draw.rect(self.screen, CAR_DARK_RGB, wheel)
        pg.draw.rect(self.screen, rgb, body)
        pg.draw.rect(self.screen, rgb, cabin)
        window = cabin.inflate(-max(2, int(0.12 * w)), -max(2, int(0.12 * h)))
        pg.draw.rect(self.screen, CAR_DARK_RGB, window)

    def _map_surface(
        self, camera: MapCamera, size_px: tuple[int, int], background: tuple | None
    ) -> Any:
        """The track drawn once: surface and borders, on ``background`` (None: a
        see-through dark panel)."""
        pg = self._pg
        surface = pg.Surface(size_px, pg.SRCALPHA)
        surface.fill(background if background is not None else (*PANEL_RGB, 170))
        left = camera.pixels(self.track.left_m)
        right = camera.pixels(self.track.right_m)
        for k in range(len(left)):
            j = (k + 1) % len(left)
            pg.draw.polygon(surface, ASPHALT_RGB, (left[k], left[j], right[j], right[k]))
        pg.draw.lines(surface, BORDER_RGB, True, left.tolist(), 1)
        pg.draw.lines(surface, BORDER_RGB, True, right.tolist(), 1)
        start = camera.pixels(self.track.start_line_m)
        pg.draw.line(surface, TEXT_RGB, start[0], start[1], 3)
        return surface

    def _draw_map_cars(
        self,
        camera: MapCamera,
        x: float,
        y: float,
        yaw: float,
        ghost: tuple[float, float, float] | None,
        radius_px: int,
    ) -> None:
        pg = self._pg
        if ghost is not None:
            ((gx, gy),) = camera.pixels(np.array([ghost[:2]]))
            pg.draw.circle(self.screen, GHOST_RGB, (gx, gy), radius_px, 2)
        ((px, py),) = camera.pixels(np.array([[x, y]]))
        tip = (px + 3 * radius_px * math.cos(yaw), py - 3 * radius_px * math.sin(yaw))
        pg.draw.line(self.screen, CAR_RGB, (px, py), tip, 2)
        pg.draw.circle(self.screen, CAR_RGB, (px, py), radius_px)

    def _text(self, text: str, size: int, rgb: tuple, pos: tuple[int, int], anchor: str) -> None:
        key = (text, size, rgb)
        surface = self._text_cache.get(key)
        if surface is None:
            if len(self._text_cache) > 512:
                self._text_cache.clear()
            surface = self._fonts[size].render(text, True, rgb)
            self._text_cache[key] = surface
        rect = surface.get_rect(**{anchor: pos})
        self.screen.blit(surface, rect)

    def _draw_hud(self, snapshot: Snapshot) -> None:
        pg, hud, w, h = self._pg, hud_text(snapshot), self.width, self.height
        pg.draw.rect(self.screen, PANEL_RGB, (0, h - 28, w, 28))
        self._text(hud.footer, 20, TEXT_RGB, (8, h - 14), "midleft")
        self._text(hud.lap, 34, TEXT_RGB, (16, 14), "topleft")
        row = 48
        for line in (hud.last, hud.best):
            if line is not None:
                self._text(line, 26, TEXT_RGB, (16, row), "topleft")
                row += 26
        for delta in (hud.delta_best, hud.delta_reference):
            if delta is not None:
                rgb = FASTER_RGB if delta.startswith("-") else WARNING_RGB
                self._text(delta, 26, rgb, (16, row), "topleft")
                row += 26
        self._text(hud.speed, 64, TEXT_RGB, (16, h - 34), "bottomleft")
        self._text(f"gear {hud.gear}   {hud.rpm}", 26, TEXT_RGB, (16, h - 84), "bottomleft")
        out_rgb = WARNING_RGB if hud.tyres_out_warning else TEXT_RGB
        self._text(hud.tyres_out, 26, out_rgb, (16, h - 110), "bottomleft")
        self._draw_inputs(snapshot)
        if hud.message:
            self._text(hud.message, 26, TEXT_RGB, (w // 2, 16), "midtop")
        if hud.paused:
            banner = pg.Rect(0, 0, w, 44)
            banner.center = (w // 2, h // 2)
            pg.draw.rect(self.screen, PAUSE_RGB, banner)
            self._text(hud.paused, 26, PANEL_RGB, banner.center, "center")

    def _draw_inputs(self, snapshot: Snapshot) -> None:
        """Steering, throttle and brake bars (bottom right)."""
        pg, inp = self._pg, snapshot.device_input
        right, bottom = self.width - 16, self.height - 40
        for k, (value, rgb) in enumerate(((inp.brake, WARNING_RGB), (inp.throttle, FASTER_RGB))):
            frame = pg.Rect(right - 24 - 30 * k, bottom - 80, 18, 80)
            pg.draw.rect(self.screen, PANEL_RGB, frame)
            filled = frame.inflate(-4, -4)
            filled.height = int(filled.height * max(0.0, min(1.0, value)))
            filled.bottom = frame.bottom - 2
            pg.draw.rect(self.screen, rgb, filled)
        bar = pg.Rect(right - 200, bottom - 12, 130, 12)
        pg.draw.rect(self.screen, PANEL_RGB, bar)
        marker = bar.centerx + int(0.5 * (bar.width - 6) * max(-1.0, min(1.0, inp.steer)))
        pg.draw.rect(self.screen, TEXT_RGB, (marker - 3, bar.top, 6, bar.height))

    def screenshot(self, path: Path | str) -> Path:
        """The window's surface as a PNG, written atomically."""
        stream = io.BytesIO()
        self._pg.image.save(self.screen, stream, "png")
        write_bytes_atomic(path, stream.getvalue())
        return Path(path)

    def close(self) -> None:
        """Close the window."""
        self._pg.display.quit()


def pose_between(snapshot: Snapshot) -> tuple[float, float, float]:
    """The car's pose between the previous step's and the last one's (``blend``)."""
    a, b, t = snapshot.previous, snapshot.status, snapshot.blend
    turn = math.remainder(b.yaw_rad - a.yaw_rad, math.tau)
    return a.x_m + t * (b.x_m - a.x_m), a.y_m + t * (b.y_m - a.y_m), a.yaw_rad + t * turn


__all__ = ["KEY_COMMANDS", "VIEWS", "DriveWindow", "pose_between"]
