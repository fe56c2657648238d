"""config.ini: the shipped file holds the defaults; unknown keys and bad values are refused
with a message that names them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from plugin_helpers import PLUGIN_DIR, plugin_modules


@pytest.fixture(scope="module")
def config() -> Iterator[ModuleType]:
    with plugin_modules("acgym_config") as (module,):
        yield module


def test_shipped_config_ini_holds_every_key_at_its_default(config: ModuleType) -> None:
    text = (PLUGIN_DIR / "config.ini").read_text(encoding="utf-8")
    assert config.parse(text) == config.DEFAULTS
    for key, _, _, _ in config.KEYS:
        assert f"\n{key} =" in text, f"config.ini does not show {key}"


def test_missing_file_gives_the_defaults(config: ModuleType, tmp_path: Path) -> None:
    assert config.load(str(tmp_path / "config.ini")) == config.DEFAULTS


def test_values_are_converted(config: ModuleType) -> None:
    values = config.parse(
        "[acgym]\nhost = 0.0.0.0\nego_port = 3000 ; a comment\nlegacy = yes\n"
        "sampling_freq_hz = 50\ncontrol_backend = uinput\ntoken = s3cret!\n"
    )
    assert values["host"] == "0.0.0.0"
    assert values["ego_port"] == 3000
    assert values["legacy"] is True
    assert values["sampling_freq_hz"] == 50.0
    assert values["control_backend"] == "uinput"
    assert values["token"] == "s3cret!"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[acgym]\nego_prot = 1\n", "unknown key 'ego_prot'"),
        ("[sensors]\nhost = x\n", "unknown section [sensors]"),
        ("[acgym]\nego_port = many\n", "ego_port = 'many'; expected a number"),
        ("[acgym]\nego_port = 70000\n", "expected a port"),
        ("[acgym]\nlegacy = perhaps\n", "expected true or false"),
        ("[acgym]\ncontrol_backend = joystick\n", "expected one of vjoy, uinput, none"),
        ("[acgym]\nsampling_freq_hz = 0\n", "positive"),
        ("[acgym]\nego_port = 2400\nmgmt_port = 2400\n", "must differ"),
        ("[acgym]\ntoken = caf\u00e9\n", "printable ASCII"),
        ("not an ini file", "not a valid ini file"),
    ],
)
def test_bad_config_is_refused_with_the_key_named(config: ModuleType, text: str, says: str) -> None:
    with pytest.raises(config.ConfigError, match=None) as error:
        config.parse(text, "apps/python/acgym/config.ini")
    assert says in str(error.value)
    assert "apps/python/acgym/config.ini" in str(error.value)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("127.0.0.2", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
    ],
)
def test_loopback_hosts(config: ModuleType, host: str, loopback: bool) -> None:
    assert config.is_loopback(host) is loopback


def test_docs_list_every_key_with_its_default(config: ModuleType) -> None:
    docs = (PLUGIN_DIR.parents[1] / "docs" / "plugin.md").read_text(encoding="utf-8")
    for key, default, _, _ in config.KEYS:
        row = next((line for line in docs.splitlines() if line.startswith(f"| `{key}` |")), None)
        assert row is not None, f"docs/plugin.md has no row for {key}"
        cell = row.split("|")[2].strip().strip("`")
        if default == "":
            assert cell == "(empty)", key
        elif isinstance(default, float):
            assert float(cell) == default, key
        else:
            assert cell.lower() == str(default).lower(), key
