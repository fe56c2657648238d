"""acgym: the Assetto Corsa app that streams the car's telemetry and takes controls.

The game loads ``apps/python/acgym/acgym.py`` and calls ``acMain(ac_version)`` once,
``acUpdate(deltaT)`` every graphics frame and ``acShutdown()`` at the end, all on the
game's thread. This app:

- reads ``config.ini`` beside this file (docs/plugin.md lists the keys);
- serves the acgym protocol v1 (docs/protocol.md), or the original sensors_par format
  with ``legacy = true``: a UDP ego stream (port 2345) that sends the car's state at 25
  Hz on its own drift-free clock and applies the controls it receives through the
  configured backend (vJoy, uinput, none), and a TCP management channel (port 2347):
  hello/token, reset, static info, config, track info, counters;
- binds 127.0.0.1 unless configured otherwise; any other address needs a token.

Threads: every ``ac`` call happens here, on the game's thread. ``acUpdate`` samples the
car into a snapshot that the ego thread sends at its next tick, and runs the requests
that need the game (reset, static info) which the management threads hand over.
Controls are applied on arrival by the ego thread (the joystick driver is thread-safe).

Python 3.3 (the game's), standard library only; nothing here may raise into the game.
"""

import logging
import logging.handlers
import os
import sys
import threading
import time

APP_NAME = "acgym"
VERSION = "0.1.0"
APP_DIR = os.path.dirname(os.path.abspath(__file__))

# The game runs every app in one Python and imports this file by path; our modules live
# beside it (named acgym_* so they cannot clash with other apps' modules). DLLs/ holds
# _ctypes.pyd when the game's Python lacks it (docs/plugin.md).
for _path in (os.path.join(APP_DIR, "DLLs"), APP_DIR):
    if os.path.isdir(_path) and _path not in sys.path:
        sys.path.insert(0, _path)

import acgym_config  # noqa: E402
import acgym_controls  # noqa: E402
import acgym_servers  # noqa: E402
import acgym_shm  # noqa: E402
import acgym_telemetry  # noqa: E402
import acgym_wire as wire  # noqa: E402

JOB_TIMEOUT_S = 10.0
"""How long a management request waits for the game thread before ``busy``."""
STATIC_INFO_TIMEOUT_S = 2.0
"""How long a static-info request waits for a fresh read before sending the cached one."""
UI_PERIOD_S = 0.5


class _Job(object):
    def __init__(self, function):
        self.function = function
        self.done = threading.Event()
        self.result = None
        self.error = None


class GameThread(object):
    """Requests for the game's thread: ``call`` (any thread) waits for ``run_pending``."""

    def __init__(self):
        self._lock = threading.Lock()
        self._jobs = []

    def call(self, function, timeout_s):
        job = _Job(function)
        with self._lock:
            self._jobs.append(job)
        if not job.done.wait(timeout_s):
            with self._lock:
                if job in self._jobs:
                    self._jobs.remove(job)
            raise acgym_servers.BusyError(
                "the game did not run the request within {0:.0f} s (is it loading or "
                "frozen?)".format(timeout_s)
            )
        if job.error is not None:
            raise job.error
        return job.result

    def run_pending(self):
        with self._lock:
            jobs, self._jobs = self._jobs, []
        for job in jobs:
            try:
                job.result = job.function()
            except Exception as exc:
                job.error = exc
            job.done.set()


class _AcLogHandler(logging.Handler):
    """Warnings and errors also go to the game's log.txt and console."""

    def __init__(self, ac):
        logging.Handler.__init__(self, logging.WARNING)
        self.ac = ac

    def emit(self, record):
        try:
            line = "acgym: " + self.format(record)
            self.ac.log(line)
            self.ac.console(line)
        except Exception:  # the game's log is best effort
            pass


