"""Service settings: defaults < YAML file < environment `A3T_<SERVICE>_<FIELD>` < CLI flags.

A service declares its settings as a frozen dataclass of plain fields (str, int, float, bool, Path,
tuple[str, ...]) and a `problems()` method returning what is wrong with a loaded value (empty
list when nothing is).
`load_settings` builds it from all four layers and reports every problem in one `ConfigError`
(torchtune-style validation): unknown YAML keys, values that do not parse, failed checks.

    settings = load_settings(EnvSettings, "env", sys.argv[1:])
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

import yaml

from a3t.errors import ConfigError


class Settings(Protocol):
    """What `load_settings` builds: a dataclass whose `problems()` says what is wrong with it."""

    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]

    def problems(self) -> list[str]: ...


class ServiceSettings(Settings, Protocol):
    """A service's settings (`a3t.rpc.server.run_service`): they name its log level too."""

    @property
    def log_level(self) -> str: ...


T = TypeVar("T", bound=Settings)
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _parse(value: Any, typ: Any) -> Any:
    """Converts a YAML value or an env/CLI string to `typ`; raises ValueError with a reason."""
    origin = typing.get_origin(typ)
    if origin in (typing.Union, types.UnionType):  # only `X | None` is supported
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() in ("", "none", "null")):
            return None
        return _parse(value, args[0])
    if origin is tuple:
        (inner, *_rest) = typing.get_args(typ)
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"expected a list, got {value!r}")
        return tuple(_parse(v, inner) for v in value)
    if typ is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"expected true/false, got {value!r}")
    if typ is int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(f"expected an integer, got {value!r}")
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"expected an integer, got {value!r}") from None
    if typ is float:
        if isinstance(value, bool):
            raise ValueError(f"expected a number, got {value!r}")
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"expected a number, got {value!r}") from None
    if typ is Path:
        return Path(str(value)).expanduser()
    if typ is str:
        if not isinstance(value, (str, int, float)):
            raise ValueError(f"expected a string, got {value!r}")
        return str(value)
    raise TypeError(f"unsupported settings field type {typ!r}")


def load_settings(
    cls: type[T],
    service: str,
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> T:
    """Loads `cls` from defaults, `--config FILE` (YAML), the environment and CLI flags."""
    environ = os.environ if environ is None else environ
    types_ = _field_types(cls)
    parser = argparse.ArgumentParser(prog=f"a3t-{service}", description=cls.__doc__)
    parser.add_argument("--config", type=Path, help="YAML file of settings (keys = field names)")
    defaults = {f.name: f.default for f in dataclasses.fields(cls)}
    for name, typ in types_.items():
        kind = getattr(typ, "__name__", str(typ))
        default = defaults[name]
        shown = str(default) if isinstance(default, Path) else repr(default)
        # A bare boolean flag means true (`--ground-actions`); `--ground-actions false` still works.
        nargs, const = ("?", "true") if typ is bool else (None, None)
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            dest=name,
            default=None,
            metavar=kind.upper(),
            help=f"default {shown}; env A3T_{service.upper()}_{name.upper()}",
            nargs=nargs,
            const=const,
        )
    args = parser.parse_args(list(argv or []))

    problems: list[str] = []
    raw: dict[str, tuple[str, Any]] = {}  # field -> (where it came from, value)
    config_path = args.config or (
        Path(environ[f"A3T_{service.upper()}_CONFIG"])
        if f"A3T_{service.upper()}_CONFIG" in environ
        else None
    )
    if config_path is not None:
        try:
            loaded = yaml.safe_load(config_path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError([f"config file {config_path}: {exc}"]) from exc
        if not isinstance(loaded, dict):
            raise ConfigError([f"config file {config_path}: top level must be a mapping"])
        for key, value in loaded.items():
            if key not in types_:
                problems.append(
                    f"{config_path}: unknown key {key!r}; known keys: {', '.join(sorted(types_))}"
                )
            else:
                raw[key] = (f"{config_path}:{key}", value)
    raw.update(_from_environ(types_, f"A3T_{service.upper()}_", environ))
    for name in types_:
        value = getattr(args, name)
        if value is not None:
            raw[name] = (f"--{name.replace('_', '-')}", value)

    return _build(cls, types_, raw, problems)


def load_shared_settings(
    cls: type[T], prefix: str = "A3T_", environ: Mapping[str, str] | None = None
) -> T:
    """Loads `cls` from defaults and environment variables `<prefix><FIELD>` only: the settings
    every a3t process shares, servers and clients alike (a3t.rpc.security), so that one variable
    reaches all six services, the controller's clients and the CLI."""
    environ = os.environ if environ is None else environ
    types_ = _field_types(cls)
    return _build(cls, types_, _from_environ(types_, prefix, environ), [])


def _from_environ(
    types_: Mapping[str, Any], prefix: str, environ: Mapping[str, str]
) -> dict[str, tuple[str, Any]]:
    """field -> ("$VARIABLE", its text) for the fields the environment sets."""
    return {
        name: (f"${prefix}{name.upper()}", environ[prefix + name.upper()])
        for name in types_
        if prefix + name.upper() in environ
    }


def _build(
    cls: type[T],
    types_: Mapping[str, Any],
    raw: Mapping[str, tuple[str, Any]],
    problems: list[str],
) -> T:
    values: dict[str, Any] = {}
    for name, (where, value) in raw.items():
        try:
            values[name] = _parse(value, types_[name])
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
    # Fields that did not parse keep their defaults so the remaining checks still run and
    # every problem is reported at once.
    problems.extend(cls(**values).problems())
    if problems:
        raise ConfigError(problems)
    return cls(**values)


def describe(settings: Any) -> str:
    """One line per field, for the start-up log."""
    return ", ".join(
        f"{f.name}={getattr(settings, f.name)!r}" for f in dataclasses.fields(settings)
    )
