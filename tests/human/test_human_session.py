"""The drive session on the simulator, with a scripted device behind the same interface as
a real one: a scripted driver completes a lap and the recording trains; an unplugged
device pauses the car instead of leaving its last input applied; restart and back on the
track; the schedule keeps the control rate whatever the drawing costs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from human_helpers import TINY_TRAIN, ExpertLap, make_env, speed_of, throttle, xy_of

from acgym.cli import main
from acgym.env.config import EnvConfig
from acgym.env.history import load_history
from acgym.human.devices import DeviceInput, ScriptedDevice
from acgym.human.laps import CarStatus, LapBook, RecordedLap
from acgym.human.session import BRAKE_INPUT, DriveSession, SimulatorTap, VirtualClock
from acgym.rl.laps import laps_from_states
from acgym.rl.offline import find_runs, iter_transitions


def session(env, device, **kwargs) -> DriveSession:  # type: ignore[no-untyped-def]
    tap = SimulatorTap(env, env.unwrapped.track.length_m)
    return DriveSession(env, device, tap, clock=VirtualClock(), **kwargs)


def test_a_scripted_driver_completes_a_lap_recorded_as_a_dataset_that_trains(
    oval_expert_lap: ExpertLap, tmp_path: Path
) -> None:
    run_dir = tmp_path / "data" / "oval" / "dallara_f317" / "20261207_120000_human"
    env = make_env(run_dir)
    drive = session(env, ScriptedDevice(oval_expert_lap.inputs))
    stats = drive.run(max_steps=len(oval_expert_lap.inputs))
    # The person's controls went through the env's action inverse: the expert's lap again.
    assert [(lap.time_s, lap.clean) for lap in drive.book.laps] == [(oval_expert_lap.time_s, True)]
    assert stats.steps == len(oval_expert_lap.inputs) and stats.episodes == 1
    (episode,) = sorted((run_dir / "laps").glob("*_states.parquet"))
    assert (run_dir / "laps" / "static_info.json").is_file()
    assert (run_dir / "episodes_stats.csv").is_file() and (run_dir / "env_config.yaml").is_file()
    states = load_history(episode).states
    assert [lap.time_s for lap in laps_from_states(states).laps] == [oval_expert_lap.time_s]
    np.testing.assert_allclose(
        states["speed"].to_numpy(), oval_expert_lap.states["speed"].to_numpy(), atol=1e-9
    )
    (run,) = find_runs(tmp_path / "data")
    ((_, _, transitions),) = iter_transitions([run], EnvConfig(track="oval", car="dallara_f317"))
    assert len(transitions) == len(states) - 1
    dataset = [f"train.dataset_path={tmp_path / 'data'}", "train.load_offline_data=true"]
    code = main(["train", *TINY_TRAIN, *dataset, f"train.run_dir={tmp_path / 'run'}"])
    assert code == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["offline_transitions"] == len(states) - 1


def test_an_unplugged_device_pauses_the_car_instead_of_leaving_its_input_applied() -> None:
    device = ScriptedDevice(lambda k: throttle(1.0))
    env = make_env()
    at_unplug: list = []

    def unplug_at_step_50(drive: DriveSession) -> None:
        if drive.stats.steps == 50:
            device.unplug()
            at_unplug.extend([speed_of(env), xy_of(env)])

    drive = session(env, device, on_step=unplug_at_step_50)
    drive.env.close = lambda: None  # keep the env open to look at it after run()
    drive.run(max_time_s=4.0)  # 2 s of driving (50 steps), then 2 s unplugged
    assert drive.paused is not None and "unplugged" in drive.paused
    assert drive.stats.steps == 50  # physics stopped: no step with the last throttle
    speed_at_unplug, xy_at_unplug = at_unplug
    assert speed_at_unplug > 5.0
    assert speed_of(env) == speed_at_unplug and np.all(xy_of(env) == xy_at_unplug)
    drive.command("pause")  # still unplugged: stays paused
    assert drive.paused is not None and "unplugged" in (drive.message or "")
    device.plug()
    drive.command("pause")
    assert drive.paused is None


def test_in_the_game_which_cannot_pause_an_unplugged_device_brakes_the_car() -> None:
    device = ScriptedDevice(lambda k: throttle(1.0))
    env = make_env()
    drive = session(env, device, realtime=True)  # the backend keeps the time, as the game
    drive.on_step = lambda s: device.unplug() if s.stats.steps == 60 else None
    drive.env.close = lambda: None
    drive.run(max_steps=60)
    fast = speed_of(env)
    drive.run(max_steps=100)
    assert drive.stats.paused_steps == 40 and drive.last_input == BRAKE_INPUT
    assert speed_of(env) < fast - 5.0


def test_restart_and_back_on_the_track_start_new_episodes() -> None:
    env = make_env()
    drive = session(env, ScriptedDevice(lambda k: DeviceInput(0.3, 1.0, 0.0)))
    drive.env.close = lambda: None
    drive.run(max_steps=120)  # steering right: off the track
    assert drive.status is not None
    off = drive.status
    drive.command("reset")
    back = drive.status
    assert drive.stats.episodes == 2 and back.speed_mps == 0.0
    assert back.lap_dist_m == pytest.approx(off.lap_dist_m, abs=2.0)  # where it left the track
    assert env.unwrapped.track.is_inside_point(back.x_m, back.y_m)
    drive.command("restart")
    assert drive.stats.episodes == 3 and drive.status.lap_dist_m < 5.0


def test_steps_keep_the_control_rate_and_frames_come_between_them() -> None:
    env = make_env()

    class CountingView:
        def __init__(self) -> None:
            self.frames: list[float] = []

        def events(self):  # type: ignore[no-untyped-def]
            return [], []

        def draw(self, snapshot):  # type: ignore[no-untyped-def]
            self.frames.append(drive.clock.now())

        def switch_view(self) -> None:
            pass

    view = CountingView()
    drive = session(env, ScriptedDevice(lambda k: throttle()), view=view, fps=60.0)
    stats = drive.run(max_time_s=2.0)
    starts = np.array(stats.step_start_s)
    np.testing.assert_allclose(np.diff(starts), 0.04, atol=1e-9)  # 25 Hz, on schedule
    assert len(view.frames) >= 110  # 60 frames a second for two seconds, less ticks' turns


def test_a_slow_first_frame_does_not_stop_the_window_from_drawing() -> None:
    """The first frame draws the fonts and maps (here: longer than a control period); the
    frames after it must still come (it once froze the window: the estimate of a frame's
    cost was the first frame's and never fitted between two steps again)."""
    env = make_env()

    class SlowFirstFrame:
        def __init__(self) -> None:
            self.frames = 0

        def events(self):  # type: ignore[no-untyped-def]
            return [], []

        def draw(self, snapshot):  # type: ignore[no-untyped-def]
            if self.frames == 0:
                time.sleep(0.06)
            self.frames += 1

        def switch_view(self) -> None:
            pass

    view = SlowFirstFrame()
    session(env, ScriptedDevice(lambda k: throttle()), view=view, fps=60.0).run(max_time_s=2.0)
    assert view.frames >= 110


def _status(t: float, d: float, laps: int = 0, last: float = 0.0, out: int = 0) -> CarStatus:
    return CarStatus(d, 0.0, 0.0, 10.0, 3, 5000.0, t, laps, last, d, out, out > 2)


def test_the_lap_book_times_laps_and_the_live_delta_against_a_reference() -> None:
    book = LapBook()
    for k in range(11):
        book.update(_status(k * 1.0, k * 10.0))
    lap = book.update(_status(0.0, 0.0, laps=1, last=11.0))
    assert lap is not None and lap.time_s == 11.0 and lap.clean and book.best is lap
    assert lap.time_at_distance(55.0) == pytest.approx(5.5)
    assert lap.pose_at(2.5)[0] == pytest.approx(25.0)
    book.update(_status(5.0, 40.0, laps=1, last=11.0))
    assert book.delta_s(book.best, _status(5.0, 40.0, laps=1, last=11.0)) == pytest.approx(1.0)
    for k in range(1, 12):  # an invalid lap (3 tyres out) is not the best, even if faster
        book.update(_status(k * 0.5, k * 10.0, laps=1, last=11.0, out=3))
    lap = book.update(_status(0.0, 0.0, laps=2, last=6.0))
    assert lap is not None and not lap.clean and book.best.time_s == 11.0


def test_a_recorded_lap_from_logged_states_ends_at_the_crossing(oval_expert_lap: ExpertLap) -> None:
    states = oval_expert_lap.states
    (lap,) = laps_from_states(states).laps
    recorded = RecordedLap.from_states(states, lap.start_step, lap.end_step, lap.time_s, True, "x")
    assert recorded.elapsed_s[-1] == lap.time_s
    assert recorded.distance_m[-1] > 0.95 * 2537
    assert np.all(np.diff(recorded.elapsed_s) > 0)
