"""Track info from the game's AI line: the plugin's fast_lane.ai reader agrees with the
package's (acgym.track.loaders.fast_lane) on the line, both borders and the angles."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from plugin_helpers import plugin_modules

from acgym.sim.session import SimSession
from acgym.track.builtin import AUTHORED_SOURCE, list_builtin_tracks, load_builtin
from acgym.track.loaders.fast_lane import load_fast_lane, save_fast_lane, write_fast_lane


@pytest.fixture(scope="module")
def telemetry() -> Iterator[ModuleType]:
    with plugin_modules("acgym_telemetry") as (module,):
        yield module


# The authored tracks and two real circuits. (Shanghai's racing line runs wide through a
# hairpin tighter than its width: a fast_lane.ai rebuilds the inner border from the line
# and the side widths, folded there, and the loader refuses it.)
@pytest.mark.parametrize("name", [*list_builtin_tracks(AUTHORED_SOURCE), "Monza", "Spa"])
def test_track_info_matches_the_package_loader(
    telemetry: ModuleType, tmp_path: Path, name: str
) -> None:
    path = tmp_path / "content" / "tracks" / name / "ai" / "fast_lane.ai"
    save_fast_lane(load_builtin(name), path)
    info = telemetry.read_track_info(str(path))
    track = load_fast_lane(path)
    np.testing.assert_allclose(info["fast_lane"], track.line_m, atol=1e-4)
    np.testing.assert_allclose(info["left_lane"], track.left_m, atol=1e-3)
    np.testing.assert_allclose(info["right_lane"], track.right_m, atol=1e-3)
    # The angle of travel from the previous point, as the simulator's track info gives it.
    expected = SimSession(track, "ks_mazda_miata").track_info()["angle_array"]
    np.testing.assert_allclose(info["angle_array"], expected, atol=1e-3)
    assert len(info["speed_arr"]) == len(info["throttle_arr"]) == len(track.line_m)
    assert min(info["speed_arr"]) >= telemetry.MIN_SPEED_ARR_MPS


def test_speed_gas_brake_come_from_their_columns(telemetry: ModuleType, tmp_path: Path) -> None:
    angles = np.linspace(0.0, 2.0 * np.pi, 40, endpoint=False)
    points = np.stack((100.0 * np.cos(angles), np.zeros(40), 100.0 * np.sin(angles)), axis=1)
    path = tmp_path / "fast_lane.ai"
    write_fast_lane(path, points, np.full(40, 4.0), np.full(40, 6.0))
    data = bytearray(path.read_bytes())
    # Overwrite speed, gas, brake of point 3 in the extra section (after the count).
    extra = 16 + 40 * 20 + 4 + 3 * 72
    data[extra : extra + 12] = np.array([42.0, 0.75, 0.25], dtype="<f4").tobytes()
    path.write_bytes(bytes(data))
    info = telemetry.read_track_info(str(path))
    assert info["speed_arr"][3] == 42.0
    assert info["throttle_arr"][3] == 0.75
    assert info["brake_arr"][3] == 0.25
    widths = np.hypot(*(np.array(info["left_lane"]) - np.array(info["right_lane"])).T)
    np.testing.assert_allclose(widths, 10.0, rtol=1e-4)


@pytest.mark.parametrize(
    ("content", "says"),
    [(b"\x07\x00\x00\x00", "truncated"), (b"\x05\x00\x00\x00" + b"\x00" * 12, "version-7")],
)
def test_bad_files_are_refused(
    telemetry: ModuleType, tmp_path: Path, content: bytes, says: str
) -> None:
    path = tmp_path / "fast_lane.ai"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=says):
        telemetry.read_track_info(str(path))


def test_layout_folder_first(telemetry: ModuleType, tmp_path: Path) -> None:
    base = tmp_path / "content" / "tracks" / "ks_barcelona"
    for folder in (base / "ai", base / "layout_gp" / "ai"):
        folder.mkdir(parents=True)
        (folder / "fast_lane.ai").write_bytes(b"")
    found = telemetry.fast_lane_path(str(tmp_path), "ks_barcelona", "layout_gp")
    assert found == str(base / "layout_gp" / "ai" / "fast_lane.ai")
    assert telemetry.fast_lane_path(str(tmp_path), "ks_barcelona", "") == str(
        base / "ai" / "fast_lane.ai"
    )
    assert telemetry.fast_lane_path(str(tmp_path), "monza", "") is None
