"""A faithful test double of the ORIGINAL ``ac_client.py`` (not our code).

Written from the documented behaviour: ``connect`` sent until ``identified`` (2 s socket
timeout), states read one ``recvfrom`` at a time, oldest first, and parsed with
``eval``; controls sent as ``json.dumps`` of a dict with ``server_steps`` (the flags as
Python booleans: JSON ``false``); management by one word per TCP connection, the reply
read with ONE ``recv`` of up to 1 MiB, then ``eval``; ``reset`` = ``disconnect``, the
``reset`` word, a wait, ``connect`` again.

``ast.literal_eval`` stands in for the original's ``eval``: it accepts exactly the
literals that ``eval`` would turn into the same values and fails on ``true``, ``false``,
``null``, ``NaN`` and ``Infinity`` just as ``eval`` would (NameError), without running
anything.
"""

from __future__ import annotations

import ast
import json
import socket
import time
from typing import Any

MAX_MSG_SIZE = 2**18


def original_eval(text: str) -> Any:
    """The original client's ``eval`` of server text, safely (see the module docstring)."""
    return ast.literal_eval(text)


class OriginalClientDouble:
    """The original client, talking to ``host`` on the given ports."""

    def __init__(
        self, ego_port: int, mgmt_port: int, host: str = "127.0.0.1", reset_wait_s: float = 1.0
    ) -> None:
        self.host = host
        self.ego_port = ego_port
        self.mgmt_port = mgmt_port
        self.reset_wait_s = reset_wait_s
        self.socket: socket.socket | None = None
        self.state: dict[str, Any] = {"done": False}
        self.controls: dict[str, Any] = {}
        self.set_defaults()

    # -- SimulationManagement ------------------------------------------------------------

    def send_message(self, message: str, wait_response: bool = False) -> str | None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.connect((self.host, self.mgmt_port))
            s.sendall(message.encode())
            s.settimeout(5)
            if wait_response:
                return s.recv(2**20).decode()
            return None

    def get_static_info(self) -> dict[str, Any]:
        return original_eval(self.send_message("get_static_info", wait_response=True) or "")

    def get_config(self) -> dict[str, Any]:
        return original_eval(self.send_message("get_config", wait_response=True) or "")

    def get_track_info(self) -> dict[str, Any]:
        return original_eval(self.send_message("get_track_info", wait_response=True) or "")

    def send_reset(self) -> None:
        self.send_message("reset")
        time.sleep(self.reset_wait_s)

    # -- Client ------------------------------------------------------------------------------

    def reply_to_server(self, msg: str) -> None:
        if self.socket is not None:
            self.socket.sendto(msg.encode(), (self.host, self.ego_port))

    def setup_connection(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.settimeout(2)
        while True:
            self.reply_to_server("connect")
            try:
                data, _ = self.socket.recvfrom(MAX_MSG_SIZE)
            except TimeoutError:
                continue
            if data.decode() == "identified":
                break
        self.get_servers_input()

    def get_servers_input(self) -> None:
        assert self.socket is not None
        while True:
            try:
                data, _ = self.socket.recvfrom(MAX_MSG_SIZE)
            except TimeoutError:
                continue
            text = data.decode()
            if text == "disconnect":
                self.state["done"] = True
            elif text == "identified":
                pass
            else:
                self.state.update(original_eval(text))
            break

    def set_defaults(self) -> None:
        self.controls = {
            "steer": 0,
            "acc": -1,
            "brake": -1,
            "enable_gear_shift": 0,
            "shift_up": 0,
            "shift_down": 0,
        }

    def set_controls(self, steer: float, acc: float, brake: float) -> None:
        self.controls.update(
            steer=steer,
            acc=acc,
            brake=brake,
            enable_gear_shift=False,
            shift_up=False,
            shift_down=False,
        )

    def respond_to_server(self) -> None:
        self.controls["server_steps"] = self.state["steps"]
        self.reply_to_server(json.dumps(self.controls))

    def step_sim(self) -> dict[str, Any]:
        self.get_servers_input()
        return dict(self.state)

    def reset(self) -> None:
        if self.socket is not None:
            self.close()
        self.send_reset()
        self.set_defaults()
        self.setup_connection()

    def close(self) -> None:
        self.reply_to_server("disconnect")
        time.sleep(0.1)
        if self.socket is not None:
            self.socket.close()
        self.socket = None
