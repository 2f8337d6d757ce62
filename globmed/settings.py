"""One settings dataclass per command, filled from a YAML file and/or CLI flags (TRL's style).

`settings_command(app, name, Settings)` turns each dataclass field into a `--field-name` option
(help from the field's metadata) plus `--config FILE.yaml`; flags given on the command line
override the file, and the file overrides the dataclass defaults. List fields take
comma-separated values on the command line and lists (or strings) in YAML.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import types
import typing
from pathlib import Path
from typing import Any, Callable, TypeVar

import typer

from .errors import EXIT_STATUS_HELP, GlobmedError
from .yamlfile import read_yaml

T = TypeVar("T")
_MISSING = dataclasses.MISSING


def _unwrap_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _cli_type(tp: Any) -> Any:
    tp = _unwrap_optional(tp)
    if typing.get_origin(tp) in (list, tuple):
        return str  # comma-separated on the command line
    if tp in (str, int, float, bool, Path):
        return tp
    return str


def coerce(settings_cls: type[T], values: dict[str, Any], origin: str = "settings",
           places: dict[str, str] | None = None) -> T:
    """Build `settings_cls` from loosely typed values (YAML or CLI), with clear errors. `places` says where
    a value was written (FILE:LINE, for the values read from a settings file), else `origin` is named."""
    hints = typing.get_type_hints(settings_cls)
    names = {f.name: f for f in dataclasses.fields(settings_cls)}
    places = places or {}
    unknown = [k for k in values if k not in names]
    if unknown:
        problems = []
        for key in unknown:
            close = difflib.get_close_matches(key, names, n=1)
            problems.append(f"{places.get(key, origin)}: unknown setting '{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
        raise GlobmedError("\n".join(problems) + f"\nknown settings: {', '.join(names)}")
    out: dict[str, Any] = {}
    for name, value in values.items():
        tp = _unwrap_optional(hints[name])
        try:
            out[name] = _convert(tp, value)
        except (TypeError, ValueError) as exc:
            raise GlobmedError(f"{places.get(name, origin)}: setting '{name}': {exc}") from None
    missing = [n for n, f in names.items() if n not in out and f.default is _MISSING and f.default_factory is _MISSING]
    if missing:
        raise GlobmedError(f"{origin}: missing required setting(s): " + ", ".join(f"--{m.replace('_', '-')}" for m in missing))
    try:
        return settings_cls(**out)
    except (TypeError, ValueError) as exc:
        raise GlobmedError(f"{origin}: {exc}") from None


def _convert(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (list, tuple):
        (inner,) = typing.get_args(tp)[:1] or (str,)
        items = [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else list(value)
        return [_convert(inner, v) for v in items]
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise TypeError(f"expected a mapping, got {value!r}")
        return value
    if tp is bool and isinstance(value, str):
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expected true/false, got {value!r}")
    if tp in (int, float, str, Path):
        return tp(value)
    return value


class SettingsFile(dict):
    """A settings file's values (field: value), remembering the file and the line of each field."""

    def __init__(self, values: dict[str, Any], path: Path, lines: dict[str, int]):
        super().__init__(values)
        self.path, self.lines = path, lines

    def places(self) -> dict[str, str]:
        return {key: f"{self.path}:{line}" for key, line in self.lines.items()}


def load_yaml(path: Path) -> SettingsFile:
    data, lines = read_yaml(path, "settings")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise GlobmedError(f"{path}: settings must be a mapping of field: value")
    return SettingsFile({str(k).replace("-", "_"): v for k, v in data.items()}, Path(path),
                        {key[0].replace("-", "_"): line for key, line in lines.lines.items() if len(key) == 1})


def settings_command(app: typer.Typer, name: str, settings_cls: type[T], help: str | None = None,
                     config_loader: Callable[[str], dict[str, Any]] | None = None,
                     config_flag: str = "--config") -> Callable[[Callable[[T], Any]], Callable[[T], Any]]:
    """Register `fn(settings)` as `name`, with one option per field of `settings_cls`."""
    hints = typing.get_type_hints(settings_cls)
    loader = config_loader or (lambda ref: load_yaml(Path(ref)))

    def register(fn: Callable[[T], Any]) -> Callable[[T], Any]:
        params = [inspect.Parameter("settings_file", inspect.Parameter.KEYWORD_ONLY, annotation=typing.Optional[str],
                                    default=typer.Option(None, config_flag, help="YAML file with these settings"))]
        for f in dataclasses.fields(settings_cls):
            flag = "--" + f.name.replace("_", "-")
            tp = _cli_type(hints[f.name])
            default = f.default if f.default is not _MISSING else (
                f.default_factory() if f.default_factory is not _MISSING else None)
            required = f.default is _MISSING and f.default_factory is _MISSING
            decls = [f"{flag}/--no-{flag[2:]}"] if tp is bool else [flag]
            show = "required" if required else (",".join(map(str, default)) if isinstance(default, list) else default)
            if f.metadata.get("positional"):  # e.g. `globmed-push data FOLDER`
                default_param = typer.Argument(None, help=f.metadata.get("help", ""), show_default=False)
            else:
                default_param = typer.Option(None, *decls, help=f.metadata.get("help", ""), show_default=str(show))
            params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY,
                                            annotation=typing.Optional[tp], default=default_param))

        def command(**kwargs: Any) -> Any:
            ref = kwargs.pop("settings_file")
            values = loader(ref) if ref else {}
            flags = {k: v for k, v in kwargs.items() if v is not None}
            # a value read from the file is named by its FILE:LINE in errors (unless a flag replaced it)
            places = {k: p for k, p in values.places().items() if k not in flags} if isinstance(values, SettingsFile) else {}
            values.update(flags)
            return fn(coerce(settings_cls, values, origin=ref or name, places=places))

        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        command.__doc__ = help or fn.__doc__
        command.__name__ = fn.__name__
        app.command(name, help=help or fn.__doc__, epilog=EXIT_STATUS_HELP)(command)
        return fn

    return register
