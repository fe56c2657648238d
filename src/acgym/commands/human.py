"""``acgym drive`` (a person drives the simulator, or records their laps in the game) and
``acgym dataset import-motec`` (the game's MoTeC logs into the dataset layout)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from acgym.commands.train import _add_config_args

DRIVE_EPILOG = (
    "Options are the run's key=value items, as for acgym train (env.*, sim.*, backend). "
    "Keys: arrows or WASD drive (without a joystick), P pause, R restart, T back on the "
    "track, V view, Esc quit. The episodes go to OUT/<track>/<car>/<stamp>_human/ in the "
    "dataset layout: train on them with train.load_offline_data=true train.dataset_path=OUT."
)


def _list_devices() -> int:
    from acgym.human.devices import list_devices
    from acgym.human.sdl import init_joysticks

    found = list_devices(init_joysticks())
    for info in found:
        print(info.describe())
    if not found:
        print(
            "no joystick, gamepad or wheel found: check that it is plugged in (and that this "
            "user may read /dev/input); the keyboard always works (--device keyboard)"
        )
    print("keyboard: arrows or WASD, steering smoothed")
    return 0


def _drive(args: argparse.Namespace) -> int:
    from acgym.errors import ConfigError
    from acgym.human.client_inputs import DeviceClientInputs, LastReading
    from acgym.human.devices import JoystickDevice, open_device
    from acgym.human.drive import drive_config, prepare, with_track_and_car
    from acgym.human.mapping import default_mapping_path, save_mapping
    from acgym.human.sdl import init_video
    from acgym.human.session import DriveSession, ExtraChannelsTap, SimulatorTap
    from acgym.human.window import DriveWindow

    if args.list_devices:
        return _list_devices()
    mapping_path = Path(args.mapping) if args.mapping else default_mapping_path()
    pygame = init_video()
    device = open_device(pygame, args.device, mapping_path)
    if args.device == "auto" and not isinstance(device, JoystickDevice):
        print("no joystick, gamepad or wheel found: driving with the keyboard (arrows or WASD)")
    if args.calibrate:
        from acgym.human.calibration import record_calibration

        if not isinstance(device, JoystickDevice):
            raise ConfigError("--calibrate needs a joystick, gamepad or wheel (none is plugged in)")
        path = save_mapping(mapping_path, record_calibration(pygame, device))
        print(f"calibration of {device.name} saved in {path}")
        return 0
    config = drive_config(args.config, args.overrides, game=args.backend != "sim")
    if args.backend != "sim":
        from acgym.config import load_config

        config = load_config(None, [f"backend={args.backend}"], base=config)
        if args.host:
            config = load_config(None, [f"env.remote_machine_ip={args.host}"], base=config)
    config = with_track_and_car(config, args.track, args.car)
    client = DeviceClientInputs(device) if config.backend != "sim" else None
    setup = prepare(
        config, out=None if args.no_record else args.out, ghost=args.ghost, client_inputs=client
    )
    track = setup.env.unwrapped.track
    width, height = (int(v) for v in args.size.lower().split("x"))
    window = DriveWindow(pygame, track, (width, height))
    if config.backend == "sim":
        tap, person_device = SimulatorTap(setup.env, track.length_m), device
    else:
        tap, person_device = ExtraChannelsTap(track.length_m), LastReading(client)
    session = DriveSession(
        setup.env,
        person_device,
        tap,
        view=window,
        realtime=config.backend != "sim",
        fps=args.fps,
        reference=setup.reference,
        ghost=setup.ghost,
        best=setup.best,
        recording=None if setup.run_dir is None else str(setup.run_dir),
    )
    logging.getLogger("acgym.env.episode_log").setLevel(logging.WARNING)
    try:
        stats = session.run(max_time_s=args.time_limit)
    finally:
        window.close()
    laps = session.book.laps
    for k, lap in enumerate(laps, start=1):
        print(f"lap {k}: {lap.time_s:.3f} s{'' if lap.clean else ' (invalid)'}")
    best = session.book.best
    print(
        f"{stats.steps} steps in {stats.episodes} episodes, {len(laps)} laps"
        + (f", best {best.time_s:.3f} s" if best is not None else "")
        + ("" if setup.run_dir is None else f" -> {setup.run_dir}")
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``drive``."""
    drive = subparsers.add_parser(
        "drive",
        help="drive the simulator yourself (gamepad, wheel, keyboard); laps recorded",
        description="Drive a car in a window, at the control rate in real time, physics "
        "as in training; every episode is recorded in the dataset layout. With --backend "
        "ac, record your laps in the game instead (the client's device is logged).",
        epilog=DRIVE_EPILOG,
    )
    drive.add_argument("--track", help="track (default: env.track)")
    drive.add_argument("--car", help="car (default: env.car)")
    drive.add_argument(
        "--device",
        default="auto",
        help="auto (the first joystick, else the keyboard), keyboard, an index or part of a name",
    )
    drive.add_argument("--list-devices", action="store_true", help="list input devices and exit")
    drive.add_argument("--calibrate", action="store_true", help="calibrate the device and exit")
    drive.add_argument(
        "--mapping", help="device mapping file (default ~/.config/acgym/devices.yaml)"
    )
    drive.add_argument(
        "--ghost",
        help="race a ghost: best (your best lap), expert, or a checkpoint / run folder",
    )
    drive.add_argument("--out", default="data/human", help="dataset folder (default data/human)")
    drive.add_argument("--no-record", action="store_true", help="write no episode files")
    drive.add_argument(
        "--backend",
        choices=("sim", "ac", "remote"),
        default="sim",
        help="sim (default) or the game",
    )
    drive.add_argument("--host", help="the game's machine (backend ac)")
    drive.add_argument("--size", default="960x600", help="window size (default 960x600)")
    drive.add_argument("--fps", type=float, default=60.0, help="frames per second at most")
    drive.add_argument("--time-limit", type=float, metavar="S", help="stop after S seconds")
    _add_config_args(drive)
    drive.set_defaults(handler=_drive)


def _import_motec(args: argparse.Namespace) -> int:
    from acgym.config import load_config
    from acgym.human.motec_import import import_motec

    config = load_config(args.config, args.overrides)
    run_dir, results = import_motec(
        [Path(p) for p in args.files],
        out=args.out,
        track=args.track or config.env.track,
        car=args.car or config.env.car,
        config=config.env,
        keep_partial=args.keep_partial,
    )
    for result in results:
        print(result.describe())
    print(f"{sum(len(r.laps) for r in results)} laps -> {run_dir}")
    return 0


def register_dataset_actions(actions: argparse._SubParsersAction) -> None:
    """Add ``dataset import-motec`` to ``acgym dataset``'s actions."""
    motec = actions.add_parser(
        "import-motec",
        help="MoTeC .ld logs (with their .ldx lap markers) into the dataset layout",
        description="Read MoTeC .ld logs as the game writes them, resample them to the "
        "control rate, map the positions onto the track and write each lap as an episode "
        "in <out>/<track>/<car>/<stamp>_motec/.",
    )
    motec.add_argument("files", nargs="+", metavar="FILE.ld", help="MoTeC logs")
    motec.add_argument("--track", help="the track driven (default: env.track)")
    motec.add_argument("--car", help="the car driven (default: env.car)")
    motec.add_argument("--out", required=True, help="dataset folder")
    motec.add_argument(
        "--keep-partial",
        action="store_true",
        help="also write the partial laps before the first and after the last marker",
    )
    _add_config_args(motec)
    motec.set_defaults(handler=_import_motec)
