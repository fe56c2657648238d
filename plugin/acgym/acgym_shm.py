"""The game's shared-memory pages (``acpmf_physics``, ``acpmf_graphics``, ``acpmf_static``).

The layouts follow the game's shared-memory document (reference/ac-shared-memory.txt),
field by field, 4-byte packing as the game writes them. Strings are ``wchar_t`` (UTF-16 on
Windows); they are declared as 16-bit integers so the layout is the same on every
platform (the emulated game builds the pages on Linux) and decoded with ``text()``.

On Windows (and under Proton/Wine, where the game's Python is a Windows build) the pages
are named file mappings opened with ``mmap.mmap(-1, size, "Local\\\\acpmf_physics")``.
Elsewhere there are no pages unless a host offers them (the emulated game does), and
the plugin falls back to the ``ac`` module alone (docs/plugin.md lists what is lost).

Python 3.3, standard library only; ``ctypes`` and ``mmap`` may be missing from the game's
Python, in which case ``open_pages`` says so and returns None.
"""

import sys

try:
    import ctypes
    from ctypes import c_float, c_int32, c_uint16
except ImportError:  # pragma: no cover - the game's Python without _ctypes.pyd
    ctypes = None

PAGE_NAMES = ("acpmf_physics", "acpmf_graphics", "acpmf_static")

AC_OFF = 0
AC_REPLAY = 1
AC_LIVE = 2
AC_PAUSE = 3


def _fields(spec):
    out = []
    for name, kind, count in spec:
        ctype = {"i": c_int32, "f": c_float, "w": c_uint16}[kind]
        out.append((name, ctype * count if count > 1 or kind == "w" else ctype))
    return out


_PHYSICS = (
    ("packetId", "i", 1),
    ("gas", "f", 1),
    ("brake", "f", 1),
    ("fuel", "f", 1),
    ("gear", "i", 1),
    ("rpms", "i", 1),
    ("steerAngle", "f", 1),
    ("speedKmh", "f", 1),
    ("velocity", "f", 3),
    ("accG", "f", 3),
    ("wheelSlip", "f", 4),
    ("wheelLoad", "f", 4),
    ("wheelsPressure", "f", 4),
    ("wheelAngularSpeed", "f", 4),
    ("tyreWear", "f", 4),
    ("tyreDirtyLevel", "f", 4),
    ("tyreCoreTemperature", "f", 4),
    ("camberRAD", "f", 4),
    ("suspensionTravel", "f", 4),
    ("drs", "f", 1),
    ("tc", "f", 1),
    ("heading", "f", 1),
    ("pitch", "f", 1),
    ("roll", "f", 1),
    ("cgHeight", "f", 1),
    ("carDamage", "f", 5),
    ("numberOfTyresOut", "i", 1),
    ("pitLimiterOn", "i", 1),
    ("abs", "f", 1),
    ("kersCharge", "f", 1),
    ("kersInput", "f", 1),
    ("autoShifterOn", "i", 1),
    ("rideHeight", "f", 2),
    ("turboBoost", "f", 1),
    ("ballast", "f", 1),
    ("airDensity", "f", 1),
    ("airTemp", "f", 1),
    ("roadTemp", "f", 1),
    ("localAngularVel", "f", 3),
    ("finalFF", "f", 1),
    ("performanceMeter", "f", 1),
    ("engineBrake", "i", 1),
    ("ersRecoveryLevel", "i", 1),
    ("ersPowerLevel", "i", 1),
    ("ersHeatCharging", "i", 1),
    ("ersIsCharging", "i", 1),
    ("kersCurrentKJ", "f", 1),
    ("drsAvailable", "i", 1),
    ("drsEnabled", "i", 1),
    ("brakeTemp", "f", 4),
    ("clutch", "f", 1),
    ("tyreTempI", "f", 4),
    ("tyreTempM", "f", 4),
    ("tyreTempO", "f", 4),
    ("isAIControlled", "i", 1),
    ("tyreContactPoint", "f", 12),
    ("tyreContactNormal", "f", 12),
    ("tyreContactHeading", "f", 12),
    ("brakeBias", "f", 1),
    ("localVelocity", "f", 3),
)

_GRAPHICS = (
    ("packetId", "i", 1),
    ("status", "i", 1),
    ("session", "i", 1),
    ("currentTime", "w", 15),
    ("lastTime", "w", 15),
    ("bestTime", "w", 15),
    ("split", "w", 15),
    ("completedLaps", "i", 1),
    ("position", "i", 1),
    ("iCurrentTime", "i", 1),
    ("iLastTime", "i", 1),
    ("iBestTime", "i", 1),
    ("sessionTimeLeft", "f", 1),
    ("distanceTraveled", "f", 1),
    ("isInPit", "i", 1),
    ("currentSectorIndex", "i", 1),
    ("lastSectorTime", "i", 1),
    ("numberOfLaps", "i", 1),
    ("tyreCompound", "w", 33),
    ("replayTimeMultiplier", "f", 1),
    ("normalizedCarPosition", "f", 1),
    ("carCoordinates", "f", 3),
    ("penaltyTime", "f", 1),
    ("flag", "i", 1),
    ("idealLineOn", "i", 1),
    ("isInPitLane", "i", 1),
    ("surfaceGrip", "f", 1),
    ("mandatoryPitDone", "i", 1),
    ("windSpeed", "f", 1),
    ("windDirection", "f", 1),
)

