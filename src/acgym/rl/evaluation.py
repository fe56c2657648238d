"""Evaluation of a policy: deterministic episodes, lap times, clean laps, the best lap
drawn beside the expert's, and a JSON report (``acgym eval``).

The evaluation env is in evaluation mode (``RacingEnv.set_eval_mode``: the original's
``eval_number_of_laps`` laps, the out lap included) and starts where ``env.start`` says,
as in training (``env.start.random=false``: on the line). The expert
(:mod:`acgym.rl.expert`) drives the same track and car through the same env settings, so
its lap is the reference of the plot and of ``gap_to_expert_s``. A person's laps (a
dataset of ``acgym drive`` sessions or imported MoTeC logs, ``human=``) add the fastest
clean one of the same track and car beside them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from acgym.fileio import write_text_atomic, write_with_atomic
from acgym.protocol import channels as ch
from acgym.rl.laps import EpisodeLaps, Lap, laps_from_states

if TYPE_CHECKING:
    from acgym.config import Config
    from acgym.rl.sac import SAC

logger = logging.getLogger(__name__)

REPORT_FILE = "eval_report.json"
PLOT_FILE = "best_lap.png"
KMH_PER_MPS = 3.6
EXPERT_TIME_LIMIT_S = 1800.0
"""Episode limit of the expert's reference laps, s."""


@dataclass
class EvalEpisode:
    """One evaluation episode."""

    episode_return: float
    """Sum of rewards."""
    steps: int
    """Steps driven."""
    terminated: bool
    """Ended by a termination rule (else truncated: the laps or the step limit)."""
    reasons: tuple[str, ...]
    """The termination / truncation rules that fired."""
    laps: EpisodeLaps
    """Completed laps."""
    states: Any
    """Logged states (a DataFrame)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (no states)."""
        return {
            "return": self.episode_return,
            "steps": self.steps,
            "terminated": self.terminated,
            "end_reasons": list(self.reasons),
            "laps": [{"time_s": lap.time_s, "clean": lap.clean} for lap in self.laps.laps],
            "clean_laps": self.laps.clean_laps,
            "best_lap_s": self.laps.best_lap_s,
        }


def run_episode(
    env: Any, policy: Callable[[NDArray[np.float32]], NDArray[np.float32]], seed: int | None
) -> EvalEpisode:
    """Drive one episode of a single ``RacingEnv`` with ``policy(obs) -> action``."""
    obs, _ = env.reset(seed=seed)
    total, steps, done = 0.0, 0, False
    terminated, info = False, {}
    while not done:
        obs, reward, terminated, truncated, info = env.step(policy(obs))
        total += float(reward)
        steps += 1
        done = bool(terminated or truncated)
    states = env.unwrapped.episode_states()
    reasons = tuple(str(r) for r in info.get("termination_reasons", ()))
    return EvalEpisode(total, steps, bool(terminated), reasons, laps_from_states(states), states)


def evaluate_agent(
    env: Any, agent: SAC, num_episodes: int = 1, *, seed: int = 10_000
) -> list[EvalEpisode]:
    """Run the agent's deterministic policy for ``num_episodes`` episodes."""
    return [
        run_episode(env, lambda obs: agent.act(obs, deterministic=True), seed + i)
        for i in range(num_episodes)
    ]


def episode_metrics(episodes: list[EvalEpisode]) -> dict[str, float]:
    """Scalars of evaluation episodes (for TensorBoard): return, laps, best lap."""
    best = [e.laps.best_lap_s for e in episodes if e.laps.best_lap_s is not None]
    out = {
        "return_mean": float(np.mean([e.episode_return for e in episodes])),
        "length_mean": float(np.mean([e.steps for e in episodes])),
        "clean_laps": float(sum(e.laps.clean_laps for e in episodes)),
    }
    if best:
        out["best_lap_s"] = float(min(best))
    return out


# ------------------------------------------------------------------------------ laps


