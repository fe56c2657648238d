"""``acgym plugin ...`` and ``acgym doctor``: the game plugin on the user's machine.

::

    acgym plugin install --ac-path PATH [--force] [--overwrite-config] [--token T] ...
    acgym plugin path
    acgym plugin emulate [--track oval] [--car bmw_z4_gt3] [--ego-port 2345] ...
    acgym plugin joystick [--uinput-path /dev/uinput]
    acgym doctor [--host H] [--ego-port 2345] [--mgmt-port 2347] [--token T] [--legacy]

Where the plugin's files come from: its canonical source is ``plugin/acgym`` of the
repository (a source checkout or an editable install uses it directly); a wheel carries
the same files as ``acgym/_plugin`` (copied there by the build, see setup.py). docs/plugin.md
is the user's guide.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from acgym.errors import AcgymError, ConfigError
from acgym.fileio import write_bytes_atomic, write_text_atomic

APP_FOLDER = ("apps", "python", "acgym")
CONTROL_BACKENDS = ("vjoy", "uinput", "none")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``acgym plugin ...`` and ``acgym doctor``."""
    parser = subparsers.add_parser(
        "plugin",
        help="install the Assetto Corsa app; run it in an emulated game",
        description="The Assetto Corsa app (plugin/acgym): install it into the game, find "
        "its files, run it without the game in an emulated one, or create the Linux "
        "joystick it drives under Proton. The app's source is plugin/acgym of the "
        "repository; an installed wheel carries a copy as acgym/_plugin.",
    )
    parser.set_defaults(handler=lambda _args: _print_help(parser))
    actions = parser.add_subparsers(dest="plugin_command", metavar="ACTION")

    install = actions.add_parser(
        "install",
        help="copy the app into <AC>/apps/python/acgym",
        description="Copy the acgym app into the game's apps/python/acgym folder. An "
        "existing install is replaced only with --force; its config.ini is kept unless "
        "--overwrite-config (the options below are written into it either way).",
    )
    install.add_argument(
        "--ac-path",
        type=Path,
        required=True,
        help="the Assetto Corsa folder (holding acs.exe and apps/python), e.g. "
        "'C:/Program Files (x86)/Steam/steamapps/common/assettocorsa'",
    )
    install.add_argument("--force", action="store_true", help="replace an existing install")
    install.add_argument(
        "--overwrite-config",
        action="store_true",
        help="replace an existing config.ini with the shipped one",
    )
    _settings_arguments(install)
    install.set_defaults(handler=_install)

    path = actions.add_parser("path", help="print the folder the app is installed from")
    path.set_defaults(handler=_path)

    emulate = actions.add_parser(
        "emulate",
        help="run the app in an emulated game over the built-in simulator",
        description="Run the real acgym app, unmodified, in an emulated Assetto Corsa (its "
        "ac/acsys modules, shared memory and a virtual vJoy over the built-in simulator), "
        "serving the usual ports in real time: point a client, `acgym doctor` or a "
        "training run at it. Ctrl-C stops it.",
    )
    emulate.add_argument("--track", default="oval", help="built-in track (default oval)")
    emulate.add_argument("--car", default="bmw_z4_gt3", help="car preset (default bmw_z4_gt3)")
    emulate.add_argument("--host", default="127.0.0.1", help="address to bind")
    emulate.add_argument("--ego-port", type=int, default=2345, help="UDP ego port")
    emulate.add_argument("--mgmt-port", type=int, default=2347, help="TCP management port")
    emulate.add_argument("--token", default=None, help="shared token clients must send")
    emulate.add_argument("--legacy", action="store_true", help="serve the original format")
    emulate.add_argument("--frame-hz", type=float, default=50.0, help="game frames per second")
    emulate.add_argument(
        "--no-shared-memory", action="store_true", help="offer no shared memory (as on Linux)"
    )
    emulate.add_argument(
        "--no-csp", action="store_true", help="no Custom Shaders Patch (reset unavailable)"
    )
    emulate.add_argument(
        "--duration-s", type=float, default=0.0, help="stop after this long (0: until Ctrl-C)"
    )
    emulate.set_defaults(handler=_emulate)

    joystick = actions.add_parser(
        "joystick",
        help="Linux: create the virtual joystick the app drives under Proton",
        description="Create a virtual joystick through /dev/uinput (axes X, Y, Z; buttons) "
        "and keep it until Ctrl-C. Under Proton the game's Python cannot create it: set "
        "uinput_event_device in apps/python/acgym/config.ini to the event node printed "
        "here, and bind the axes in the game's controls.",
    )
    joystick.add_argument("--uinput-path", default="/dev/uinput", help="the uinput node")
    joystick.add_argument("--name", default="acgym virtual joystick", help="device name")
    joystick.add_argument(
        "--duration-s", type=float, default=0.0, help="remove it after this long (0: Ctrl-C)"
    )
    joystick.set_defaults(handler=_joystick)

    doctor = subparsers.add_parser(
        "doctor",
        help="check the connection to the game plugin, step by step",
        description="Check that the acgym app (or `acgym sim serve`) can be reached and "
        "drives the car: both ports, protocol version and token, static info, the state "
        "stream, and the control path (a small steering command must show in steerAngle). "
        "Each failure says what to fix. Exit code 0 when everything works, 1 otherwise. "
        "The car is left centred with the pedals released.",
    )
    doctor.add_argument("--host", default="127.0.0.1", help="the game's machine")
    doctor.add_argument("--ego-port", type=int, default=2345, help="UDP ego port")
    doctor.add_argument("--mgmt-port", type=int, default=2347, help="TCP management port")
    doctor.add_argument("--token", default=None, help="the token in the app's config.ini")
    doctor.add_argument(
        "--legacy", action="store_true", help="the original sensors_par plugin's format"
    )
    doctor.add_argument(
        "--timeout-s", type=float, default=2.0, help="how long each step waits (default 2)"
    )
    doctor.set_defaults(handler=_doctor)


