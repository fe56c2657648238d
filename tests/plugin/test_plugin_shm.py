"""Shared-memory layouts: every field of the game's document, in its order, at the offset
4-byte packing gives it; strings round-trip; without pages the plugin says so."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from types import ModuleType

import pytest
from plugin_helpers import plugin_modules

# The field declarations of reference/ac-shared-memory.txt, in the document's order.
DOCUMENT = {
    "acpmf_physics": """
        int packetId; float gas; float brake; float fuel; int gear; int rpms;
        float steerAngle; float speedKmh; float velocity[3]; float accG[3];
        float wheelSlip[4]; float wheelLoad[4]; float wheelsPressure[4];
        float wheelAngularSpeed[4]; float tyreWear[4]; float tyreDirtyLevel[4];
        float tyreCoreTemperature[4]; float camberRAD[4]; float suspensionTravel[4];
        float drs; float tc; float heading; float pitch; float roll; float cgHeight;
        float carDamage[5]; int numberOfTyresOut; int pitLimiterOn; float abs;
        float kersCharge; float kersInput; int autoShifterOn; float rideHeight[2];
        float turboBoost; float ballast; float airDensity; float airTemp; float roadTemp;
        float localAngularVel[3]; float finalFF; float performanceMeter; int engineBrake;
        int ersRecoveryLevel; int ersPowerLevel; int ersHeatCharging; int ersIsCharging;
        float kersCurrentKJ; int drsAvailable; int drsEnabled; float brakeTemp[4];
        float clutch; float tyreTempI[4]; float tyreTempM[4]; float tyreTempO[4];
        int isAIControlled; float tyreContactPoint[4][3]; float tyreContactNormal[4][3];
        float tyreContactHeading[4][3]; float brakeBias; float localVelocity[3];
    """,
    "acpmf_graphics": """
        int packetId; AC_STATUS status; AC_SESSION_TYPE session; wchar_t currentTime[15];
        wchar_t lastTime[15]; wchar_t bestTime[15]; wchar_t split[15]; int completedLaps;
        int position; int iCurrentTime; int iLastTime; int iBestTime; float sessionTimeLeft;
        float distanceTraveled; int isInPit; int currentSectorIndex; int lastSectorTime;
        int numberOfLaps; wchar_t tyreCompound[33]; float replayTimeMultiplier;
        float normalizedCarPosition; float carCoordinates[3]; float penaltyTime;
        AC_FLAG_TYPE flag; int idealLineOn; int isInPitLane; float surfaceGrip;
        int mandatoryPitDone; float windSpeed; float windDirection;
    """,
    "acpmf_static": """
        wchar_t smVersion[15]; wchar_t acVersion[15]; int numberOfSessions; int numCars;
        wchar_t carModel[33]; wchar_t track[33]; wchar_t playerName[33];
        wchar_t playerSurname[33]; wchar_t playerNick[33]; int sectorCount; float maxTorque;
        float maxPower; int maxRpm; float maxFuel; float suspensionMaxTravel[4];
        float tyreRadius[4]; float maxTurboBoost; float deprecated_1; float deprecated_2;
        int penaltiesEnabled; float aidFuelRate; float aidTireRate; float aidMechanicalDamage;
        int aidAllowTyreBlankets; float aidStability; int aidAutoClutch; int aidAutoBlip;
        int hasDRS; int hasERS; int hasKERS; float kersMaxJ; int engineBrakeSettingsCount;
        int ersPowerControllerCount; float trackSPlineLength; wchar_t trackConfiguration[33];
        float ersMaxJ; int isTimedRace; int hasExtraLap; wchar_t carSkin[33];
        int reversedGridPositions; int PitWindowStart; int PitWindowEnd;
    """,
}
TYPE_BYTES = {
    "int": 4,
    "float": 4,
    "wchar_t": 2,
    "AC_STATUS": 4,
    "AC_SESSION_TYPE": 4,
    "AC_FLAG_TYPE": 4,
}


def document_fields(page: str) -> list[tuple[str, int, int]]:
    """(name, offset, size) of each field, laid out with the game's 4-byte packing."""
    fields = []
    offset = 0
    for declaration in filter(None, (d.strip() for d in DOCUMENT[page].split(";"))):
        kind, rest = declaration.split()
        name = rest.split("[")[0]
        count = 1
        for dimension in re.findall(r"\[(\d+)\]", rest):
            count *= int(dimension)
        element = TYPE_BYTES[kind]
        offset = -(-offset // element) * element  # align to min(size, 4)
        fields.append((name, offset, element * count))
        offset += element * count
    return fields


@pytest.fixture(scope="module")
def shm() -> Iterator[ModuleType]:
    with plugin_modules("acgym_shm") as (module,):
        yield module


@pytest.mark.parametrize("page", sorted(DOCUMENT))
def test_layout_is_the_documents_field_for_field(shm: ModuleType, page: str) -> None:
    structure = shm.STRUCTURES[page]
    expected = document_fields(page)
    actual = [
        (name, getattr(structure, name).offset, getattr(structure, name).size)
        for name, _ in structure._fields_
    ]
    assert actual == expected


def test_page_sizes(shm: ModuleType) -> None:
    import ctypes

    for page in DOCUMENT:
        _name, offset, size = document_fields(page)[-1]
        assert ctypes.sizeof(shm.STRUCTURES[page]) == offset + size


def test_strings_round_trip(shm: ModuleType) -> None:
    static = shm.STRUCTURES["acpmf_static"]()
    shm.set_text(static.track, "ks_nordschleife_\u00fc")
    assert shm.text(static.track) == "ks_nordschleife_\u00fc"
    shm.set_text(static.acVersion, "x" * 40)  # truncated, still terminated
    assert shm.text(static.acVersion) == "x" * 14


def test_pages_are_copied_from_the_hosts_buffers(shm: ModuleType) -> None:
    buffers: dict[str, bytearray] = {}

    class Host:
        @staticmethod
        def open_shared_page(name: str, size: int) -> bytearray:
            buffers[name] = bytearray(size)
            return buffers[name]

    pages = shm.open_pages(logging.getLogger("test"), Host)
    physics = shm.STRUCTURES["acpmf_physics"].from_buffer(buffers["acpmf_physics"])
    physics.heading = 1.5
    physics.numberOfTyresOut = 3
    assert pages.physics().heading == 1.5
    assert pages.physics().numberOfTyresOut == 3
    copy = pages.physics()
    physics.heading = -2.0
    assert copy.heading == 1.5  # a copy, not a view the game rewrites
    pages.close()


def test_no_pages_off_windows_without_a_host(
    shm: ModuleType, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shm.sys, "platform", "linux")
    with caplog.at_level(logging.INFO):
        assert shm.open_pages(logging.getLogger("test_shm")) is None
    assert "ac module alone" in caplog.text


def test_a_host_without_pages_is_a_logged_fallback(
    shm: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    class Host:
        @staticmethod
        def open_shared_page(name: str, size: int) -> bytearray:
            raise OSError("no such mapping")

    with caplog.at_level(logging.INFO):
        assert shm.open_pages(logging.getLogger("test_shm"), Host) is None
    assert "no such mapping" in caplog.text
