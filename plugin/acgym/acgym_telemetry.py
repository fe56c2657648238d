"""Reading the car: the state dict, the static info and the track info.

Channel names and units are the original sensors_par plugin's (DESIGN.md, "Telemetry
channels"): AC is y-up, so ``world_position_x/y/z`` = AC (z, x, y), ``velocity_x/y/z`` =
AC (x, y, z) as is, ``local_velocity_x`` is forward, ``accelX`` lateral and ``accelY``
longitudinal (g), ``yaw = -heading``.

Everything here calls the game's ``ac`` module, so it runs on the game's thread (from
``acUpdate``); the servers only ever see the dicts it returns.

Sources: the ``ac`` module for most channels, the shared-memory pages for the rest
(packetId, lap times, heading/pitch/roll, tyres out, ...). Without the pages (no ctypes,
or not on Windows) those channels come from the ``ac`` module where it has them
(``LapTime``, ``LastLap``, ``LapCount``; yaw, pitch and roll from the tyre contact points)
and are ``None`` (sent as null: "no value") where it has not (``numberOfTyresOut``,
``penaltyTime``).

Python 3.3, standard library only.
"""

import json
import math
import os
import re
import struct
import time

from acgym_shm import text

TYRES = ("fl", "fr", "rl", "rr")
WHEEL_NAMES = ("FL", "FR", "RL", "RR")
LIST_INFOS = (
    ("Mz", "Mz"),
    ("dynamic_pressure", "DynamicPressure"),
    ("tyre_loaded_radius", "TyreLoadedRadius"),
    ("tyres_load", "Load"),
    ("NdSlip", "NdSlip"),
    ("SuspensionTravel", "SuspensionTravel"),
    ("CamberRad", "CamberRad"),
)
"""Channels sent as 4-element lists, and the ``acsys.CS`` info each comes from."""

PER_TYRE_INFOS = (
    ("{0}_tire_temperature_core", "CurrentTyresCoreTemp"),
    ("{0}_damper_linear_potentiometer", "SuspensionTravel"),
    ("{0}_wheel_load", "Load"),
    ("{0}_tire_pressure", "DynamicPressure"),
)
"""The original's extra per-tyre scalar channels (``{0}`` = fl, fr, rl, rr)."""

MIN_SPEED_ARR_MPS = 15
"""The original plugin's floor on the AI line's speed array (kept for its clients)."""


def _int_or_none(value):
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _float_or_none(value):
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _vector(value, size):
    """A tuple of ``size`` floats, or None when the game gave something else."""
    try:
        items = tuple(float(item) for item in value)
    except (TypeError, ValueError):
        return None
    if len(items) < size:
        return None
    return items[:size]


class GameApi(object):
    """The ``ac`` and ``acsys`` modules behind calls that never raise.

    A call that fails (an old game without the function, a bad argument) returns the
    given default and is logged once per function.
    """

    def __init__(self, ac, acsys, logger):
        self.ac = ac
        self.acsys = acsys
        self.logger = logger
        self._failed = set()
        cs = acsys.CS
        self.cs = dict((name, getattr(cs, name)) for name in dir(cs) if not name.startswith("_"))
        # The game's acsys spells the lateral friction DY; its document says Dy.
        if "DY" not in self.cs and "Dy" in self.cs:
            self.cs["DY"] = self.cs["Dy"]
        self.wheels = [getattr(acsys.WHEELS, name, index) for index, name in enumerate(WHEEL_NAMES)]

    def has(self, name):
        return hasattr(self.ac, name)

    def call(self, name, *args, **kwargs):
        default = kwargs.get("default")
        function = getattr(self.ac, name, None)
        if function is None:
            self._fail_once(name, "the game's ac module has no {0}".format(name))
            return default
        try:
            return function(*args)
        except Exception as exc:
            self._fail_once(name, "ac.{0}{1} failed: {2}".format(name, args, exc))
            return default

    def car(self, info, *extra):
        """``ac.getCarState(0, acsys.CS.<info>, *extra)``, or None."""
        code = self.cs.get(info)
        if code is None:
            self._fail_once("CS." + info, "acsys.CS has no {0}".format(info))
            return None
        return self.call("getCarState", 0, code, *extra)

    def _fail_once(self, key, message):
        if key not in self._failed:
            self._failed.add(key)
            self.logger.warning("%s (logged once)", message)


