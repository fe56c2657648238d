"""``acgym doctor``: the connection check a user runs when nothing moves.

It walks the path from this machine to the car, step by step, and for each failure says
in one line what to fix:

1. ``TCP <mgmt>``: the management port accepts a connection;
2. ``UDP <ego>``: the ego stream answers ``connect`` (protocol version and token, or the
   original plugin's ``identified`` in legacy mode);
3. ``handshake``: ``hello`` over management (version, token) and the ego session, with
   the package's client (:class:`acgym.protocol.client.Client`);
4. ``static info``: the car, the track and their facts can be read;
5. ``config``: the server's control rate, and (the acgym plugin) its control backend;
6. ``states``: states stream in, with every required channel;
7. ``controls``: a small steering command shows in a following state's ``steerAngle``
   (the whole control path: client, plugin, virtual joystick, the game's bindings).

The car is left with the safe controls (centred, pedals released). Nothing here resets
the car.
"""

from __future__ import annotations

import math
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from acgym.errors import BackendError, ProtocolError
from acgym.protocol import channels as ch
from acgym.protocol import codec
from acgym.protocol.client import Client
from acgym.protocol.framing import encode_frame
from acgym.protocol.messages import (
    DEFAULT_EGO_PORT,
    DEFAULT_HOST,
    DEFAULT_MGMT_PORT,
    Connect,
    Connected,
    Disconnect,
    ErrorMessage,
    Hello,
)

DEFAULT_TIMEOUT_S = 2.0
"""How long each step waits for an answer, s."""
STATES_WINDOW_S = 1.0
"""How long the stream is watched to count states, s."""
STEER_PROBE = 0.25
"""The steering command of the control check (a quarter of full lock, to the right)."""
STEER_MIN_CHANGE_DEG = 1.0
"""The steering-wheel angle must move this much for the control path to count as closed."""
CONTROL_WAIT_S = 2.0
"""How long the control check waits for the steering wheel to move, s."""

APP_ENABLED_HINT = (
    "is Assetto Corsa running (on track, not in the menu) with the acgym app enabled "
    "(Settings > General > UI Modules, or Content Manager > Settings > Apps)?"
)


@dataclass(frozen=True)
class Check:
    """One step of the check.

    Attributes:
        name: What was checked (``TCP 2347``, ``controls``, ...).
        status: ``ok``, ``fail``, ``warn`` (works, but something is off) or ``skip``
            (not run: an earlier step failed).
        detail: What was seen, or on failure what went wrong and what to fix.
    """

    name: str
    status: str
    detail: str
    stop: bool = False
    """The next steps must not run (the server speaks the other format)."""

    @property
    def failed(self) -> bool:
        return self.status == "fail"

    def line(self) -> str:
        """One line of the report."""
        return f"{self.status.upper():<4} {self.name}: {self.detail}"


@dataclass(frozen=True)
class Target:
    """Where the plugin (or ``acgym sim serve``) is expected."""

    host: str = DEFAULT_HOST
    ego_port: int = DEFAULT_EGO_PORT
    mgmt_port: int = DEFAULT_MGMT_PORT
    token: str | None = None
    legacy: bool = False
    timeout_s: float = DEFAULT_TIMEOUT_S


def run_doctor(target: Target, report: Callable[[Check], None] | None = None) -> list[Check]:
    """Run every step against ``target``; ``report`` is called with each result as it comes.

    Returns:
        The checks, in order. Any ``fail`` means the connection does not work.
    """
    checks: list[Check] = []

    def add(check: Check) -> Check:
        checks.append(check)
        if report is not None:
            report(check)
        return check

    tcp = add(_check_tcp(target))
    if tcp.stop:
        # The server speaks the other format: a v1 datagram could kill the original plugin.
        udp = add(Check(f"UDP {target.ego_port}", "skip", "not checked: fix the format first"))
    else:
        udp = add(_check_udp(target))
    if tcp.failed or udp.failed or udp.status == "skip":
        for name in ("handshake", "static info", "config", "states", "controls"):
            add(Check(name, "skip", "not checked: fix the ports first"))
        return checks
    client = Client(
        target.host,
        target.ego_port,
        target.mgmt_port,
        token=target.token,
        legacy=target.legacy,
        timeout_s=target.timeout_s,
        name="acgym-doctor",
    )
    try:
        handshake = add(_check_handshake(client, target))
        if handshake.failed:
            for name in ("static info", "config", "states", "controls"):
                add(Check(name, "skip", "not checked: the handshake failed"))
            return checks
        add(_check_static_info(client))
        config_check, config = _check_config(client, target)
        add(config_check)
        states_check, last_state = _check_states(client, target)
        add(states_check)
        if states_check.failed or last_state is None:
            add(Check("controls", "skip", "not checked: no states"))
        else:
            add(_check_controls(client, target, last_state, config))
    finally:
        _release(client)
    return checks


