"""What the Python API shares: settings from a dataclass or from keyword arguments (validated as the
CLI validates flags), and modules that can be called as their command."""

from __future__ import annotations

import sys
import types
from typing import Any, Callable, TypeVar

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


def make_callable(module_name: str, function: Callable[..., Any]) -> None:
    """Let a module be called as `function`, so that `globmed.bench.run(...)` runs the bench while
    `from globmed.bench.run import BenchSettings` keeps working. (A plain function named like a submodule
    cannot keep the name: importing the submodule rebinds the package attribute to the module.)"""
    module = sys.modules[module_name]

    class CallableModule(types.ModuleType):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            return function(*args, **kwargs)

    CallableModule.__call__.__doc__ = function.__doc__
    module.__class__ = CallableModule