@dataclass(frozen=True)
class LapTrace:
    """The path of one lap."""

    time_s: float
    """Lap time, s."""
    xy_m: NDArray[np.float64]
    """``(K, 2)`` positions, m (world_position_x, world_position_y)."""
    speed_kmh: NDArray[np.float64]
    """``(K,)`` speed, km/h."""
    distance_m: NDArray[np.float64]
    """``(K,)`` distance driven since the lap started, m."""
    elapsed_s: NDArray[np.float64]
    """``(K,)`` time since the lap started, s."""
    line_fraction: NDArray[np.float64]
    """``(K,)`` where the car is along the track's reference line, in laps from the start
    line (``NormalizedSplinePosition`` unwrapped: about 0 at the lap's start, 1 at its
    crossing)."""


def lap_trace(states: Any, lap: Lap, control_period_s: float) -> LapTrace:
    """The states of ``lap`` (from its first state to the crossing) as a trace."""
    rows = slice(lap.start_step, lap.end_step + 1)
    x = np.asarray(states[ch.WORLD_POSITION_X], dtype=np.float64)[rows]
    y = np.asarray(states[ch.WORLD_POSITION_Y], dtype=np.float64)[rows]
    speed = np.asarray(states[ch.SPEED], dtype=np.float64)[rows] * KMH_PER_MPS
    xy = np.stack([x, y], axis=1)
    step_m = np.hypot(*np.diff(xy, axis=0).T)
    distance = np.concatenate([[0.0], np.cumsum(step_m)])
    elapsed = np.arange(len(x)) * control_period_s
    spline = np.asarray(states[ch.NORMALIZED_SPLINE_POSITION], dtype=np.float64)[rows]
    return LapTrace(lap.time_s, xy, speed, distance, elapsed, unwrap_laps(spline))


def unwrap_laps(fraction: ArrayLike) -> NDArray[np.float64]:
    """Positions along a closed line in laps (``0..1``, wrapping at the start line) as a
    continuous count of laps, the first within ``(-0.5, 0.5]`` of the start line."""
    laps = np.unwrap(np.asarray(fraction, dtype=np.float64), period=1.0)
    return laps - np.round(laps[0]) if laps.size else laps


def time_behind_s(trace: LapTrace, reference: LapTrace) -> NDArray[np.float64]:
    """``(K,)`` how much later than ``reference`` each state of ``trace`` passes the same
    place along the track's line, s (positive: slower so far; both laps timed from the
    start line). The reference's time is interpolated where it passed each place."""
    passed = np.maximum.accumulate(reference.line_fraction)  # backing off is not progress
    return trace.elapsed_s - np.interp(trace.line_fraction, passed, reference.elapsed_s)


def longest_attempt(episodes: list[Any], control_period_s: float) -> LapTrace | None:
    """The path of the episode that drove the farthest (no clean lap to show), with a
    ``time_s`` of NaN."""
    best: LapTrace | None = None
    for episode in episodes:
        steps = len(episode.states)
        if steps < 2:
            continue
        trace = lap_trace(episode.states, Lap(float("nan"), False, 0, steps - 1), control_period_s)
        if best is None or trace.distance_m[-1] > best.distance_m[-1]:
            best = trace
    return best


class LoggedEpisode(NamedTuple):
    """A logged episode's states and laps (for :func:`best_lap_trace`)."""

    states: Any
    laps: EpisodeLaps


def human_reference(dataset: Path | str, track: str, car: str, control_period_s: float) -> LapTrace:
    """The fastest clean lap of a dataset's runs of ``track`` and ``car`` (a person's laps
    from ``acgym drive``, or imported MoTeC logs).

    Raises:
        DataFileError: No run of that track and car, or no clean lap in them.
    """
    from acgym.env.history import load_history
    from acgym.errors import DataFileError
    from acgym.rl.offline import find_runs

    episodes = []
    for run in find_runs(dataset, track=track, car=car):
        for path in run.files:
            states = load_history(path).states
            episodes.append(LoggedEpisode(states, laps_from_states(states)))
    trace, _ = best_lap_trace(episodes, control_period_s)
    if trace is None:
        raise DataFileError(
            f"{dataset}: no clean lap of track {track!r} with car {car!r} in "
            f"{len(episodes)} episodes to show beside the agent's"
        )
    return trace