def _settings_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=None, help="config.ini host (default 127.0.0.1)")
    parser.add_argument("--ego-port", type=int, default=None, help="config.ini ego_port")
    parser.add_argument("--mgmt-port", type=int, default=None, help="config.ini mgmt_port")
    parser.add_argument("--token", default=None, help="config.ini token")
    parser.add_argument(
        "--control-backend", choices=CONTROL_BACKENDS, default=None, help="config.ini backend"
    )
    parser.add_argument(
        "--legacy",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="config.ini legacy (serve the original client)",
    )


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


# -- install --------------------------------------------------------------------------------


def set_config_values(text: str, values: dict[str, str]) -> str:
    """An ini text with ``key = value`` lines set (keeping comments; absent keys appended)."""
    for key, value in values.items():
        pattern = re.compile(rf"^{re.escape(key)}[ \t]*=.*$", re.MULTILINE)
        line = f"{key} = {value}"
        text, count = pattern.subn(lambda _match, line=line: line, text)
        if count == 0:
            text = text.rstrip("\n") + f"\n{line}\n"
    return text


def _settings(args: argparse.Namespace) -> dict[str, str]:
    values: dict[str, Any] = {
        "host": args.host,
        "ego_port": args.ego_port,
        "mgmt_port": args.mgmt_port,
        "token": args.token,
        "control_backend": getattr(args, "control_backend", None),
        "legacy": None if args.legacy is None else str(bool(args.legacy)).lower(),
    }
    return {key: str(value) for key, value in values.items() if value is not None}


def check_config_text(text: str, where: str, plugin_dir: Path | None = None) -> dict[str, Any]:
    """Parse a config.ini as the app will, and refuse what it would refuse at start.

    Raises:
        ConfigError: an invalid value, or a non-loopback host without a token.
    """
    from acgym.emulated_game.plugin_files import load_plugin_module

    config_module = load_plugin_module("acgym_config", plugin_dir)
    try:
        values = config_module.parse(text, where)
    except config_module.ConfigError as exc:
        raise ConfigError(str(exc)) from None
    if not config_module.is_loopback(values["host"]):
        if values["legacy"]:
            raise ConfigError(
                f"{where}: legacy mode has no token, so it binds loopback only, not "
                f"{values['host']!r}"
            )
        if not values["token"]:
            raise ConfigError(
                f"{where}: host = {values['host']} is reachable from other machines: pass "
                "--token (and give the client the same one)"
            )
    return values


