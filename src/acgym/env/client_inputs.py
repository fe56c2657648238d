"""The game client's own input device, logged beside the game's states
(``record_controls_from_client``).

In the original, a person drives the game with a wheel and the client machine reads the
same wheel (through pygame) at every state, adding its axes to the state before the
environment logs it. Here the reader is anything with ``read() -> {channel: value}``
(:class:`ClientInputs`; ``acgym drive`` in the game passes its device,
:class:`acgym.human.client_inputs.DeviceClientInputs`), and :class:`ClientInputsBackend`
wraps the game's backend so that every state it returns carries the reader's values under
:data:`acgym.env.derived.CLIENT_INPUT_CHANNELS` (``steerAngleManual``, ``accStatusManual``,
``brakeStatusManual``). The episode log writes them with the rest of the state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from acgym.env.backend import Backend, Controls


class ClientInputs(Protocol):
    """The client's input device, read once per state."""

    def read(self) -> Mapping[str, float]:
        """The device now, as channel -> value (:data:`CLIENT_INPUT_CHANNELS`)."""
        ...

    def close(self) -> None:
        """Release the device."""
        ...


class ClientInputsBackend:
    """A backend whose states also carry the client's device (reads it once per state).

    Every member of the wrapped backend is this one's; ``reset`` and ``observe`` add the
    reader's values to the state they return.

    Args:
        backend: The game's backend (``Remote``).
        inputs: The client's device.
    """

    def __init__(self, backend: Backend, inputs: ClientInputs) -> None:
        self.backend = backend
        self.inputs = inputs

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)

    def reset(self, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return {**self.backend.reset(options), **self.inputs.read()}

    def observe(self) -> dict[str, Any]:
        return {**self.backend.observe(), **self.inputs.read()}

    def apply(self, controls: Controls) -> None:
        self.backend.apply(controls)

    def close(self) -> None:
        self.backend.close()
        self.inputs.close()


__all__ = ["ClientInputs", "ClientInputsBackend"]