class CarReader(object):
    """Samples the player's car (car 0) into a state dict of wire channels.

    Args:
        api: a ``GameApi``.
        pages: the shared-memory ``Pages``, or None.
        extra_channels: add the original's extra channels (contact headings, per-tyre
            lists, temperatures, pressures) beyond the required ones.
    """

    def __init__(self, api, pages, extra_channels=True):
        self.api = api
        self.pages = pages
        self.extra_channels = extra_channels
        self.frames = 0

    def sample(self):
        """The car's state now, by wire channel name."""
        self.frames += 1
        api = self.api
        physics = graphics = None
        if self.pages is not None:
            physics = self.pages.physics()
            graphics = self.pages.graphics()
        s = {}
        s["timestamp_ac"] = time.perf_counter()
        if graphics is not None:
            s["packetId"] = int(graphics.packetId)
            s["currentTime"] = int(graphics.iCurrentTime)
            s["iLastTime"] = int(graphics.iLastTime)
            s["completedLaps"] = int(graphics.completedLaps)
            s["isInPit"] = int(graphics.isInPit)
            s["penaltyTime"] = float(graphics.penaltyTime)
        else:
            s["packetId"] = self.frames
            s["currentTime"] = _int_or_none(api.car("LapTime"))
            s["iLastTime"] = _int_or_none(api.car("LastLap"))
            s["completedLaps"] = _int_or_none(api.car("LapCount"))
            s["isInPit"] = _int_or_none(api.call("isCarInPit", 0))
            s["penaltyTime"] = None
        position = _vector(api.car("WorldPosition"), 3) or (None, None, None)
        s["world_position_x"] = position[2]
        s["world_position_y"] = position[0]
        s["world_position_z"] = position[1]
        s["speed"] = _float_or_none(api.car("SpeedMS"))
        local = _vector(api.car("LocalVelocity"), 3) or (None, None, None)
        s["local_velocity_x"] = local[2]
        s["local_velocity_y"] = local[0]
        s["local_velocity_z"] = local[1]
        accel = _vector(api.car("AccG"), 3) or (None, None, None)
        s["accelX"] = accel[0]
        s["accelY"] = accel[2]
        s["accStatus"] = _float_or_none(api.car("Gas"))
        s["brakeStatus"] = _float_or_none(api.car("Brake"))
        s["actualGear"] = _int_or_none(api.car("Gear"))
        s["RPM"] = _float_or_none(api.car("RPM"))
        # AC's Steer is the steering-wheel angle in degrees (its document says radians;
        # the original plugin and every dataset treat it as degrees).
        s["steerAngle"] = _float_or_none(api.car("Steer"))
        if physics is not None:
            s["yaw"] = -float(physics.heading)
            s["pitch"] = float(physics.pitch)
            s["roll"] = float(physics.roll)
            s["numberOfTyresOut"] = int(physics.numberOfTyresOut)
        else:
            s["yaw"], s["pitch"], s["roll"] = self._attitude_from_contacts()
            s["numberOfTyresOut"] = None
        s["LastFF"] = _float_or_none(api.car("LastFF"))
        s["LapInvalidated"] = _int_or_none(api.car("LapInvalidated"))
        s["NormalizedSplinePosition"] = _float_or_none(api.car("NormalizedSplinePosition"))
        s["LapCount"] = _int_or_none(api.car("LapCount"))
        s["BestLap"] = _int_or_none(api.car("BestLap"))
        angular = _vector(api.car("LocalAngularVelocity"), 3) or (None, None, None)
        s["angular_velocity_x"] = angular[0]
        s["angular_velocity_y"] = angular[1]
        s["angular_velocity_z"] = angular[2]
        velocity = _vector(api.car("Velocity"), 3) or (None, None, None)
        s["velocity_x"] = velocity[0]
        s["velocity_y"] = velocity[1]
        s["velocity_z"] = velocity[2]
        s["cgHeight"] = _float_or_none(api.car("CGHeight"))
        self._per_tyre(s, "SlipAngle_{0}", "SlipAngle")
        self._per_tyre(s, "tyre_slip_ratio_{0}", "SlipRatio")
        self._per_tyre(s, "Dy_{0}", "DY")
        self._per_tyre(s, "wheel_speed_{0}", "WheelAngularSpeed")
        if self.extra_channels:
            if physics is not None:
                heading = list(physics.tyreContactHeading)
                for index, wheel in enumerate(WHEEL_NAMES):
                    for axis_index, axis in enumerate("xyz"):
                        key = "tyreContactHeading_{0}_{1}".format(wheel, axis)
                        s[key] = float(heading[3 * index + axis_index])
            for channel, info in LIST_INFOS:
                values = _vector(api.car(info), 4)
                s[channel] = list(values) if values is not None else None
            for channel, info in PER_TYRE_INFOS:
                self._per_tyre(s, channel, info)
        s["done"] = 0
        return s

    def _per_tyre(self, s, channel, info):
        values = _vector(self.api.car(info), 4) or (None, None, None, None)
        for index, tyre in enumerate(TYRES):
            s[channel.format(tyre)] = values[index]

    def _attitude_from_contacts(self):
        """(yaw, pitch, roll) in rad from the four tyre contact points (no shared memory)."""
        points = [self.contact_point(index) for index in range(4)]
        if any(p is None for p in points):
            return None, None, None
        fl, fr, rl, rr = points
        forward = [(fl[i] + fr[i] - rl[i] - rr[i]) / 2.0 for i in range(3)]
        right = [(fr[i] + rr[i] - fl[i] - rl[i]) / 2.0 for i in range(3)]
        flat = math.hypot(forward[0], forward[2])
        if flat < 1e-6:
            return None, None, None
        # Our plane is (AC z, AC x): yaw = atan2(AC x, AC z) of the car's forward vector.
        yaw = math.atan2(forward[0], forward[2])
        pitch = math.atan2(forward[1], flat)
        roll = math.atan2(right[1], math.hypot(right[0], right[2]))
        return yaw, pitch, roll

    def contact_point(self, wheel_index):
        point = self.api.car("TyreContactPoint", self.api.wheels[wheel_index])
        return _vector(point, 3)


