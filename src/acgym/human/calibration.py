"""``acgym drive --calibrate``: record a device's axes while the person follows the
instructions on screen, then :func:`acgym.human.mapping.calibrate` them."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from acgym.human.devices import JoystickDevice
from acgym.human.mapping import DeviceMapping, calibrate

PHASES = (
    ("rest", "Hands and feet off the controls", 2.0),
    ("steer", "Turn fully LEFT, then fully RIGHT, then back to the centre", 6.0),
    ("throttle", "Press the THROTTLE fully, then release it", 4.0),
    ("brake", "Press the BRAKE fully, then release it", 4.0),
)
"""(phase, instruction, seconds) in order."""


def record_calibration(
    pygame: Any,
    device: JoystickDevice,
    sample_hz: float = 60.0,
    phases: tuple[tuple[str, str, float], ...] = PHASES,
) -> DeviceMapping:
    """Show each phase's instruction with a countdown, sample the raw axes, calibrate.

    ``phases``: :data:`PHASES` (their names and order), with other instructions or times.

    Raises:
        ConfigError: A phase moved no axis (from :func:`calibrate`).
    """
    screen = pygame.display.set_mode((720, 240))
    pygame.display.set_caption(f"acgym: calibrating {device.name}")
    font = pygame.font.Font(None, 34)
    samples: dict[str, list[list[float]]] = {}
    for phase, instruction, seconds in phases:
        rows: list[list[float]] = []
        end = time.perf_counter() + seconds
        while (left := end - time.perf_counter()) > 0:
            pygame.event.pump()
            rows.append(device.raw_axes())
            screen.fill((20, 20, 24))
            for k, text in enumerate((instruction, f"{left:.1f} s")):
                surface = font.render(text, True, (255, 255, 255))
                screen.blit(surface, surface.get_rect(center=(360, 90 + 60 * k)))
            pygame.display.flip()
            time.sleep(1.0 / sample_hz)
        samples[phase] = rows
    return calibrate(
        device.name,
        np.array(samples["rest"]),
        np.array(samples["steer"]),
        np.array(samples["throttle"]),
        np.array(samples["brake"]),
        buttons=device.mapping.buttons,
    )


__all__ = ["PHASES", "record_calibration"]
