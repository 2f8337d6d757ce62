"""What the Python API shares: settings from a dataclass or from keyword arguments, validated as the
CLI validates flags."""

from __future__ import annotations

from typing import Any, TypeVar

from .settings import coerce

T = TypeVar("T")


def settings_from(cls: type[T], settings: T | None, values: dict[str, Any], command: str) -> T:
    """`settings` as given, or `cls(**values)` converted and checked like the command's flags."""
    if settings is not None:
        if values:
            raise TypeError(f"{command}: give a {cls.__name__} or keyword settings, not both")
        if not isinstance(settings, cls):
            raise TypeError(f"{command}: expected a {cls.__name__}, got {type(settings).__name__}")
        return settings
    return coerce(cls, values, origin=command)