def format_report(checks: list[Check]) -> str:
    """The report: one line per check and a verdict."""
    lines = [check.line() for check in checks]
    failed = [check.name for check in checks if check.failed]
    if failed:
        lines.append(f"acgym doctor: {len(failed)} problem(s): {', '.join(failed)}")
    else:
        lines.append("acgym doctor: everything works")
    return "\n".join(lines)


# -- steps ------------------------------------------------------------------------------


def _check_tcp(target: Target) -> Check:
    """Reachability of the management port, and which protocol it speaks."""
    name = f"TCP {target.mgmt_port}"
    where = f"{target.host}:{target.mgmt_port}"
    try:
        with socket.create_connection(
            (target.host, target.mgmt_port), timeout=target.timeout_s
        ) as sock:
            return _probe_protocol(sock, target, name, where)
    except ConnectionRefusedError:
        return Check(
            name,
            "fail",
            f"connection refused at {where}: nothing listens there; {APP_ENABLED_HINT} Is "
            f"mgmt_port in apps/python/acgym/config.ini {target.mgmt_port}?",
        )
    except TimeoutError:
        return Check(
            name,
            "fail",
            f"no answer from {where} within {target.timeout_s:g} s: is the host right? Is a "
            f"firewall dropping TCP {target.mgmt_port}?",
        )
    except OSError as exc:
        return Check(name, "fail", f"cannot reach {where} ({exc}): check --host")


def _probe_protocol(sock: socket.socket, target: Target, name: str, where: str) -> Check:
    """Ask the management server something harmless in the expected format.

    The original plugin closes a connection on a word it does not know, and acgym's v1
    server answers anything that is not a frame with an error frame; so a mismatch is
    found here, before anything reaches the ego stream (the original plugin's ego server
    dies on a datagram it cannot parse).
    """
    sock.settimeout(target.timeout_s)
    if target.legacy:
        sock.sendall(b"get_config")
        data = sock.recv(65536)
        if data[:1] == b"{":
            return Check(name, "ok", f"the management server answers at {where} (original format)")
        if len(data) >= 4 and data[:1] == b"\x00":
            return Check(name, "fail", _legacy_mismatch("management server"), stop=True)
        return Check(
            name, "fail", f"the server at {where} did not answer get_config: is it the plugin?"
        )
    sock.sendall(encode_frame(codec.encode_request(Hello(1, target.token, "acgym-doctor"))))
    data = sock.recv(65536)
    if not data:
        mismatch = _legacy_mismatch("management server", server_is_legacy=True)
        return Check(name, "fail", mismatch, stop=True)
    if data[:1] != b"\x00":
        return Check(name, "fail", f"the server at {where} does not speak the acgym protocol")
    return Check(name, "ok", f"the management server answers at {where}")