_STATIC = (
    ("smVersion", "w", 15),
    ("acVersion", "w", 15),
    ("numberOfSessions", "i", 1),
    ("numCars", "i", 1),
    ("carModel", "w", 33),
    ("track", "w", 33),
    ("playerName", "w", 33),
    ("playerSurname", "w", 33),
    ("playerNick", "w", 33),
    ("sectorCount", "i", 1),
    ("maxTorque", "f", 1),
    ("maxPower", "f", 1),
    ("maxRpm", "i", 1),
    ("maxFuel", "f", 1),
    ("suspensionMaxTravel", "f", 4),
    ("tyreRadius", "f", 4),
    ("maxTurboBoost", "f", 1),
    ("deprecated_1", "f", 1),
    ("deprecated_2", "f", 1),
    ("penaltiesEnabled", "i", 1),
    ("aidFuelRate", "f", 1),
    ("aidTireRate", "f", 1),
    ("aidMechanicalDamage", "f", 1),
    ("aidAllowTyreBlankets", "i", 1),
    ("aidStability", "f", 1),
    ("aidAutoClutch", "i", 1),
    ("aidAutoBlip", "i", 1),
    ("hasDRS", "i", 1),
    ("hasERS", "i", 1),
    ("hasKERS", "i", 1),
    ("kersMaxJ", "f", 1),
    ("engineBrakeSettingsCount", "i", 1),
    ("ersPowerControllerCount", "i", 1),
    ("trackSPlineLength", "f", 1),
    ("trackConfiguration", "w", 33),
    ("ersMaxJ", "f", 1),
    ("isTimedRace", "i", 1),
    ("hasExtraLap", "i", 1),
    ("carSkin", "w", 33),
    ("reversedGridPositions", "i", 1),
    ("PitWindowStart", "i", 1),
    ("PitWindowEnd", "i", 1),
)

LAYOUTS = {"acpmf_physics": _PHYSICS, "acpmf_graphics": _GRAPHICS, "acpmf_static": _STATIC}
"""Page name -> ((field, kind, count), ...); kind ``i`` int32, ``f`` float32, ``w`` wchar."""

if ctypes is not None:

    class SPageFilePhysics(ctypes.Structure):
        """Physics page: changes every physics step."""

        _pack_ = 4
        _fields_ = _fields(_PHYSICS)

    class SPageFileGraphic(ctypes.Structure):
        """Graphics page: changes every graphics frame."""

        _pack_ = 4
        _fields_ = _fields(_GRAPHICS)

    class SPageFileStatic(ctypes.Structure):
        """Static page: set when the session starts."""

        _pack_ = 4
        _fields_ = _fields(_STATIC)

    STRUCTURES = {
        "acpmf_physics": SPageFilePhysics,
        "acpmf_graphics": SPageFileGraphic,
        "acpmf_static": SPageFileStatic,
    }
else:  # pragma: no cover
    STRUCTURES = {}


def text(chars):
    """A ``wchar_t`` array field as a str (up to the first NUL)."""
    out = []
    for code in chars:
        if code == 0:
            break
        out.append(chr(code))
    return "".join(out)


def set_text(chars, value):
    """Write a str into a ``wchar_t`` array field (NUL-terminated, truncated to fit)."""
    codes = [ord(ch) for ch in value[: len(chars) - 1]]
    for index in range(len(chars)):
        chars[index] = codes[index] if index < len(codes) else 0


class Pages(object):
    """The three pages, read by copying (``physics()``, ``graphics()``, ``static()``).

    Each call copies the page (about 1 KB), so a reader gets one consistent-looking
    snapshot per call rather than fields the game rewrites while they are read.
    """

    def __init__(self, buffers, closers=()):
        self._buffers = buffers
        self._closers = list(closers)

    def _copy(self, name):
        return STRUCTURES[name].from_buffer_copy(self._buffers[name])

    def physics(self):
        return self._copy("acpmf_physics")

    def graphics(self):
        return self._copy("acpmf_graphics")

    def static(self):
        return self._copy("acpmf_static")

    def close(self):
        for close in self._closers:
            try:
                close()
            except Exception:  # closing what is already gone is fine
                pass
        self._closers = []


def open_pages(logger, host=None):
    """Open the three pages, or return None (with one log line saying why).

    Args:
        logger: where to say what happened.
        host: an object with ``open_shared_page(name, size)`` returning a writable
            buffer (the emulated game); ``None`` uses the game's named mappings on
            Windows.
    """
    if ctypes is None:
        logger.warning(
            "shared memory: ctypes is missing from the game's Python (copy _ctypes.pyd "
            "into apps/python/acgym/DLLs); yaw, pitch, roll, lap times, tyres out and "
            "packetId come from the ac module alone"
        )
        return None
    buffers = {}
    closers = []
    try:
        for name in PAGE_NAMES:
            size = ctypes.sizeof(STRUCTURES[name])
            if host is not None:
                buffers[name] = host.open_shared_page(name, size)
            elif sys.platform == "win32":
                import mmap

                page = mmap.mmap(-1, size, "Local\\" + name)
                buffers[name] = page
                closers.append(page.close)
            else:
                logger.info(
                    "shared memory: no %s page on %s (the game's pages exist on Windows and "
                    "Proton); using the ac module alone",
                    name,
                    sys.platform,
                )
                return None
    except Exception as exc:
        logger.warning("shared memory: cannot open the game's pages (%s); using the ac module", exc)
        for close in closers:
            close()
        return None
    return Pages(buffers, closers)
