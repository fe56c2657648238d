"""The emulated game's ``ac`` module: the calls of reference/ac-python-api.txt an app uses.

``make_ac_module(game)`` builds a module object bound to one :class:`EmulatedGame`;
the runner installs it as ``sys.modules["ac"]`` while the app runs. Like the game,
``getCarState`` returns 0 for an unknown car or info, and the UI calls return control
ids or 1 (they draw nothing).
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from acgym.emulated_game import acsys
from acgym.emulated_game.game import MPH_PER_MPS
from acgym.units import KMH_PER_MPS

if TYPE_CHECKING:
    from acgym.emulated_game.game import EmulatedGame


def _xyz(state: dict[str, Any], fmt: str, order: str) -> tuple[float, float, float]:
    """Three channels ``fmt.format(a)`` for ``a`` in ``order`` (AC's axis order)."""
    return tuple(float(state[fmt.format(a)]) for a in order)  # type: ignore[return-value]


def _car_state(game: EmulatedGame, info: int, optional: Any = None) -> Any:
    name = acsys.INFO_NAMES.get(info)
    st = game.state
    speed = float(st["speed"])
    scalar: dict[str, Callable[[], Any]] = {
        "SpeedMS": lambda: speed,
        "SpeedKMH": lambda: speed * KMH_PER_MPS,
        "SpeedMPH": lambda: speed * MPH_PER_MPS,
        "Gas": lambda: st["accStatus"],
        "Brake": lambda: st["brakeStatus"],
        "Clutch": lambda: 1.0,
        "Gear": lambda: st["actualGear"],
        "BestLap": lambda: st["BestLap"],
        "CGHeight": lambda: st["cgHeight"],
        "DriveTrainSpeed": lambda: speed * KMH_PER_MPS,
        "RPM": lambda: st["RPM"],
        "IsEngineLimiterOn": lambda: 0,
        "LapCount": lambda: st["LapCount"],
        "LapInvalidated": lambda: st["LapInvalidated"],
        "LapTime": lambda: st["currentTime"],
        "LastFF": lambda: st["LastFF"],
        "LastLap": lambda: st["iLastTime"],
        "NormalizedSplinePosition": lambda: st["NormalizedSplinePosition"],
        "PerformanceMeter": lambda: 0.0,
        "Steer": lambda: st["steerAngle"],
        "TurboBoost": lambda: 0.0,
        "Caster": lambda: 0.0,
        # AC's axes: x = the plane's y, y = up, z = the plane's x (DESIGN.md).
        "AccG": lambda: (float(st["accelX"]), 0.0, float(st["accelY"])),
        "LocalAngularVelocity": lambda: _xyz(st, "angular_velocity_{0}", "xyz"),
        "LocalVelocity": lambda: _xyz(st, "local_velocity_{0}", "yzx"),
        "SpeedTotal": lambda: (speed * KMH_PER_MPS, speed * MPH_PER_MPS, speed),
        "Velocity": lambda: _xyz(st, "velocity_{0}", "xyz"),
        "WorldPosition": lambda: _xyz(st, "world_position_{0}", "yzx"),
        "WheelAngularSpeed": lambda: game.per_tyre("wheel_speed_{t}"),
        "CamberRad": lambda: game.per_tyre("CamberRad"),
        "CamberDeg": lambda: tuple(math.degrees(v) for v in game.per_tyre("CamberRad")),
        "SlipAngle": lambda: game.per_tyre("SlipAngle_{t}"),
        "SlipRatio": lambda: game.per_tyre("tyre_slip_ratio_{t}"),
        "Mz": lambda: game.per_tyre("Mz"),
        "Load": lambda: game.per_tyre("tyres_load"),
        "TyreRadius": lambda: game.tyre_radius_m,
        "NdSlip": lambda: game.per_tyre("NdSlip"),
        "TyreSlip": lambda: game.per_tyre("NdSlip"),
        "DY": lambda: game.per_tyre("Dy_{t}"),
        "CurrentTyresCoreTemp": lambda: game.per_tyre("{t}_tire_temperature_core"),
        "ThermalState": lambda: game.per_tyre("{t}_tire_temperature_core"),
        "DynamicPressure": lambda: game.per_tyre("dynamic_pressure"),
        "TyreLoadedRadius": lambda: game.per_tyre("tyre_loaded_radius"),
        "SuspensionTravel": lambda: game.per_tyre("SuspensionTravel"),
        "TyreDirtyLevel": lambda: (0.0,) * 4,
    }
    if name in scalar:
        return scalar[name]()
    if name in acsys.WHEEL_INFOS:
        if optional not in (0, 1, 2, 3):
            return 0
        wheel = int(optional)
        if name == "TyreContactPoint":
            return game.contact_points_ac[wheel]
        if name == "TyreContactNormal":
            return (0.0, 1.0, 0.0)
        tyre = ("FL", "FR", "RL", "RR")[wheel]
        heading = _xyz(st, "tyreContactHeading_" + tyre + "_{0}", "xyz")
        if name == "TyreHeadingVector":
            return heading
        return (heading[2], 0.0, -heading[0])  # TyreRightVector
    if name == "Aero":
        return 0.0
    return 0


def make_ac_module(game: EmulatedGame) -> types.ModuleType:
    """An ``ac`` module bound to ``game``."""
    module = types.ModuleType("ac", "The emulated game's ac module (acgym.emulated_game).")
    controls: dict[int, str] = {}

    def new_control(text: str = "") -> int:
        control_id = len(controls) + 1
        controls[control_id] = str(text)
        return control_id

    def car_only(function: Callable[[], Any]) -> Callable[[int], Any]:
        def call(car_id: int) -> Any:
            return function() if car_id == 0 else -1

        return call

    def get_car_state(car_id: int, info: int, optional: Any = None) -> Any:
        if car_id != 0:
            return 0
        return _car_state(game, info, optional)

    def set_text(control_id: int, text: str) -> int:
        if control_id not in controls:
            return -1
        controls[control_id] = str(text)
        return 1

    def ext_reset_car() -> int:
        game.reset_car()
        return 1

    functions: dict[str, Callable[..., Any]] = {
        "getCarState": get_car_state,
        "getTrackName": car_only(lambda: game.track.name),
        "getTrackConfiguration": car_only(lambda: game.track.configuration),
        "getTrackLength": car_only(lambda: game.track.length_m),
        "getCarName": car_only(lambda: game.car.name),
        "getDriverName": car_only(lambda: "acgym"),
        "getLastSplits": car_only(lambda: []),
        "isCarInPitline": car_only(lambda: 0),
        "isCarInPit": car_only(lambda: 0),
        "isConnected": car_only(lambda: 1),
        "getCarsCount": lambda: 1,
        "getFocusedCar": lambda: 0,
        "log": lambda text: (game.log(text), 1)[1],
        "console": lambda text: (game.log(text), 1)[1],
        "newApp": lambda name: new_control(name),
        "addLabel": lambda parent, text: new_control(text),
        "addButton": lambda parent, text: new_control(text),
        "setText": set_text,
        "getText": lambda control_id: controls.get(control_id, -1),
        "setTitle": lambda control_id, text: 1,
        "setSize": lambda control_id, width, height: 1,
        "setPosition": lambda control_id, x, y: 1,
        "setBackgroundOpacity": lambda control_id, value: 1,
        "drawBorder": lambda control_id, value: 1,
        "setVisible": lambda control_id, value: 1,
        "setFontSize": lambda control_id, value: 1,
    }
    if game.csp:
        functions["ext_resetCar"] = ext_reset_car
    for name, function in functions.items():
        setattr(module, name, function)
    module.controls = controls  # type: ignore[attr-defined]
    return module