class App(object):
    """The app: config, logging, car reader, control backend, servers, window.

    Args:
        ac, acsys: the game's modules (or the emulated game's).
        app_dir: the folder holding config.ini (and logs/).
        host: the emulated game's host object (shared pages, virtual vJoy), or None.
    """

    def __init__(self, ac, acsys, app_dir=APP_DIR, host=None):
        self.ac = ac
        self.acsys = acsys
        self.app_dir = app_dir
        self.host = host
        self.settings = dict(acgym_config.DEFAULTS)
        self.logger = logging.getLogger("acgym_plugin.{0}".format(id(self)))
        self.logger.propagate = False
        self.logger.setLevel(logging.INFO)
        self.jobs = GameThread()
        self.counters = acgym_servers.Counters(self.logger)
        self.api = None
        self.reader = None
        self.pages = None
        self.backend = acgym_controls.NoneBackend(self.logger, "the app did not start")
        self.backend_error = ""
        self.ego = None
        self.mgmt = None
        self.error = ""
        self.window = None
        self.label = None
        self._handlers = []
        self._static_info = None
        self._static_lock = threading.Lock()
        self._track_info = None
        self._track_lock = threading.Lock()
        self._snapshot = None
        self._snapshot_lock = threading.Lock()
        self._last_ui_s = 0.0
        self._update_errors = 0
        self._ac_root = os.path.normpath(os.path.join(app_dir, "..", "..", ".."))

    # -- lifecycle ------------------------------------------------------------------------

    def main(self, ac_version=None):
        """Start everything; a failure is logged and shown, never raised."""
        self._make_window()
        try:
            self.settings = acgym_config.load(os.path.join(self.app_dir, "config.ini"))
            self._setup_logging()
            self.logger.info(
                "acgym %s starting (game %s, Python %s)",
                VERSION,
                ac_version,
                sys.version.split()[0],
            )
            self.api = acgym_telemetry.GameApi(self.ac, self.acsys, self.logger)
            if self.settings["shared_memory"] == "auto":
                self.pages = acgym_shm.open_pages(self.logger, self.host)
            self.reader = acgym_telemetry.CarReader(
                self.api, self.pages, self.settings["extra_channels"]
            )
            self.backend, self.backend_error = acgym_controls.make_backend(
                self.settings, self.logger, self.host
            )
            self._start_servers()
        except Exception as exc:
            self.error = str(exc)
            if not self._handlers:
                self._setup_logging(fallback=True)
            self.logger.exception("acgym did not start: %s", exc)
            self._stop_servers()
        self._update_ui(force=True)
        return APP_NAME

    def _start_servers(self):
        config = self.settings
        host = config["host"]
        token = config["token"]
        if not acgym_config.is_loopback(host):
            if config["legacy"]:
                raise acgym_config.ConfigError(
                    "config.ini: legacy mode has no token, so it binds loopback only, not "
                    "{0!r}; set host = 127.0.0.1 or legacy = false".format(host)
                )
            if not token:
                raise acgym_config.ConfigError(
                    "config.ini: host = {0} is reachable from other machines: set a token "
                    "(and give the client the same one)".format(host)
                )
        if config["legacy"] and token:
            self.logger.warning("legacy mode has no token: the token in config.ini is unused")
            token = ""
        self.ego = acgym_servers.EgoServer(
            self,
            host,
            config["ego_port"],
            token,
            config["sampling_freq_hz"],
            config["legacy"],
            self.logger,
            self.counters,
            client_timeout_s=config["client_timeout_s"],
            client_drop_s=config["client_drop_s"],
            capture_port=config["screen_capture_port"] if config["screen_capture_enable"] else None,
        )
        self.mgmt = acgym_servers.ManagementServer(
            self,
            host,
            config["mgmt_port"],
            token,
            config["legacy"],
            self.logger,
            self.counters,
            ego=self.ego,
        )
        self.ego.start()
        self.mgmt.start()

    def _stop_servers(self):
        for server in (self.mgmt, self.ego):
            if server is not None:
                try:
                    server.stop()
                except Exception:
                    self.logger.exception("stopping a server failed")

    def update(self, delta_t=None):
        """One game frame: requests for the game thread, static info, the snapshot."""
        if self.reader is None:
            return
        try:
            self.jobs.run_pending()
            if self._static_info is None:
                self._collect_static_info()
            elif self.ego is not None and self.ego.client_address is not None:
                state = self.reader.sample()
                with self._snapshot_lock:
                    self._snapshot = state
            elif self._snapshot is not None:
                with self._snapshot_lock:
                    self._snapshot = None  # no stale state for the next client
            self.backend.update()
            self._update_ui()
        except Exception as exc:
            self._update_errors += 1
            if self._update_errors <= 3 or self._update_errors % 1000 == 0:
                self.logger.exception("acUpdate failed (#%d): %s", self._update_errors, exc)

    def shutdown(self):
        """Stop the servers (clients are told), release the controls and the pages."""
        self._stop_servers()
        try:
            self.backend.close()
        except Exception:
            self.logger.exception("closing the control backend failed")
        if self.pages is not None:
            self.pages.close()
        self.logger.info("acgym stopped; counters %s", self.counters.snapshot())
        for handler in self._handlers:
            self.logger.removeHandler(handler)
            handler.close()
        self._handlers = []

    # -- game thread ---------------------------------------------------------------------

    def _collect_static_info(self):
        info, complete = acgym_telemetry.collect_static_info(
            self.api, self.pages, self._ac_root, "acgym-plugin " + VERSION, self.logger
        )
        if complete:
            with self._static_lock:
                first = self._static_info is None
                self._static_info = info
            if not first:
                return
            self.logger.info(
                "car %s on %s %s (%.0f m); streaming from now on",
                info["CarName"],
                info["TrackName"],
                info["TrackConfiguration"],
                info["TrackLength"],
            )

    def _do_reset(self):
        self.backend.apply(wire.SAFE_CONTROLS)
        if not self.api.has("ext_resetCar"):
            message = (
                "the car was not reset: ac.ext_resetCar is missing; install Custom Shaders "
                "Patch (it adds it), or restart the session by hand"
            )
            self.logger.error(message)
            raise RuntimeError(message)
        self.ac.ext_resetCar()
        self.logger.info("car reset (ac.ext_resetCar)")
        state = self.reader.sample()
        with self._snapshot_lock:
            self._snapshot = state

    # -- Source (called by the server threads) -------------------------------------------

    def snapshot(self):
        if self._static_info is None:
            return None
        with self._snapshot_lock:
            return self._snapshot

    def apply(self, controls):
        self.backend.apply(controls)

    def hello_info(self):
        return {
            "version": wire.PROTOCOL_VERSION,
            "server": "acgym-plugin {0}".format(VERSION),
            "backend": "assetto_corsa",
            "modes": ["realtime"],
            "control_rate_hz": float(self.settings["sampling_freq_hz"]),
            "ego_port": self.ego.address[1] if self.ego is not None else 0,
            "reset_options": [],
            "max_request_bytes": wire.MGMT_REQUEST_MAX_BYTES,
        }

    def reset(self):
        self.jobs.call(self._do_reset, JOB_TIMEOUT_S)

    def static_info(self):
        if self._static_info is None:
            raise acgym_servers.BusyError(
                "the static info is not complete yet (the car is not on track): wait for the "
                "session to load"
            )
        try:
            self.jobs.call(self._collect_static_info, STATIC_INFO_TIMEOUT_S)
        except acgym_servers.BusyError:
            pass  # the cached copy will do
        with self._static_lock:
            return dict(self._static_info)

    def config_values(self):
        values = {}
        for key, _, _, _ in acgym_config.KEYS:
            if key != "token":
                values[key] = self.settings[key]
        values["ego_sampling_freq"] = float(self.settings["sampling_freq_hz"])
        values["version"] = VERSION
        values["control_backend_active"] = self.backend.name if self.backend.active else "none"
        values["control_backend_error"] = self.backend_error
        values["shared_memory_active"] = self.pages is not None
        values["token_required"] = bool(self.settings["token"]) and not self.settings["legacy"]
        return values

    def config(self):
        return self.config_values()

    def legacy_config(self):
        values = self.config_values()
        values["ego_sampling_freq"] = self.settings["sampling_freq_hz"]
        return values

    def track_info(self):
        with self._track_lock:
            if self._track_info is None:
                self._track_info = self._read_track_info()
            return self._track_info

    def _read_track_info(self):
        with self._static_lock:
            info = self._static_info
        if info is None:
            raise acgym_servers.BusyError("the session is still loading: ask again")
        path = acgym_telemetry.fast_lane_path(
            self._ac_root, info["TrackName"], info["TrackConfiguration"]
        )
        if path is None:
            self.logger.info("track info: no ai/fast_lane.ai for %s: sending {}", info["TrackName"])
            return {}
        started_s = time.monotonic()
        track = acgym_telemetry.read_track_info(path)
        self.logger.info(
            "track info: %d AI line points from %s in %.2f s",
            len(track["fast_lane"]),
            path,
            time.monotonic() - started_s,
        )
        return track

    # -- logging and window -------------------------------------------------------------

    def _setup_logging(self, fallback=False):
        config = self.settings
        path = config["log_path"]
        if not os.path.isabs(path):
            path = os.path.join(self.app_dir, path)
        self.log_file = path
        try:
            folder = os.path.dirname(path)
            if folder and not os.path.isdir(folder):
                os.makedirs(folder)
            handler = logging.handlers.RotatingFileHandler(
                path,
                maxBytes=int(config["log_max_bytes"]),
                backupCount=int(config["log_backups"]),
                encoding="utf-8",
            )
        except (IOError, OSError) as exc:
            handler = None
            self._ac_console("acgym: cannot write the log {0} ({1})".format(path, exc))
        formatter = logging.Formatter("%(asctime)s %(levelname)s %(threadName)s: %(message)s")
        for item in (handler, _AcLogHandler(self.ac)):
            if item is not None:
                item.setFormatter(formatter)
                self.logger.addHandler(item)
                self._handlers.append(item)
        level = "INFO" if fallback else config["log_level"]
        self.logger.setLevel(getattr(logging, level))

    def _ac_console(self, line):
        try:
            self.ac.console(line)
            self.ac.log(line)
        except Exception:
            pass

    def _make_window(self):
        try:
            self.window = self.ac.newApp(APP_NAME)
            self.ac.setSize(self.window, 360, 110)
            self.label = self.ac.addLabel(self.window, "")
            self.ac.setPosition(self.label, 8, 30)
        except Exception:
            self.window = None

    def status_text(self):
        """The window's text: servers, client, control backend, or the error."""
        if self.error:
            return "acgym: NOT RUNNING\n{0}\nsee {1}".format(
                self.error[:200], getattr(self, "log_file", "the log")
            )
        if self.ego is None:
            return "acgym: starting"
        config = self.settings
        lines = [
            "acgym {0} ({1}) udp {2} / tcp {3} on {4}".format(
                VERSION,
                "legacy" if config["legacy"] else "v1",
                self.ego.address[1],
                self.mgmt.address[1],
                config["host"],
            )
        ]
        if self._static_info is None:
            lines.append("waiting for the car")
        client = self.ego.client_address
        lines.append("client: {0}:{1}".format(client[0], client[1]) if client else "client: none")
        if self.backend.active:
            lines.append(
                "controls: {0}, {1} applied".format(self.backend.name, self.backend.applied)
            )
        else:
            lines.append(
                "controls: OFF ({0})".format(self.backend_error or "control_backend = none")
            )
        return "\n".join(lines)

    def _update_ui(self, force=False):
        if self.label is None:
            return
        now_s = time.monotonic()
        if not force and now_s - self._last_ui_s < UI_PERIOD_S:
            return
        self._last_ui_s = now_s
        try:
            self.ac.setText(self.label, self.status_text())
        except Exception:
            self.label = None


_app = None


def _emulation_host():
    """The emulated game's host object (shared pages, virtual vJoy), or None in the game."""
    try:
        import acgym_emulated_host
    except ImportError:
        return None
    return acgym_emulated_host


def acMain(ac_version):
    """Called by the game once when the app loads; returns the app's name."""
    global _app
    import ac
    import acsys

    _app = App(ac, acsys, APP_DIR, host=_emulation_host())
    return _app.main(ac_version)


def acUpdate(deltaT):
    """Called by the game every graphics frame (``deltaT`` in s)."""
    if _app is not None:
        _app.update(deltaT)


def acShutdown():
    """Called by the game when the session ends."""
    global _app
    if _app is not None:
        _app.shutdown()
        _app = None
