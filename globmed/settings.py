"""One settings dataclass per command, filled from a YAML file and/or CLI flags (TRL's style).

`settings_command(app, name, Settings)` turns each dataclass field into a `--field-name` option
(help from the field's metadata) plus `--config FILE.yaml`; flags given on the command line
override the file, and the file overrides the dataclass defaults. List fields take
comma-separated values on the command line and lists (or strings) in YAML. A field whose metadata
says `positional` is an argument instead (`globmed-push data FOLDER`), required on the command line
when the field has no default; a positional list takes one or more values (`review score SHEET...`).
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


def _cli_name(f: dataclasses.Field) -> str:
    """How the command line names a field: FOLDER (an argument) or --field-name (an option)."""
    return f.name.upper() if f.metadata.get("positional") else "--" + f.name.replace("_", "-")


def _default_text(f: dataclasses.Field) -> str:
    """The help's note on a field's default (the option's own default is None: "not given on the command
    line", so that a settings file's value is not overridden); brackets escaped for rich markup."""
    if f.default is _MISSING and f.default_factory is _MISSING:
        return r" \[required]"
    default = f.default if f.default is not _MISSING else f.default_factory()  # type: ignore[misc]
    if default is None or default == [] or default == "":
        return ""
    if isinstance(default, bool):
        default = _cli_name(f)[2:] if default else "no-" + _cli_name(f)[2:]
    elif isinstance(default, (list, tuple)):
        default = ",".join(map(str, default))
    return rf" \[default: {default}]"


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
    missing = [f for n, f in names.items() if n not in out and f.default is _MISSING and f.default_factory is _MISSING]
    if missing:
        raise GlobmedError(f"{origin}: missing required setting(s): " + ", ".join(map(_cli_name, missing)))
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
            params.append(_parameter(f, hints[f.name]))

        def command(**kwargs: Any) -> Any:
            ref = kwargs.pop("settings_file")
            values = loader(ref) if ref else {}
            flags = {k: v for k, v in kwargs.items() if v is not None and v != ()}  # () : a list argument not given
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


def _parameter(f: dataclasses.Field, hint: Any) -> inspect.Parameter:
    """The command-line parameter of one settings field: an option, or an argument (metadata `positional`)."""
    help = f.metadata.get("help", "")
    required = f.default is _MISSING and f.default_factory is _MISSING
    tp = _cli_type(hint)
    if f.metadata.get("positional"):  # e.g. `globmed-push data FOLDER`, `globmed review score SHEET...`
        inner = _unwrap_optional(hint)
        if typing.get_origin(inner) in (list, tuple):
            tp = list[_cli_type(typing.get_args(inner)[0])]  # one or more values
        param = typer.Argument(... if required else None, help=help, metavar=f.name.upper(), show_default=False)
        return inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, annotation=typing.Optional[tp],
                                 default=param)
    flag = _cli_name(f)
    decls = [f"{flag}/--no-{flag[2:]}"] if tp is bool else [flag]
    param = typer.Option(None, *decls, help=help + _default_text(f), show_default=False)
    return inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, annotation=typing.Optional[tp], default=param)
