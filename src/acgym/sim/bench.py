"""``acgym bench sim``: control steps per second of the simulator, 1 car and 256 cars.

Cars drive a closed track (a rounded rectangle, :func:`rounded_rectangle_track`) under
plausible controls: a seeded random walk of steering about a lane-keeping steer, mostly
throttle, brakes now and then; cars that leave the surface are put back on the line. The
timed call is one :meth:`acgym.sim.World.step` (all cars, one 25 Hz control period of
8 internal steps at 200 Hz) on one core; the driver runs between the timed calls. The
surface test of every tyre in every internal step is included. ``profile`` breaks one
internal step down by part.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from typing import Any

import numba
import numpy as np
from numpy.typing import NDArray

from acgym.sim import layout as L
from acgym.sim.world import World, WorldConfig
from acgym.timing import time_per_call_s
from acgym.track.track import Track

BENCH_CAR = "bmw_z4_gt3"
BATCH_SIZES = (1, 256)
TARGET_ONE_CAR_STEPS_PER_S = 50_000
TARGET_BATCH_CAR_STEPS_PER_S = 500_000


def rounded_rectangle_track(
    length_m: float = 800.0,
    width_m: float = 400.0,
    corner_radius_m: float = 80.0,
    track_width_m: float = 12.0,
    spacing_m: float = 2.0,
) -> Track:
    """A closed track: a rectangle with rounded corners, driven counter-clockwise.

    Args:
        length_m, width_m: Outer size of the centre line's rectangle, m.
        corner_radius_m: Radius of the centre line in the corners, m.
        track_width_m: Distance between the borders, m.
        spacing_m: Distance between centre-line points, m.

    Returns:
        A ``Track`` named ``rounded_rectangle`` with the centre line as reference line,
        starting in the middle of the bottom straight, heading +x.
    """
    r = corner_radius_m
    half_l = 0.5 * length_m - r
    half_w = 0.5 * width_m - r
    pieces: list[NDArray[np.float64]] = []
    # straights and quarter circles, counter-clockwise from (0, -width/2)
    corners = (
        (half_l, -half_w, -0.5 * math.pi),
        (half_l, half_w, 0.0),
        (-half_l, half_w, 0.5 * math.pi),
        (-half_l, -half_w, math.pi),
    )
    starts = (
        (0.0, -0.5 * width_m),
        (0.5 * length_m, -half_w),
        (half_l, 0.5 * width_m),
        (-0.5 * length_m, half_w),
    )
    ends = (
        (half_l, -0.5 * width_m),
        (0.5 * length_m, half_w),
        (-half_l, 0.5 * width_m),
        (-0.5 * length_m, -half_w),
    )
    for (sx, sy), (ex, ey), (cx, cy, a0) in zip(starts, ends, corners, strict=True):
        n = max(int(math.hypot(ex - sx, ey - sy) / spacing_m), 1)
        t = np.arange(n) / n
        pieces.append(np.stack((sx + t * (ex - sx), sy + t * (ey - sy)), axis=1))
        m = max(int(0.5 * math.pi * r / spacing_m), 2)
        a = a0 + 0.5 * math.pi * np.arange(m) / m
        pieces.append(np.stack((cx + r * np.cos(a), cy + r * np.sin(a)), axis=1))
    # the last piece closes onto the start: straight from (-length/2 + r, -width/2) to 0
    sx, sy = -half_l, -0.5 * width_m
    n = max(int(half_l / spacing_m), 1)
    t = np.arange(n) / n
    pieces.append(np.stack((sx + t * (0.0 - sx), np.full(n, sy)), axis=1))
    centre = np.concatenate(pieces)
    tangent = np.roll(centre, -1, axis=0) - np.roll(centre, 1, axis=0)
    tangent /= np.hypot(tangent[:, 0], tangent[:, 1])[:, None]
    normal = np.stack((-tangent[:, 1], tangent[:, 0]), axis=1)
    half = 0.5 * track_width_m
    return Track.from_arrays(
        "rounded_rectangle", centre + half * normal, centre - half * normal, centre
    )


class Driver:
    """Plausible controls for a batch: lane keeping + a seeded random walk.

    Steering aims at a point ``lookahead_m`` ahead on the reference line (pure pursuit)
    plus a random walk; throttle is mostly on, braking before the corners' speed limit.
    """

    def __init__(
        self,
        world: World,
        track: Track,
        seed: int = 0,
        lookahead_m: float = 25.0,
        target_speed_mps: float = 28.0,
    ) -> None:
        self.world = world
        self.track = track
        self.rng = np.random.default_rng(seed)
        self.lookahead_m = lookahead_m
        self.target_speed_mps = target_speed_mps
        self.noise = np.zeros(world.num_cars)
        self.controls = np.zeros((world.num_cars, L.NUM_CONTROLS))

    def __call__(self) -> NDArray[np.float64]:
        w = self.world
        xy = np.stack((w.x_m, w.y_m), axis=1)
        s_m = self.track.project(xy).s_m
        target, _ = self.track.line_point_at(s_m + self.lookahead_m)
        heading = np.arctan2(target[:, 1] - w.y_m, target[:, 0] - w.x_m)
        err = np.angle(np.exp(1j * (heading - w.yaw_rad)))
        # pure pursuit: road-wheel angle, then steering-wheel degrees, then the steer input
        p = w.params
        wheelbase = p[:, L.P_LF_M] + p[:, L.P_LR_M]
        delta = np.arctan(2.0 * wheelbase * np.sin(err) / self.lookahead_m)
        wheel_deg = -np.degrees(delta) * p[:, L.P_STEER_RATIO]
        last = p[:, L.P_NUM_STEER_POINTS].astype(np.int64) - 1
        rows = np.arange(w.num_cars)
        per_deg = p[rows, L.P_STEER_MAP_IN + last] / p[rows, L.P_STEER_MAP_DEG + last]
        self.noise = 0.9 * self.noise + 0.01 * self.rng.standard_normal(w.num_cars)
        self.controls[:, L.C_STEER] = np.clip(wheel_deg * per_deg + self.noise, -1.0, 1.0)
        speed = w.speed_mps
        self.controls[:, L.C_ACC] = np.where(speed > self.target_speed_mps, -1.0, 0.8)
        self.controls[:, L.C_BRAKE] = np.where(speed > self.target_speed_mps + 4.0, 0.0, -1.0)
        return self.controls


def _reset_off_track(world: World, track: Track) -> None:
    off = world.wheels_on_track.sum(axis=1) < 2
    if off.any():
        idx = np.flatnonzero(off)
        start = track.line_m[0]
        heading = track.line_heading_rad[0]
        world.reset(idx, x_m=start[0], y_m=start[1], yaw_rad=heading, speed_mps=20.0)


def _world_on_line(num_cars: int, track: Track) -> World:
    """``num_cars`` cars of :data:`BENCH_CAR` at 20 m/s on the start of the line."""
    world = World(BENCH_CAR, num_cars=num_cars, track=track, config=WorldConfig())
    start = track.line_m[0]
    world.reset(x_m=start[0], y_m=start[1], yaw_rad=track.line_heading_rad[0], speed_mps=20.0)
    return world


def _bench_batch(num_cars: int, track: Track, quick: bool) -> dict[str, Any]:
    """Time ``World.step`` of ``num_cars`` cars that the :class:`Driver` keeps on the track.

    The driver's controls are computed between the timed calls (not timed), so the cars
    stay on the track as they would in training; a timer around each ``World.step``
    measures it alone. Repeats of ``steps`` calls; the best repeat is the figure least
    disturbed by other processes.
    """
    world = _world_on_line(num_cars, track)
    driver = Driver(world, track, seed=num_cars)
    for _ in range(50):  # get the cars rolling, away from the reset state
        world.step(driver())
        _reset_off_track(world, track)
    steps = max(20, (2_000 if quick else 20_000) // num_cars)
    repeats = 5 if quick else 30
    per_step_s: list[float] = []
    cpu_s = 0.0
    for _ in range(repeats):
        wall_s = 0.0
        for _ in range(steps):
            controls = driver()
            cpu_start_s = time.process_time()
            start_s = time.perf_counter()
            world.step(controls)
            wall_s += time.perf_counter() - start_s
            # CPU time of the process: on a machine shared with other jobs it leaves out
            # the time the process waited for a core (caches are still shared)
            cpu_s += time.process_time() - cpu_start_s
            _reset_off_track(world, track)
        per_step_s.append(wall_s / steps)
    cpu_per_step_s = cpu_s / (steps * repeats)
    best_s = min(per_step_s)
    return {
        "num_cars": num_cars,
        "car": BENCH_CAR,
        "control_hz": world.config.control_hz,
        "physics_hz": world.config.physics_hz,
        "substeps": world.num_substeps,
        "steps_per_repeat": steps,
        "repeats": repeats,
        "seconds_per_step": best_s,
        "median_seconds_per_step": statistics.median(per_step_s),
        "cpu_seconds_per_step": cpu_per_step_s,
        "control_steps_per_s": 1.0 / best_s,
        "car_steps_per_s": num_cars / best_s,
        "median_car_steps_per_s": num_cars / statistics.median(per_step_s),
        "car_steps_per_cpu_s": num_cars / cpu_per_step_s,
        "car_substeps_per_s": num_cars * world.num_substeps / best_s,
    }


def profile(track: Track, quick: bool) -> dict[str, float]:
    """Seconds per car of the parts of a control step (isolated compiled loops over one
    chunk of ``CHUNK`` cars in the batch workspace, best of many short repeats).

    ``tyre_pass_s``: loads, steer angles, slips and four combined-slip Magic Formula
    tyres (SIMD lanes); ``drivetrain_pass_s``: shifting, clutch and engine (car by car);
    ``wheel_body_pass_s``: wheel spin, differential, brakes, rigid body (scalar) --
    the three make one internal step; ``surface_four_tyres_s``: the inside test of the
    four contact points (every internal step for a car near a border);
    ``locate_car_s``: the nearest-border query and the surface flags of a car on the
    centre line, far from the borders (one inside test; once per car and control step); ``world_step_one_car_one_substep_s``: ``World.step`` of one car with
    one internal step (Python call, checks, dispatch, control mapping, one substep).
    """
    from acgym.sim import dynamics
    from acgym.sim.tyres import FASTMATH

    # The passes are inlined into the batch kernel; timed here as functions of their own
    # (compiled like the kernel), called from a compiled loop, as the kernel calls them.
    def compiled(fn: Any) -> Any:
        return numba.njit(fastmath=FASTMATH, error_model="numpy")(fn.py_func)

    tyre_pass = compiled(dynamics.tyre_pass)
    drivetrain_pass = compiled(dynamics.drivetrain_pass)
    wheel_body_pass = compiled(dynamics.wheel_body_pass)
    from acgym.sim.integrator import locate_car, surface_flags

    world = World(BENCH_CAR, num_cars=L.CHUNK, track=track)
    start = track.line_m[0]
    world.reset(x_m=start[0], y_m=start[1], yaw_rad=track.line_heading_rad[0], speed_mps=30.0)
    driver = Driver(world, track, seed=1)
    for _ in range(10):  # a moving chunk: the workspace holds its last internal step
        world.step(driver())
    chunk = world._work[: L.WORK_ROWS * L.CHUNK]
    params = world.params
    dt = 1.0 / world.config.physics_hz
    p = params[0]
    count = 2_000 if quick else 10_000
    repeats = 3 if quick else 15
    grid = world._grid
    border = world._border_grid

    @numba.njit(cache=False)
    def tyres(ws, n):
        for _ in range(n):
            tyre_pass(ws)

    @numba.njit(cache=False)
    def drivetrain(params, ws, n, dt):
        for _ in range(n):
            drivetrain_pass(params, 0, ws, L.CHUNK, dt)

    @numba.njit(cache=False)
    def wheel_body(ws, n, dt):
        for _ in range(n):
            wheel_body_pass(ws, L.CHUNK, dt)

    # (hidden levels 0: the bench track does not cross itself)
    @numba.njit(cache=False)
    def surface(p, s, n, on, gp, cs, it, q, ql, xs, ys):
        for i in range(n * L.CHUNK):
            x = s[L.S_X_M] + 1e-9 * i
            surface_flags(p, x, s[L.S_Y_M], s[L.S_YAW_RAD], on, 1, gp, cs, it, q, ql, 0, xs, ys)

    @numba.njit(cache=False)
    def locate(p, s, n, on, gp, cs, it, q, ql, bp, bs, bi, bseg, bl, xs, ys):
        acc = 0.0
        for _ in range(n * L.CHUNK):
            acc += locate_car(p, s, on, True, gp, cs, it, q, ql, bp, bs, bi, bseg, bl, 0, xs, ys)
        return acc

    s = world._state[0].copy()  # a car on the centre line (far from the borders)
    s[L.S_X_M], s[L.S_Y_M] = track.line_m[0]
    s[L.S_YAW_RAD] = track.line_heading_rad[0]
    on = np.ones(4)
    xs = np.zeros(4)
    ys = np.zeros(4)
    # the timed passes change the workspace's state: each repeat starts from a copy
    parts = {
        "tyre_pass_s": lambda n: tyres(chunk.copy(), n),
        "drivetrain_pass_s": lambda n: drivetrain(params, chunk.copy(), n, dt),
        "wheel_body_pass_s": lambda n: wheel_body(chunk.copy(), n, dt),
        "surface_four_tyres_s": lambda n: surface(p, s, n, on, *grid, xs, ys),
        "locate_car_s": lambda n: locate(p, s, n, on, *grid, *border, xs, ys),
    }
    out: dict[str, float] = {}
    for name, fn in parts.items():
        fn(10)  # compile
        best = math.inf
        for _ in range(repeats):
            start_s = time.perf_counter()
            fn(count)
            best = min(best, (time.perf_counter() - start_s) / (count * L.CHUNK))
        out[name] = best
    out["substep_total_s"] = (
        out["tyre_pass_s"] + out["drivetrain_pass_s"] + out["wheel_body_pass_s"]
    )
    world1 = World(BENCH_CAR, num_cars=1, config=WorldConfig(control_hz=200.0, physics_hz=200.0))
    u = np.zeros((1, 3))
    timing = time_per_call_s(lambda: world1.step(u), min_time_s=0.05, repeats=repeats)
    out["world_step_one_car_one_substep_s"] = timing["best_s"]
    return out


def warm_up(args: argparse.Namespace) -> None:
    """The first ``World.step`` (compiles the batch kernel or loads it from the cache)."""
    track = rounded_rectangle_track()
    world = _world_on_line(1, track)
    world.step(Driver(world, track)())


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Time ``World.step`` for 1 and 256 cars; returns the figures (see ``docs/bench/sim.md``)."""
    quick = bool(getattr(args, "quick", False))
    track = rounded_rectangle_track()
    results = {str(n): _bench_batch(n, track, quick) for n in BATCH_SIZES}
    one_car = results[str(BATCH_SIZES[0])]
    batch = results[str(BATCH_SIZES[-1])]
    return {
        "track": {"name": track.name, "length_m": track.length_m},
        "batches": results,
        "profile_seconds_per_call": profile(track, quick),
        "load_average_1min": os.getloadavg()[0],
        "targets": {
            "one_car_steps_per_s": TARGET_ONE_CAR_STEPS_PER_S,
            "batch_256_car_steps_per_s": TARGET_BATCH_CAR_STEPS_PER_S,
            # met by the median repeat, not only the best one
            "one_car_met": one_car["median_car_steps_per_s"] >= TARGET_ONE_CAR_STEPS_PER_S,
            "batch_256_met": batch["median_car_steps_per_s"] >= TARGET_BATCH_CAR_STEPS_PER_S,
        },
    }