def best_lap_trace(
    episodes: list[Any], control_period_s: float
) -> tuple[LapTrace | None, int | None]:
    """The fastest clean lap of episodes (with ``laps`` and ``states``) and its episode."""
    best: tuple[float, int, Lap] | None = None
    for index, episode in enumerate(episodes):
        for lap in episode.laps.laps:
            if lap.clean and (best is None or lap.time_s < best[0]):
                best = (lap.time_s, index, lap)
    if best is None:
        return None, None
    return lap_trace(episodes[best[1]].states, best[2], control_period_s), best[1]


def plot_laps(
    track: Any,
    agent: LapTrace | None,
    expert: LapTrace | None,
    path: Path | str,
    *,
    title: str = "",
    agent_label: str = "agent",
    human: LapTrace | None = None,
) -> Path:
    """Draw the agent's best lap beside the expert's (and a person's), coloured by speed
    over the track map, and the speeds against distance below; written as a PNG
    atomically."""
    fig = lap_figure(track, agent, expert, title=title, agent_label=agent_label, human=human)
    write_with_atomic(path, lambda tmp: fig.savefig(tmp, format="png"))
    return Path(path)


def lap_figure(
    track: Any,
    agent: LapTrace | None,
    expert: LapTrace | None,
    *,
    title: str = "",
    agent_label: str = "agent",
    human: LapTrace | None = None,
) -> Any:
    """The figure of :func:`plot_laps`: one map per lap (agent, expert, the person's when
    given); below, their speeds and (when the expert has a lap) how far behind the expert
    each lap is, against the distance along the track's reference line."""
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure

    from acgym.track.plot import draw_track_map, track_span_m

    traces = [t for t in (agent, expert, human) if t is not None and not np.isnan(t.time_s)]
    if traces:
        low = min(float(t.speed_kmh.min()) for t in traces)
        high = max(float(t.speed_kmh.max()) for t in traces)
    else:
        low, high = 0.0, 1.0
    span_m = track_span_m(track)
    panels = [(agent, agent_label), (expert, "expert (acgym.sim.driver)")]
    if human is not None:
        panels.append((human, "human"))
    # The maps side by side at the track's aspect, the traces below.
    map_height = float(np.clip(6.2 * span_m[1] / max(span_m[0], 1.0), 2.4, 6.5)) + 0.6
    width = 13.0 * len(panels) / 2
    fig = Figure(figsize=(width, map_height + 5.6), dpi=130, layout="constrained")
    grid = fig.add_gridspec(3, len(panels), height_ratios=(map_height, 2.8, 2.0))
    mappable = None
    for column, (trace, label) in enumerate(panels):
        ax = fig.add_subplot(grid[0, column])
        draw_track_map(ax, track)
        if trace is None:
            ax.set_title(f"{label}: no clean lap", fontsize=12)
        elif np.isnan(trace.time_s):
            ax.plot(*trace.xy_m.T, color="white", linewidth=1.8)
            ax.plot(*trace.xy_m[-1], marker="X", color="red", markersize=9)
            ax.set_title(
                f"{label}: no clean lap (farthest episode: {trace.distance_m[-1]:.0f} m, "
                "end marked x)",
                fontsize=12,
            )
        else:
            segments = np.stack((trace.xy_m[:-1], trace.xy_m[1:]), axis=1)
            lines = LineCollection(segments, cmap="turbo", linewidths=2.2, capstyle="round")
            lines.set_array(trace.speed_kmh[:-1])
            lines.set_clim(low, high)
            mappable = ax.add_collection(lines)
            ax.set_title(f"{label}: {_lap_time_text(trace.time_s)}", fontsize=12)
    if mappable is not None:
        colorbar = fig.colorbar(
            mappable, ax=fig.axes[: len(panels)], fraction=0.03, pad=0.01, shrink=0.8
        )
        colorbar.set_label("speed, km/h")
    length_m = float(track.length_m)
    speed_ax = fig.add_subplot(grid[1, :])
    behind_ax = fig.add_subplot(grid[2, :], sharex=speed_ax)
    behind_ax.axhline(0.0, color="black", linewidth=1.0)
    lines = [(agent, agent_label, "tab:blue"), (expert, "expert", "black")]
    lines.append((human, "human", "tab:orange"))
    expert_lap = expert is not None and not np.isnan(expert.time_s)
    for trace, label, color in lines:
        if trace is None:
            continue
        lap = not np.isnan(trace.time_s)
        # a farthest episode starts where it was placed, not at the line: distance driven
        along_m = trace.line_fraction * length_m if lap else trace.distance_m
        style = {"color": color, "linewidth": 1.4, "linestyle": "-" if lap else "--"}
        speed_ax.plot(
            along_m,
            trace.speed_kmh,
            label=f"{label} ({_lap_time_text(trace.time_s) if lap else 'farthest episode, from its start'})",
            **style,
        )
        if lap and expert_lap and trace is not expert:
            behind_ax.plot(along_m, time_behind_s(trace, expert), label=label, **style)
    speed_ax.set_ylabel("speed, km/h")
    speed_ax.grid(alpha=0.3)
    if any(trace is not None for trace, _, _ in lines):
        speed_ax.legend(loc="best")
    behind_ax.set_xlabel("distance along the track from the start line, m")
    behind_ax.set_ylabel("behind the expert, s")
    behind_ax.grid(alpha=0.3)
    if behind_ax.get_lines()[1:]:
        behind_ax.legend(loc="upper left")
    else:
        behind_ax.set_title("no lap to compare with the expert's", fontsize=10)
    if title:
        fig.suptitle(title, fontsize=13)
    return fig


