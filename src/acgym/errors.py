"""Typed errors of acgym: each says what was wrong and what to do about it."""

from __future__ import annotations


class AcgymError(Exception):
    """Base class of every error acgym raises on purpose."""


class ConfigError(AcgymError, ValueError):
    """A configuration value or key is invalid."""


class TrackFileError(AcgymError, ValueError):
    """A track file is missing, malformed or describes an invalid track."""


class CarFileError(AcgymError, ValueError):
    """A car preset or car map file is missing or malformed."""


class ProtocolError(AcgymError):
    """A message on the wire is malformed, oversized or of an unknown version."""


class BackendError(AcgymError, RuntimeError):
    """A backend (game plugin or simulator server) failed or stopped answering."""


class DataFileError(AcgymError, ValueError):
    """An episode log, dataset or checkpoint file cannot be read safely."""
