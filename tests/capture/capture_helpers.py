"""Helpers of the capture tests: the plugin's config.ini for the emulated game."""

from __future__ import annotations

from pathlib import Path

TEST_SETTINGS = {
    "ego_port": "0",
    "mgmt_port": "0",
    "control_backend": "emulated",
    "client_timeout_s": "5",
}
"""config.ini of the tests: free ports, the emulated vJoy, a patient client timeout."""


def write_config(app_dir: Path, settings: dict[str, str]) -> None:
    """``app_dir/config.ini``: ``[acgym]`` with ``TEST_SETTINGS`` and ``settings``."""
    lines = [f"{key} = {value}" for key, value in {**TEST_SETTINGS, **settings}.items()]
    (app_dir / "config.ini").write_text("[acgym]\n" + "\n".join(lines) + "\n", encoding="utf-8")
