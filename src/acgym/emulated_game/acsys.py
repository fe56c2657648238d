"""The emulated game's ``acsys`` module: the constants of the game's Python API.

Apps name car-state channels ``acsys.CS.<Name>`` and wheels ``acsys.WHEELS.<FL|FR|RL|RR>``
(reference/ac-python-api.txt). The numbers here are this emulation's own; apps use the
names. The lateral friction is spelled ``DY`` as in the game's module (its document
says ``Dy``).
"""

from __future__ import annotations

SCALAR_INFOS = (
    "SpeedMS",
    "SpeedMPH",
    "SpeedKMH",
    "Gas",
    "Brake",
    "Clutch",
    "Gear",
    "BestLap",
    "CGHeight",
    "DriftBestLap",
    "DriftLastLap",
    "DriftPoints",
    "DriveTrainSpeed",
    "RPM",
    "InstantDrift",
    "IsDriftInvalid",
    "IsEngineLimiterOn",
    "LapCount",
    "LapInvalidated",
    "LapTime",
    "LastFF",
    "LastLap",
    "NormalizedSplinePosition",
    "PerformanceMeter",
    "Steer",
    "TurboBoost",
    "Caster",
)
VECTOR_INFOS = (
    "AccG",
    "LocalAngularVelocity",
    "LocalVelocity",
    "SpeedTotal",
    "Velocity",
    "WorldPosition",
)
TYRE_INFOS = (
    "WheelAngularSpeed",
    "CamberRad",
    "CamberDeg",
    "SlipAngle",
    "SlipRatio",
    "Mz",
    "Load",
    "TyreRadius",
    "NdSlip",
    "TyreSlip",
    "DY",
    "CurrentTyresCoreTemp",
    "ThermalState",
    "DynamicPressure",
    "TyreLoadedRadius",
    "SuspensionTravel",
    "TyreDirtyLevel",
)
WHEEL_INFOS = ("TyreContactNormal", "TyreContactPoint", "TyreHeadingVector", "TyreRightVector")
OTHER_INFOS = ("Aero",)

ALL_INFOS = SCALAR_INFOS + VECTOR_INFOS + TYRE_INFOS + WHEEL_INFOS + OTHER_INFOS


class CS:
    """Car-state info identifiers for ``ac.getCarState``."""


for _code, _name in enumerate(ALL_INFOS):
    setattr(CS, _name, _code)

INFO_NAMES: dict[int, str] = dict(enumerate(ALL_INFOS))
"""Identifier -> name (the emulated ``ac`` module dispatches on it)."""


class WHEELS:
    """Wheel identifiers for the wheel infos (``TyreContactPoint`` ...)."""

    FL = 0
    FR = 1
    RL = 2
    RR = 3


class AERO:
    """Aero identifiers for the ``Aero`` info."""

    CD = 0
    CL_Front = 1
    CL_Rear = 2