def _check_udp(target: Target) -> Check:
    name = f"UDP {target.ego_port}"
    where = f"{target.host}:{target.ego_port}"
    nonce = 1 + secrets.randbelow(2**31 - 2)
    hello = (
        b"connect" if target.legacy else codec.encode_ego(Connect(target.token, "realtime", nonce))
    )
    no_reply = (
        f"no reply to connect within {target.timeout_s:g} s at {where}; {APP_ENABLED_HINT} "
        f"Is ego_port {target.ego_port}? Is a firewall blocking UDP on {target.host}?"
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect((target.host, target.ego_port))
            deadline_s = time.monotonic() + target.timeout_s
            next_send_s = 0.0
            while True:
                now_s = time.monotonic()
                if now_s >= deadline_s:
                    return Check(name, "fail", no_reply)
                if now_s >= next_send_s:
                    sock.send(hello)
                    next_send_s = now_s + 0.5
                sock.settimeout(max(0.01, min(deadline_s, next_send_s) - now_s))
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    continue
                verdict = _udp_reply(data, target, nonce)
                if verdict is not None:
                    sock.send(b"disconnect" if target.legacy else codec.encode_ego(Disconnect()))
                    return Check(name, verdict[0], verdict[1])
        except ConnectionRefusedError:
            return Check(
                name,
                "fail",
                f"port closed at {where} (connection refused): nothing listens on UDP "
                f"{target.ego_port}; {APP_ENABLED_HINT} Is ego_port in config.ini "
                f"{target.ego_port}?",
            )
        except OSError as exc:
            return Check(name, "fail", f"cannot send to {where} ({exc}): check --host")


def _udp_reply(data: bytes, target: Target, nonce: int) -> tuple[str, str] | None:
    """(status, detail) for a reply to ``connect``, or None to keep waiting."""
    if target.legacy:
        if data == b"identified":
            return "ok", "the ego stream answers connect (the original plugin's format)"
        if data.startswith(b'{"type"'):
            return "fail", _legacy_mismatch("ego stream")
        return None  # a state of an earlier session
    try:
        msg = codec.decode_from_server(data)
    except ProtocolError:
        if data in (b"identified", b"disconnect") or data.startswith(b"{"):
            return "fail", _legacy_mismatch("ego stream", server_is_legacy=True)
        return None
    if isinstance(msg, Connected) and msg.nonce == nonce:
        return "ok", f"the ego stream answers connect (protocol v{msg.version}, {msg.mode})"
    if isinstance(msg, ErrorMessage):
        return "fail", _error_fix(msg.code, msg.message)
    return None


def _legacy_mismatch(where: str, server_is_legacy: bool = False) -> str:
    if server_is_legacy:
        return (
            f"the {where} speaks the original sensors_par format: run with --legacy, or set "
            "legacy = false in apps/python/acgym/config.ini"
        )
    return f"the {where} speaks acgym protocol v1, not the original format: run without --legacy"


def _error_fix(code: str, message: str) -> str:
    if code == "bad_token":
        return (
            "the token does not match (bad_token): pass --token with the token in "
            "apps/python/acgym/config.ini"
        )
    if code == "version_mismatch":
        return f"protocol versions differ ({message}): update the plugin or acgym so both match"
    if code == "unsupported_mode":
        return f"the server refused the stepping mode: {message}"
    return f"the server refused: {code}: {message}"


def _check_handshake(client: Client, target: Target) -> Check:
    try:
        client.connect()
    except (BackendError, ProtocolError) as exc:
        text = str(exc)
        for code in ("bad_token", "version_mismatch"):
            if code in text:
                return Check("handshake", "fail", _error_fix(code, text))
        if "not JSON" in text or "frame of" in text:
            return Check("handshake", "fail", _legacy_mismatch("management server", True))
        return Check("handshake", "fail", text)
    if target.legacy:
        return Check("handshake", "ok", "connected in legacy mode (no version, no token)")
    info = client.server_info
    return Check(
        "handshake",
        "ok",
        f"protocol v{info['version']}, {info['server']}, backend {info['backend']}, "
        f"{info['control_rate_hz']:g} Hz" + (", token accepted" if target.token else ""),
    )


def _check_static_info(client: Client) -> Check:
    try:
        info = client.static_info()
    except (BackendError, ProtocolError) as exc:
        text = str(exc)
        if "busy" in text:
            return Check(
                "static info",
                "fail",
                f"not ready ({text}): wait until the session has loaded and the car is on "
                "track, then run doctor again",
            )
        return Check("static info", "fail", text)
    configuration = f" ({info['TrackConfiguration']})" if info.get("TrackConfiguration") else ""
    return Check(
        "static info",
        "ok",
        f"{info['CarName']} on {info['TrackName']}{configuration}, "
        f"{float(info['TrackLength']):.0f} m, backend {info.get('backend', '?')}",
    )


def _check_config(client: Client, target: Target) -> tuple[Check, dict[str, Any]]:
    try:
        config = client.config()
    except (BackendError, ProtocolError) as exc:
        return Check("config", "fail", str(exc)), {}
    rate = config.get("ego_sampling_freq")
    detail = f"{rate:g} Hz" if isinstance(rate, (int, float)) else "no ego_sampling_freq"
    error = config.get("control_backend_error")
    if error:
        return Check(
            "config",
            "warn",
            f"{detail}; the plugin's control backend failed: {error} (see "
            "apps/python/acgym/logs/acgym.log)",
        ), config
    active = config.get("control_backend_active")
    if active == "none":
        return Check(
            "config",
            "warn",
            f"{detail}; control_backend = none: the plugin does not apply controls",
        ), config
    if active:
        detail += f", controls through {active}"
    return Check("config", "ok", detail), config


def _check_states(client: Client, target: Target) -> tuple[Check, dict[str, Any] | None]:
    start_s = time.monotonic()
    count = 0
    state: dict[str, Any] | None = None
    try:
        while time.monotonic() - start_s < STATES_WINDOW_S or count == 0:
            client.send_controls(0.0, -1.0, -1.0)
            state = client.receive_state()
            count += 1
    except (BackendError, ProtocolError) as exc:
        if count == 0:
            return Check(
                "states",
                "fail",
                f"{exc}; the server accepted the connection but sends no state: is the car on "
                "track (the plugin waits for it), and is the game paused?",
            ), None
        return Check("states", "fail", f"the stream stopped after {count} states: {exc}"), state
    elapsed_s = time.monotonic() - start_s
    assert state is not None
    missing = [name for name in ch.REQUIRED_CHANNELS if name not in state]
    if target.legacy:
        missing = [name for name in missing if name != ch.DONE]
    rate_hz = count / max(elapsed_s, 1e-9)
    detail = f"{count} states in {elapsed_s:.1f} s ({rate_hz:.0f}/s), {len(state)} channels"
    if missing:
        return Check(
            "states", "fail", f"{detail}; required channels missing: {', '.join(missing[:8])}"
        ), state
    no_value = [
        name
        for name in ch.REQUIRED_CHANNELS
        if isinstance(state.get(name), float) and math.isnan(state[name])
    ]
    if no_value:
        return Check(
            "states",
            "warn",
            f"{detail}; no value for {', '.join(no_value[:6])} (the game's shared memory is "
            "not readable: see docs/plugin.md)",
        ), state
    return Check("states", "ok", detail), state


def _check_controls(
    client: Client, target: Target, baseline: dict[str, Any], config: dict[str, Any]
) -> Check:
    before = float(baseline.get(ch.STEER_ANGLE, math.nan))
    if math.isnan(before):
        return Check("controls", "fail", "the states have no steerAngle value")
    deadline_s = time.monotonic() + CONTROL_WAIT_S
    after = before
    try:
        while time.monotonic() < deadline_s:
            client.send_controls(STEER_PROBE, -1.0, -1.0)
            after = float(client.receive_state()[ch.STEER_ANGLE])
            if abs(after - before) >= STEER_MIN_CHANGE_DEG:
                break
    except (BackendError, ProtocolError) as exc:
        return Check("controls", "fail", f"the stream stopped during the control check: {exc}")
    change = after - before
    if abs(change) < STEER_MIN_CHANGE_DEG:
        why = config.get("control_backend_error") or (
            "control_backend = none" if config.get("control_backend_active") == "none" else ""
        )
        return Check(
            "controls",
            "fail",
            f"steer {STEER_PROBE:+g} did not move steerAngle ({before:.1f} deg) within "
            f"{CONTROL_WAIT_S:g} s: "
            + (f"{why}; " if why else "")
            + "is the virtual joystick bound in the game (Options > Controls: steering = "
            "vJoy/uinput axis X, throttle = Y, brake = Z)? In legacy mode the original plugin "
            "applies controls only with vjoy_executed_by_server.",
        )
    if change < 0:
        return Check(
            "controls",
            "fail",
            f"steer {STEER_PROBE:+g} turned the wheel left ({before:.1f} -> {after:.1f} deg): "
            "the steering axis is inverted; invert axis X in the game's controls",
        )
    return Check(
        "controls",
        "ok",
        f"steer {STEER_PROBE:+g} moved steerAngle {before:.1f} -> {after:.1f} deg",
    )


def _release(client: Client) -> None:
    """Centre the wheel, release the pedals, leave."""
    if client.connected:
        try:
            client.send_controls(0.0, -1.0, -1.0)
        except (BackendError, ProtocolError):
            pass
    client.close()
