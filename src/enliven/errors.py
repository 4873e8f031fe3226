"""The one exception hierarchy of Enliven.

Every error a user can cause is an :class:`EnlivenError`; each also subclasses the
nearest builtin so callers can catch either. Messages say what went wrong, with
which file, and what to try.
"""

from __future__ import annotations


class EnlivenError(Exception):
    """Base class of every error Enliven raises on purpose."""


class InputError(EnlivenError, ValueError):
    """An input file is missing, unreadable, empty or unsupported."""


class NoFaceError(InputError):
    """No usable face was found where one is needed."""


class ConfigError(EnlivenError, ValueError):
    """An option has a value outside its range."""


class OutputError(EnlivenError, OSError):
    """The output cannot be written where it was asked for."""


class ModelIntegrityError(EnlivenError, RuntimeError):
    """A model file shipped in a wheel does not match its known checksum."""


class EnlivenWarning(UserWarning):
    """Fixable misuse: the run goes on, but the user should know."""
