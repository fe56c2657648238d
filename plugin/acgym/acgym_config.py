"""The plugin's settings: ``config.ini`` beside the app, section ``[acgym]``.

Every key has a default (``KEYS``); a key the plugin does not know, or a value of the
wrong kind, is an error that names the key and says what is expected (the app then
shows it and starts no server). docs/plugin.md documents each key.

Python 3.3, standard library only.
"""

import configparser
import os

SECTION = "acgym"

CONTROL_BACKENDS = ("vjoy", "uinput", "none", "emulated")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

# (key, default, kind, help). Kinds: str, bool, port, float+, int+, or a tuple of choices.
KEYS = (
    ("host", "127.0.0.1", "str", "address the servers bind; not loopback needs a token"),
    ("ego_port", 2345, "port", "UDP port of the ego stream"),
    ("mgmt_port", 2347, "port", "TCP port of the management channel"),
    ("token", "", "str", "shared token the client must send (empty: none; loopback only)"),
    ("legacy", False, "bool", "serve the original sensors_par client's format instead of v1"),
    ("sampling_freq_hz", 25.0, "float+", "states per second on the ego stream"),
    ("control_backend", "vjoy", CONTROL_BACKENDS, "how controls reach the car"),
    ("vjoy_dll", "C:\\Program Files\\vJoy\\x64\\vJoyInterface.dll", "str", "vJoy's DLL"),
    ("vjoy_device", 1, "int+", "vJoy device id (1..16)"),
    ("uinput_path", "/dev/uinput", "str", "Linux uinput node used to create the joystick"),
    (
        "uinput_event_device",
        "",
        "str",
        "Proton: an existing joystick's /dev/input/eventN to write to instead",
    ),
    ("client_timeout_s", 1.0, "float+", "release the pedals after this long without controls"),
    ("client_drop_s", 30.0, "float+", "forget a client silent for this long"),
    ("extra_channels", True, "bool", "send the original's extra per-tyre channels"),
    ("shared_memory", "auto", ("auto", "off"), "read the game's shared memory pages"),
    (
        "screen_capture_enable",
        False,
        "bool",
        "trigger the capture helper (acgym capture) after each state sent",
    ),
    ("screen_capture_port", 2348, "port", "UDP port of the capture helper on this machine"),
    ("log_path", "logs/acgym.log", "str", "log file, relative to the app folder"),
    ("log_level", "INFO", LOG_LEVELS, "log level"),
    ("log_max_bytes", 2000000, "int+", "rotate the log at this size"),
    ("log_backups", 2, "int+", "rotated logs kept"),
)

DEFAULTS = dict((key, default) for key, default, _, _ in KEYS)

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class ConfigError(Exception):
    """The config file is unreadable or holds an unknown key or a bad value."""


def _convert(key, text, kind, where):
    text = text.strip()
    if isinstance(kind, tuple):
        if text not in kind:
            raise ConfigError(
                "{0}: {1} = {2!r}; expected one of {3}".format(where, key, text, ", ".join(kind))
            )
        return text
    if kind == "str":
        return text
    if kind == "bool":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ConfigError("{0}: {1} = {2!r}; expected true or false".format(where, key, text))
    try:
        number = float(text) if kind == "float+" else int(text)
    except ValueError:
        raise ConfigError("{0}: {1} = {2!r}; expected a number".format(where, key, text)) from None
    if kind == "port" and not 0 <= number <= 65535:
        raise ConfigError("{0}: {1} = {2}; expected a port, 0 to 65535".format(where, key, number))
    if kind in ("float+", "int+") and not number > 0:
        raise ConfigError("{0}: {1} = {2}; expected a positive number".format(where, key, number))
    return number


def parse(text, where="config.ini"):
    """Settings from the text of an ini file (defaults for absent keys).

    Raises:
        ConfigError: not an ini file, an unknown section or key, or a bad value.
    """
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";", "#"))
    try:
        parser.read_string(text, source=where)
    except configparser.Error as exc:
        raise ConfigError(
            "{0}: not a valid ini file ({1})".format(where, str(exc).strip())
        ) from None
    for section in parser.sections():
        if section != SECTION:
            raise ConfigError(
                "{0}: unknown section [{1}]; the settings go in [{2}]".format(
                    where, section, SECTION
                )
            )
    values = dict(DEFAULTS)
    if parser.has_section(SECTION):
        kinds = dict((key, kind) for key, _, kind, _ in KEYS)
        for key, text_value in parser.items(SECTION):
            if key not in kinds:
                raise ConfigError(
                    "{0}: unknown key {1!r}; known keys: {2}".format(
                        where, key, ", ".join(k for k, _, _, _ in KEYS)
                    )
                )
            values[key] = _convert(key, text_value, kinds[key], where)
    check(values, where)
    return values


def check(values, where="config.ini"):
    """Check the settings together (ports, token length)."""
    token = values["token"]
    if len(token) > 256 or any(not (32 <= ord(ch) < 127) for ch in token):
        raise ConfigError(
            "{0}: token must be 1 to 256 printable ASCII characters (empty: no token)".format(where)
        )
    if values["ego_port"] != 0 and values["ego_port"] == values["mgmt_port"]:
        raise ConfigError("{0}: ego_port and mgmt_port must differ".format(where))
    if not 0.1 <= values["sampling_freq_hz"] <= 1000.0:
        raise ConfigError("{0}: sampling_freq_hz must be 0.1 to 1000 Hz".format(where))


def load(path):
    """Settings from ``path``; the defaults when the file does not exist."""
    if not os.path.exists(path):
        return dict(DEFAULTS)
    try:
        with open(path, "r", encoding="utf-8") as handle:
            text = handle.read()
    except (IOError, OSError, UnicodeDecodeError) as exc:
        raise ConfigError("{0}: cannot read ({1})".format(path, exc)) from None
    return parse(text, path)


def is_loopback(host):
    """Whether ``host`` names the loopback interface only."""
    return host == "localhost" or host.startswith("127.") or host == "::1"
