"""Seeded fuzzing of the client: a hostile server's garbage is a ``ProtocolError``, never a
crash. (The servers' fuzzing, package and plugin alike, is tests/plugin/test_server_fuzz.py.)"""

from __future__ import annotations

import json
import random

import pytest
from fuzzing import fuzz_payloads
from proto_helpers import client_of_a_hand_driven_server

from acgym.errors import ProtocolError


def test_client_survives_a_hostile_ego_server() -> None:
    """A server answering garbage makes the client raise ProtocolError, never crash."""
    rng = random.Random(5)
    with client_of_a_hand_driven_server(legacy=True, timeout_s=1.0) as (client, fake_server):
        client.send_controls(0.0, 0.0, -1.0)
        data, addr = fake_server.recvfrom(2048)
        assert json.loads(data)["server_steps"] == 0
        refused = read = 0
        for payload in fuzz_payloads(rng, 400, 65536):
            if payload in (b"identified", b"disconnect", b""):
                continue
            fake_server.sendto(payload[:60000], addr)
            try:
                state = client.receive_state(timeout_s=1.0)
            except ProtocolError:
                refused += 1
            else:  # a JSON object is a legacy state: its keys are the original's business
                assert isinstance(state, dict)
                read += 1
        assert refused > 250 and read > 0


@pytest.mark.parametrize("seed", [0, 1])
def test_fuzz_is_reproducible(seed: int) -> None:
    first = list(fuzz_payloads(random.Random(seed), 50, 1024))
    assert first == list(fuzz_payloads(random.Random(seed), 50, 1024))