def _text_or_empty(value):
    if isinstance(value, str):
        return value
    return ""


def collect_static_info(api, pages, ac_root, backend_version, logger):
    """The static info (docs/protocol.md), and whether it is complete.

    Complete means the car's wheelbase is known (not 0), as the original required before
    it streamed anything.
    """
    static = graphics = physics = None
    if pages is not None:
        static = pages.static()
        graphics = pages.graphics()
        physics = pages.physics()
    info = {}
    info["TrackName"] = _text_or_empty(api.call("getTrackName", 0))
    info["TrackConfiguration"] = _text_or_empty(api.call("getTrackConfiguration", 0))
    length = None
    if api.has("getTrackLength"):
        length = _float_or_none(api.call("getTrackLength", 0))
    if length is None and static is not None:
        length = float(static.trackSPlineLength)
    info["TrackLength"] = length if length is not None else 0.0
    info["CarName"] = _text_or_empty(api.call("getCarName", 0))
    if api.has("getWindSpeed"):
        info["WindSpeed"] = _float_or_none(api.call("getWindSpeed")) or 0.0
        info["WindDirection"] = _float_or_none(api.call("getWindDirection")) or 0.0
    elif graphics is not None:
        info["WindSpeed"] = float(graphics.windSpeed)
        info["WindDirection"] = float(graphics.windDirection)
    else:
        info["WindSpeed"] = 0.0
        info["WindDirection"] = 0.0
    splits = api.call("getLastSplits", 0)
    info["LastSplits"] = list(splits) if isinstance(splits, (list, tuple)) else []
    pitlane_name = "isCarInPitlane" if api.has("isCarInPitlane") else "isCarInPitline"
    info["isCarInPitlane"] = _int_or_none(api.call(pitlane_name, 0)) or 0
    info["isCarInPit"] = _int_or_none(api.call("isCarInPit", 0)) or 0
    info["autoShifterOn"] = 1 if physics is not None and physics.autoShifterOn else 0
    info["penaltiesEnabled"] = 1 if static is not None and static.penaltiesEnabled else 0
    info["shared_memory"] = 1 if pages is not None else 0
    if static is not None:
        info["acVersion"] = text(static.acVersion)
    points = []
    for index, wheel in enumerate(WHEEL_NAMES):
        point = _vector(api.car("TyreContactPoint", api.wheels[index]), 3)
        points.append(point)
        info["TyreContactPoint_" + wheel] = list(point) if point is not None else [0.0, 0.0, 0.0]
    radius = _vector(api.car("TyreRadius"), 4)
    info["CAR_WHEEL_R"] = list(radius) if radius is not None else [0.0] * 4
    fl, _fr, rl, rr = points
    if fl is not None and rl is not None and rr is not None:
        info["CAR_TRACK"] = _distance(rr, rl)
        info["CAR_WHEELBASE"] = _distance(fl, rl)
    else:
        info["CAR_TRACK"] = 0.0
        info["CAR_WHEELBASE"] = 0.0
    position = _vector(api.car("WorldPosition"), 3)
    info["WorldPosition"] = list(position) if position is not None else [0.0, 0.0, 0.0]
    info.update(_car_specs(ac_root, info["CarName"], logger))
    info["backend"] = "assetto_corsa"
    info["backend_version"] = backend_version
    return info, info["CAR_WHEELBASE"] != 0


