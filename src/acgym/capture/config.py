"""The capture helper's settings, and the original's ``screen_capture_*`` keys mapped onto
them (the original plugin's ``config.py``: ``docs/protocol.md``, legacy defaults)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from acgym.errors import ConfigError
from acgym.protocol.frames import DEFAULT_FRAME_PORT


@dataclass(frozen=True)
class CaptureConfig:
    """What ``acgym capture`` grabs, how it delivers it, and where it listens."""

    window_name: str = "Assetto Corsa"
    """Part of the game window's title."""
    final_image_width: int = 320
    """Width of a delivered frame, pixels (the original's key)."""
    final_image_height: int = 240
    """Height of a delivered frame, pixels (the original's key)."""
    color_mode: str = "gray"
    """``gray``, ``rgb`` or ``bgr`` (the original's key: ``gray`` or ``bgr``)."""
    crop_px: tuple[int, int, int, int] = (0, 0, 0, 0)
    """Pixels cut off the window's (left, top, right, bottom) before resizing (a HUD)."""
    host: str = "127.0.0.1"
    """Address the helper binds: triggers always come from this machine; clients on
    other machines need a routable address and ``token``."""
    port: int = DEFAULT_FRAME_PORT
    """UDP port: triggers (the plugin's ``screen_capture_port``) and subscriptions."""
    token: str | None = None
    """Shared token a subscriber must send (required off loopback)."""
    slots: int = 8
    """Frames kept in shared memory (the last ``slots`` states)."""
    display: str | None = None
    """X display of the game's window (Linux, Proton); None: ``$DISPLAY``."""
    save_to_disk: bool = False
    """Also write every frame as a PNG (the original's ``screen_capture_save_to_disk``)."""
    save_path: str = "captures"
    """Folder of the PNGs (``screen_capture_save_path``)."""
    verbose: bool = False
    """Log every frame (``screen_capture_verbose``)."""

    def __post_init__(self) -> None:
        from acgym.capture.image_ops import channels_of

        channels_of(self.color_mode)
        for name in ("final_image_width", "final_image_height"):
            if not 1 <= getattr(self, name) <= 4096:
                raise ConfigError(f"{name}: expected 1 to 4096 pixels, got {getattr(self, name)}")
        if len(self.crop_px) != 4 or min(self.crop_px) < 0:
            raise ConfigError(f"crop_px: expected four margins >= 0, got {self.crop_px}")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port: expected 0 to 65535, got {self.port}")
        if self.slots < 2:
            raise ConfigError(f"slots: expected >= 2, got {self.slots}")


ORIGINAL_CAPTURE_KEYS: dict[str, str | None] = {
    "final_image_width": "final_image_width",
    "final_image_height": "final_image_height",
    "color_mode": "color_mode",
    "screen_capture_save_to_disk": "save_to_disk",
    "screen_capture_save_path": "save_path",
    "screen_capture_verbose": "verbose",
    "screen_capture_enable": None,  # running the helper is the capture's enabling
    "screen_capture_freq": None,  # a frame per state: the ego stream's rate
    "screen_capture_worker": None,  # the helper is `acgym capture`
    "relocate_screen": None,  # the window is found by its title wherever it is
    "trigger_image_capture_event_name": None,  # triggers are datagrams, not named events
    "ego_sampling_freq_event_name": None,
}
"""The original plugin's capture keys -> ours (None: accepted, no counterpart)."""


def translate_original(values: Mapping[str, Any]) -> dict[str, Any]:
    """Our keys for a mapping that may use the original's capture keys (others kept)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        target = ORIGINAL_CAPTURE_KEYS.get(key, key)
        if target is not None:
            out[target] = value
    return out


def load_capture_config(
    source: Path | str | Mapping[str, Any] | None = None, overrides: Sequence[str] = ()
) -> CaptureConfig:
    """Defaults, then ``source`` (a YAML file or a mapping, ours or the original plugin's
    keys), then ``key=value`` overrides.

    Raises:
        ConfigError: an unknown key, a bad value, an unreadable file.
    """
    values: Mapping[str, Any] | None = None
    if isinstance(source, str | Path):
        try:
            loaded = yaml.safe_load(Path(source).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{source}: cannot read the capture settings ({exc})") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{source}: expected a mapping of capture settings")
        values = translate_original(loaded)
    elif source is not None:
        values = translate_original(source)
    translated = []
    for item in overrides:
        key, sep, value = item.partition("=")
        target = ORIGINAL_CAPTURE_KEYS.get(key, key)
        if target is not None:
            translated.append(f"{target}{sep}{value}")
    try:
        merged = OmegaConf.merge(
            OmegaConf.structured(CaptureConfig),
            dict(values or {}),
            OmegaConf.from_dotlist(translated),
        )
        return OmegaConf.to_object(merged)  # type: ignore[return-value]
    except OmegaConfBaseException as exc:
        raise ConfigError(f"capture settings: {exc.msg}") from None