def install_plugin(
    ac_path: Path,
    *,
    force: bool = False,
    overwrite_config: bool = False,
    settings: dict[str, str] | None = None,
    plugin_dir: Path | None = None,
) -> tuple[Path, bool]:
    """Copy the app into ``<ac_path>/apps/python/acgym``.

    Args:
        ac_path: the Assetto Corsa folder.
        force: replace an existing install.
        overwrite_config: replace an existing config.ini with the shipped one.
        settings: config.ini values to write (``{"token": "..."}``).
        plugin_dir: the app's source folder (default: the installed package's).

    Returns:
        The app folder and whether an existing config.ini was kept.

    Raises:
        ConfigError: not an Assetto Corsa folder, an existing install without ``force``,
            or settings the app would refuse.
    """
    from acgym.emulated_game.plugin_files import PLUGIN_FILES, default_plugin_dir

    source = plugin_dir if plugin_dir is not None else default_plugin_dir()
    ac_path = Path(ac_path).expanduser()
    if not ac_path.is_dir():
        raise ConfigError(
            f"--ac-path {ac_path}: no such folder; pass the Assetto Corsa folder (the one "
            "holding acs.exe; Steam > Assetto Corsa > Manage > Browse local files)"
        )
    python_apps = ac_path.joinpath(*APP_FOLDER[:2])
    if not python_apps.is_dir():
        raise ConfigError(
            f"{ac_path} is not an Assetto Corsa install: it has no apps/python folder; pass "
            "the folder holding acs.exe (Steam > Assetto Corsa > Manage > Browse local files)"
        )
    target = ac_path.joinpath(*APP_FOLDER)
    if target.exists() and not force:
        raise ConfigError(
            f"{target} exists: acgym is already installed; pass --force to replace the app's "
            "files (its config.ini is kept unless --overwrite-config)"
        )
    config_path = target / "config.ini"
    keep_config = config_path.is_file() and not overwrite_config
    base = config_path if keep_config else source / "config.ini"
    text = set_config_values(base.read_text(encoding="utf-8"), settings or {})
    check_config_text(text, str(config_path), source)
    target.mkdir(parents=True, exist_ok=True)
    for name in PLUGIN_FILES:
        if name != "config.ini":
            write_bytes_atomic(target / name, (source / name).read_bytes())
    if not keep_config or settings:
        write_text_atomic(config_path, text)
    return target, keep_config


def _install(args: argparse.Namespace) -> int:
    target, kept = install_plugin(
        args.ac_path,
        force=args.force,
        overwrite_config=args.overwrite_config,
        settings=_settings(args),
    )
    print(f"installed the acgym app in {target}")
    if kept:
        print(f"kept your {target / 'config.ini'} (--overwrite-config replaces it)")
    print(
        "next: enable 'acgym' in the game (Settings > General > UI Modules, or Content "
        "Manager > Settings > Apps), bind the virtual joystick's axes X/Y/Z to steering, "
        "throttle and brake, start a session, then run `acgym doctor` (docs/plugin.md)"
    )
    return 0


def _path(args: argparse.Namespace) -> int:
    from acgym.emulated_game.plugin_files import default_plugin_dir

    print(default_plugin_dir())
    return 0


# -- emulate ----------------------------------------------------------------------------------


@contextlib.contextmanager
def emulated_app_folder(settings: dict[str, str]) -> Iterator[Path]:
    """A temporary ``apps/python/acgym`` holding the app with ``settings`` in its config."""
    from acgym.emulated_game.plugin_files import PLUGIN_FILES, default_plugin_dir

    source = default_plugin_dir()
    with tempfile.TemporaryDirectory(prefix="acgym-emulated-") as root:
        folder = Path(root).joinpath(*APP_FOLDER)
        folder.mkdir(parents=True)
        for name in PLUGIN_FILES:
            shutil.copy2(source / name, folder / name)
        text = set_config_values((source / "config.ini").read_text(encoding="utf-8"), settings)
        check_config_text(text, str(folder / "config.ini"), source)
        (folder / "config.ini").write_text(text, encoding="utf-8")
        yield folder