def _distance(a, b):
    return math.sqrt(sum((a[i] - b[i]) ** 2 for i in range(3)))


def _number_in(text_value):
    match = re.search(r"[-+]?\d+(\.\d+)?", str(text_value))
    if match is None:
        raise ValueError("no number in {0!r}".format(text_value))
    return float(match.group(0))


_CAR_SPECS = {}
"""Car specs read so far, by ui_car.json path (the file does not change in a session)."""


def _car_specs(ac_root, car_name, logger):
    """CAR_MASS, CAR_DIM_X/Y/Z from ``content/cars/<car>/ui/ui_car.json`` when readable."""
    if not car_name:
        return {}
    path = os.path.join(ac_root, "content", "cars", car_name, "ui", "ui_car.json")
    if path not in _CAR_SPECS:
        _CAR_SPECS[path] = _read_car_specs(path, logger)
    return dict(_CAR_SPECS[path])


def _read_car_specs(path, logger):
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
        # ui_car.json files are often hand-written: a BOM, tabs and newlines inside strings.
        data = json.loads(raw.decode("utf-8-sig", "replace"), strict=False)
        specs = data["specs"]
        return {
            "CAR_MASS": int(_number_in(specs["weight"])),
            "CAR_DIM_X": _number_in(specs["length"]),
            "CAR_DIM_Y": _number_in(specs["height"]),
            "CAR_DIM_Z": _number_in(specs["width"]),
        }
    except Exception as exc:
        logger.info("static info: no car mass/dimensions from %s (%s)", path, exc)
        return {}


# ---------------------------------------------------------------------------------------
# Track info: the game's AI line, content/tracks/<track>/[<layout>/]ai/fast_lane.ai

