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
from acgym.protocol import channels as ch
from acgym.units import KMH_PER_MPS

if TYPE_CHECKING:
    from acgym.emulated_game.game import EmulatedGame


def _xyz(state: dict[str, Any], names: tuple[str, str, str]) -> tuple[float, float, float]:
    """Three channels of ``state``, named in AC's axis order."""
    return tuple(float(state[name]) for name in names)  # type: ignore[return-value]


def _car_state(game: EmulatedGame, info: int, optional: Any = None) -> Any:
    name = acsys.INFO_NAMES.get(info)
    st = game.state
    speed = float(st[ch.SPEED])
    scalar: dict[str, Callable[[], Any]] = {
        "SpeedMS": lambda: speed,
        "SpeedKMH": lambda: speed * KMH_PER_MPS,
        "SpeedMPH": lambda: speed * MPH_PER_MPS,
        "Gas": lambda: st[ch.ACC_STATUS],
        "Brake": lambda: st[ch.BRAKE_STATUS],
        "Clutch": lambda: 1.0,
        "Gear": lambda: st[ch.ACTUAL_GEAR],
        "BestLap": lambda: st[ch.BEST_LAP],
        "CGHeight": lambda: st[ch.CG_HEIGHT],
        "DriveTrainSpeed": lambda: speed * KMH_PER_MPS,
        "RPM": lambda: st[ch.RPM],
        "IsEngineLimiterOn": lambda: 0,
        "LapCount": lambda: st[ch.LAP_COUNT],
        "LapInvalidated": lambda: st[ch.LAP_INVALIDATED],
        "LapTime": lambda: st[ch.CURRENT_TIME],
        "LastFF": lambda: st[ch.LAST_FF],
        "LastLap": lambda: st[ch.I_LAST_TIME],
        "NormalizedSplinePosition": lambda: st[ch.NORMALIZED_SPLINE_POSITION],
        "PerformanceMeter": lambda: 0.0,
        "Steer": lambda: st[ch.STEER_ANGLE],
        "TurboBoost": lambda: 0.0,
        "Caster": lambda: 0.0,
        # AC's axes: x = the plane's y, y = up, z = the plane's x (DESIGN.md).
        "AccG": lambda: (float(st[ch.ACCEL_X]), 0.0, float(st[ch.ACCEL_Y])),
        "LocalAngularVelocity": lambda: _xyz(
            st, (ch.ANGULAR_VELOCITY_X, ch.ANGULAR_VELOCITY_Y, ch.ANGULAR_VELOCITY_Z)
        ),
        "LocalVelocity": lambda: _xyz(
            st, (ch.LOCAL_VELOCITY_Y, ch.LOCAL_VELOCITY_Z, ch.LOCAL_VELOCITY_X)
        ),
        "SpeedTotal": lambda: (speed * KMH_PER_MPS, speed * MPH_PER_MPS, speed),
        "Velocity": lambda: _xyz(st, (ch.VELOCITY_X, ch.VELOCITY_Y, ch.VELOCITY_Z)),
        "WorldPosition": lambda: _xyz(
            st, (ch.WORLD_POSITION_Y, ch.WORLD_POSITION_Z, ch.WORLD_POSITION_X)
        ),
        "WheelAngularSpeed": lambda: game.per_tyre(ch.WHEEL_SPEED),
        "CamberRad": lambda: game.per_tyre(ch.CAMBER_RAD),
        "CamberDeg": lambda: tuple(math.degrees(v) for v in game.per_tyre(ch.CAMBER_RAD)),
        "SlipAngle": lambda: game.per_tyre(ch.SLIP_ANGLE),
        "SlipRatio": lambda: game.per_tyre(ch.TYRE_SLIP_RATIO),
        "Mz": lambda: game.per_tyre(ch.MZ),
        "Load": lambda: game.per_tyre(ch.TYRES_LOAD),
        "TyreRadius": lambda: game.tyre_radius_m,
        "NdSlip": lambda: game.per_tyre(ch.ND_SLIP),
        "TyreSlip": lambda: game.per_tyre(ch.ND_SLIP),
        "DY": lambda: game.per_tyre(ch.DY),
        "CurrentTyresCoreTemp": lambda: game.per_tyre(ch.TIRE_TEMPERATURE_CORE),
        "ThermalState": lambda: game.per_tyre(ch.TIRE_TEMPERATURE_CORE),
        "DynamicPressure": lambda: game.per_tyre(ch.DYNAMIC_PRESSURE),
        "TyreLoadedRadius": lambda: game.per_tyre(ch.TYRE_LOADED_RADIUS),
        "SuspensionTravel": lambda: game.per_tyre(ch.SUSPENSION_TRAVEL),
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
        heading = _xyz(
            st,
            (
                ch.TYRE_CONTACT_HEADING_X[wheel],
                ch.TYRE_CONTACT_HEADING_Y[wheel],
                ch.TYRE_CONTACT_HEADING_Z[wheel],
            ),
        )
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