def _lap_time_text(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60.0)
    return f"{int(minutes)}:{rest:06.3f}" if minutes else f"{rest:.3f} s"


# ------------------------------------------------------------------------------ report


def evaluate_checkpoint(
    checkpoint: Path | str,
    config: Config,
    *,
    num_episodes: int = 1,
    out_dir: Path | str,
    expert: bool = True,
    device: str | None = None,
    agent: SAC | None = None,
    human: Path | str | None = None,
) -> dict[str, Any]:
    """Evaluate a checkpoint (or ``agent``) under ``config``; writes the episodes' logs,
    :data:`PLOT_FILE` and :data:`REPORT_FILE` to ``out_dir``.

    Args:
        checkpoint: A checkpoint folder, or a run folder (its latest checkpoint).
        config: The run's configuration (env, backend, track, car).
        num_episodes: Evaluation episodes (deterministic policy).
        out_dir: Where the files go.
        expert: Drive the expert for the reference lap (simulator only).
        device: Override the checkpoint's device.
        agent: An agent already loaded (then ``checkpoint`` is only reported).
        human: A dataset of a person's laps: its fastest clean lap of the track and car
            is drawn beside the agent's and the expert's (:func:`human_reference`).

    Returns:
        The report (also written as JSON).

    Raises:
        ConfigError: The env of ``config`` has another observation layout than the
            checkpoint's.
    """
    from acgym.config import CONFIG_FILE
    from acgym.rl.checkpoint import env_observation_layout, load_agent, resolve_checkpoint
    from acgym.rl.envs import make_env
    from acgym.track.loaders import load_track

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    config.save(out_dir / CONFIG_FILE)
    if agent is None:
        checkpoint = resolve_checkpoint(checkpoint)
    env = make_env(config, output_dir=out_dir / "episodes", evaluation=True)
    try:
        if agent is None:
            layout = env_observation_layout(env)
            agent = load_agent(checkpoint, device=device, observation_layout=layout)
        episodes = evaluate_agent(env, agent, num_episodes)
    finally:
        env.close()
    period_s = config.env.control_period_s
    agent_trace, best_index = best_lap_trace(episodes, period_s)
    shown = agent_trace if agent_trace is not None else longest_attempt(episodes, period_s)
    expert_trace = None
    expert_laps: list[float] = []
    if expert and config.backend == "sim":
        expert_trace, expert_laps = expert_reference(config)
    human_trace = None
    if human is not None:
        human_trace = human_reference(human, config.env.track, config.env.car, period_s)
    track = load_track(config.env.track)
    plot_path = plot_laps(
        track,
        shown,
        expert_trace,
        out_dir / PLOT_FILE,
        human=human_trace,
        title=f"{config.env.track}, {config.env.car}: best clean lap of {num_episodes} "
        f"evaluation episode{'s' * (num_episodes > 1)}",
    )
    best = agent_trace.time_s if agent_trace is not None else None
    expert_best = expert_trace.time_s if expert_trace is not None else None
    report = {
        "checkpoint": str(checkpoint),
        "track": config.env.track,
        "car": config.env.car,
        "episodes": [e.to_dict() for e in episodes],
        "laps": sum(len(e.laps.laps) for e in episodes),
        "clean_laps": sum(e.laps.clean_laps for e in episodes),
        "best_lap_s": best,
        "best_lap_episode": best_index,
        "expert_best_lap_s": expert_best,
        "expert_laps_s": expert_laps,
        "gap_to_expert_s": None if best is None or expert_best is None else best - expert_best,
        "human_best_lap_s": None if human_trace is None else human_trace.time_s,
        "plot": str(plot_path),
        "out_dir": str(out_dir),
    }
    write_text_atomic(out_dir / REPORT_FILE, json.dumps(report, indent=2) + "\n")
    return report