@contextlib.contextmanager
def emulated_plugin(
    settings: dict[str, str],
    *,
    track: str = "oval",
    car: str = "bmw_z4_gt3",
    frame_hz: float = 50.0,
    shared_memory: bool = True,
    csp: bool = True,
) -> Iterator[Any]:
    """The app running in an emulated game in real time, with ``settings`` in its config
    (``control_backend = emulated``); yields the :class:`PluginRunner`.

    Raises:
        AcgymError: the app did not start (its reason, e.g. a port in use).
    """
    from acgym.emulated_game import EmulatedGame, PluginRunner

    settings = dict(settings, control_backend="emulated")
    game = EmulatedGame(track, car, frame_hz=frame_hz, shared_memory=shared_memory, csp=csp)
    with emulated_app_folder(settings) as folder, PluginRunner(game, folder) as runner:
        if runner.app.error:
            raise AcgymError(f"the app did not start: {runner.app.error}")
        yield runner


def _emulate(args: argparse.Namespace) -> int:
    settings = {
        "host": args.host,
        "ego_port": str(args.ego_port),
        "mgmt_port": str(args.mgmt_port),
        "token": args.token or "",
        "legacy": str(bool(args.legacy)).lower(),
    }
    with emulated_plugin(
        settings,
        track=args.track,
        car=args.car,
        frame_hz=args.frame_hz,
        shared_memory=not args.no_shared_memory,
        csp=not args.no_csp,
    ) as runner:
        app, game = runner.app, runner.game
        ego_port, mgmt_port = app.ego.address[1], app.mgmt.address[1]
        print(
            f"the acgym app runs in an emulated game ({game.car.name} on {game.track.name}, "
            f"{'legacy' if args.legacy else 'protocol v1'}): udp {args.host}:{ego_port}, "
            f"tcp {args.host}:{mgmt_port}; log {app.log_file}",
            flush=True,
        )
        print(
            f"try: acgym doctor --ego-port {ego_port} --mgmt-port {mgmt_port}"
            + (f" --token {args.token}" if args.token else "")
            + (" --legacy" if args.legacy else ""),
            flush=True,
        )
        deadline_s = time.monotonic() + args.duration_s if args.duration_s > 0 else None
        try:
            while deadline_s is None or time.monotonic() < deadline_s:
                time.sleep(0.05)
        except KeyboardInterrupt:
            pass
    return 0


# -- joystick ---------------------------------------------------------------------------------


def _joystick(args: argparse.Namespace) -> int:
    import logging

    from acgym.emulated_game.plugin_files import load_plugin_module

    if not sys.platform.startswith("linux"):
        raise AcgymError("acgym plugin joystick creates a Linux uinput device: run it on Linux")
    controls = load_plugin_module("acgym_controls")
    backend = controls.UinputBackend(
        logging.getLogger("acgym.joystick"), args.uinput_path, "", device_name=args.name
    )
    try:
        backend.open()
    except RuntimeError as exc:
        raise AcgymError(f"cannot create the joystick: {exc}") from None
    try:
        name = controls.sysname(backend.io, backend.fd)
        node = controls.event_node(name) if name else ""
        print(f"created '{args.name}' ({name or 'sysfs name unknown'})")
        if node:
            print(f"set uinput_event_device = {node} in apps/python/acgym/config.ini")
        else:
            print("find its node with: ls -l /dev/input/by-id/ (or evtest)")
        print("bind its axes in the game: X = steering, Y = throttle, Z = brake; Ctrl-C ends")
        deadline_s = time.monotonic() + args.duration_s if args.duration_s > 0 else None
        try:
            while deadline_s is None or time.monotonic() < deadline_s:
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
    finally:
        backend.close()
    return 0


# -- doctor -----------------------------------------------------------------------------------


def _doctor(args: argparse.Namespace) -> int:
    from acgym.doctor import Target, format_report, run_doctor

    target = Target(
        host=args.host,
        ego_port=args.ego_port,
        mgmt_port=args.mgmt_port,
        token=args.token,
        legacy=args.legacy,
        timeout_s=args.timeout_s,
    )
    print(
        f"acgym doctor: {args.host} udp {args.ego_port} / tcp {args.mgmt_port}"
        + (" (legacy)" if args.legacy else ""),
        flush=True,
    )
    checks = run_doctor(target, report=lambda check: print(check.line(), flush=True))
    print(format_report(checks).splitlines()[-1])
    return 1 if any(check.failed for check in checks) else 0