_AI_HEADER = struct.Struct("<4i")
_AI_POINT = struct.Struct("<4fi")
_AI_COUNT = struct.Struct("<i")
_AI_EXTRA = struct.Struct("<18f")
AI_SPEED, AI_GAS, AI_BRAKE, AI_SIDE_LEFT, AI_SIDE_RIGHT = 0, 1, 2, 5, 6
"""Indices in each point's 18-float extra record (speed, gas, brake, lat G, radius,
side_left, side_right, camber, direction, normal xyz, length, forward xyz, tag, grade)."""


def fast_lane_path(ac_root, track, configuration):
    """The AI line of a track (layout folder first), or None when there is none."""
    base = os.path.join(ac_root, "content", "tracks", track)
    candidates = []
    if configuration:
        candidates.append(os.path.join(base, configuration, "ai", "fast_lane.ai"))
    candidates.append(os.path.join(base, "ai", "fast_lane.ai"))
    for path in candidates:
        if os.path.isfile(path):
            return path
    return None


def read_track_info(path):
    """Track info from a ``fast_lane.ai`` (version 7) file.

    Returns ``left_lane``, ``right_lane``, ``fast_lane`` ([x, y] lists in our plane, x =
    AC z, y = AC x), and per point ``throttle_arr``, ``brake_arr``, ``speed_arr`` (floored
    at 15, as the original) and ``angle_array`` (the original's angle, deg).

    The borders are the spline point plus ``side_left`` along the left normal of the
    line (central-difference tangent) and minus ``side_right`` along it, as
    ``acgym.track.loaders.fast_lane`` builds them. (The original plugin read the extra
    records 4 bytes early; its two offsets cancelled out for the borders.)

    Raises:
        ValueError: the file is not a version-7 AI spline or is truncated.
    """
    with open(path, "rb") as handle:
        data = handle.read()
    if len(data) < _AI_HEADER.size:
        raise ValueError("{0}: truncated header".format(path))
    version, count = _AI_HEADER.unpack_from(data, 0)[:2]
    if version != 7 or not 0 < count <= 10000000:
        raise ValueError(
            "{0}: not a version-7 fast_lane.ai (version {1}, {2} points)".format(
                path, version, count
            )
        )
    points_end = _AI_HEADER.size + count * _AI_POINT.size
    extra_end = points_end + _AI_COUNT.size + count * _AI_EXTRA.size
    if len(data) < extra_end:
        raise ValueError(
            "{0}: truncated ({1} bytes, {2} needed)".format(path, len(data), extra_end)
        )
    plane = []
    for index in range(count):
        x, _y, z = _AI_POINT.unpack_from(data, _AI_HEADER.size + index * _AI_POINT.size)[:3]
        plane.append((float(z), float(x)))
    extras = [
        _AI_EXTRA.unpack_from(data, points_end + _AI_COUNT.size + index * _AI_EXTRA.size)
        for index in range(count)
    ]
    left, right, angles = [], [], []
    for index in range(count):
        prev_p = plane[index - 1]
        next_p = plane[(index + 1) % count]
        tx = next_p[0] - prev_p[0]
        ty = next_p[1] - prev_p[1]
        norm = math.hypot(tx, ty) or 1.0
        nx, ny = -ty / norm, tx / norm
        px, py = plane[index]
        side_left = extras[index][AI_SIDE_LEFT]
        side_right = extras[index][AI_SIDE_RIGHT]
        left.append([px + nx * side_left, py + ny * side_left])
        right.append([px - nx * side_right, py - ny * side_right])
        # The original's angle: -atan2(prev AC z - AC z, AC x - prev AC x), in degrees.
        angles.append(-math.degrees(math.atan2(prev_p[0] - px, py - prev_p[1])))
    return {
        "left_lane": left,
        "right_lane": right,
        "fast_lane": [[p[0], p[1]] for p in plane],
        "throttle_arr": [float(e[AI_GAS]) for e in extras],
        "brake_arr": [float(e[AI_BRAKE]) for e in extras],
        "speed_arr": [max(MIN_SPEED_ARR_MPS, float(e[AI_SPEED])) for e in extras],
        "angle_array": angles,
    }