def expert_reference(config: Config, laps: int = 2) -> tuple[LapTrace | None, list[float]]:
    """The expert's fastest clean lap of ``laps`` laps from a standing start on the same
    track, car and env settings; and all its lap times."""
    import dataclasses

    from acgym.rl.envs import make_env
    from acgym.rl.expert import drive_expert

    # The expert drives its laps whatever the run's episode limits.
    env_config = dataclasses.replace(
        config.env, max_episode_py_time=EXPERT_TIME_LIMIT_S, max_laps_number=None
    )
    env = make_env(dataclasses.replace(config, env=env_config))
    try:
        run = drive_expert(env, laps=laps)
    finally:
        env.close()
    trace, _ = best_lap_trace([run], config.env.control_period_s)
    return trace, [lap.time_s for lap in run.laps.laps]


def format_report(report: dict[str, Any]) -> str:
    """A few lines a person can read."""
    lines = [f"evaluation of {report['checkpoint']} on {report['track']} with {report['car']}:"]
    for i, episode in enumerate(report["episodes"]):
        times = ", ".join(
            f"{lap['time_s']:.3f}{'' if lap['clean'] else ' (invalid)'}" for lap in episode["laps"]
        )
        end = "/".join(episode["end_reasons"]) or "end"
        lines.append(
            f"  episode {i + 1}: return {episode['return']:.1f}, {episode['steps']} steps, "
            f"laps [{times or 'none'}] s, ended by {end}"
        )
    best, expert = report["best_lap_s"], report["expert_best_lap_s"]
    if best is None:
        lines.append(f"  no clean lap ({report['laps']} laps completed)")
    else:
        lines.append(f"  best clean lap {best:.3f} s, {report['clean_laps']} clean laps")
    if expert is not None:
        gap = report["gap_to_expert_s"]
        extra = "" if gap is None else f" (agent {gap:+.3f} s, {100 * gap / expert:+.1f}%)"
        lines.append(f"  expert's best lap {expert:.3f} s{extra}")
    if report.get("human_best_lap_s") is not None:
        lines.append(f"  human's best lap {report['human_best_lap_s']:.3f} s")
    lines.append(f"  plot {report['plot']}")
    lines.append(f"  report {Path(report['out_dir']) / REPORT_FILE}")
    return "\n".join(lines)


__all__ = [
    "PLOT_FILE",
    "REPORT_FILE",
    "EvalEpisode",
    "LapTrace",
    "best_lap_trace",
    "episode_metrics",
    "evaluate_agent",
    "evaluate_checkpoint",
    "expert_reference",
    "format_report",
    "human_reference",
    "lap_figure",
    "lap_trace",
    "plot_laps",
    "run_episode",
    "time_behind_s",
    "unwrap_laps",
]
