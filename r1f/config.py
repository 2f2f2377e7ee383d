"""Typed configs: one dataclass per step, each field with its type, one default and a help string.

The same fields become command-line flags (``r1f.commands``) and YAML recipe keys
(:meth:`Config.from_mapping`), so a knob is defined once. Values are checked against the field's
type when a config is built, from whichever side it came, so ``learning_rate: abc`` or
``n_problems: ten`` is a one-line error before any model loads. TRL's ``GRPOConfig`` is the model:
``field(default, metadata={"help": ...})`` and cross-field checks in ``validate``.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from r1f.errors import ConfigError

C = TypeVar("C", bound="Config")


def option(
    default: Any = dataclasses.MISSING,
    *,
    help: str,
    default_factory: Any = dataclasses.MISSING,
    flag: str | None = None,
    argument: bool = False,
    multiple: bool = False,
    cli: bool = True,
    fingerprint: bool = True,
    low: float | None = None,
    high: float | None = None,
) -> Any:
    """A config field.

    Args:
        default: the one default (use ``default_factory`` for lists and dicts).
        help: what the knob does, shown by ``--help`` and in error messages.
        flag: the command-line flag when it is not ``--field-name`` (e.g. ``--problems``).
        argument: a positional command-line argument instead of a flag.
        multiple: a repeatable flag (``--stop A --stop B``); otherwise lists are comma-separated.
        cli: False for fields only recipes set (the runner fills them, or they are mappings).
        fingerprint: False for fields that cannot change results (progress, paths of the output).
        low, high: the range a number must lie in (inclusive), checked when the config is built.
    """
    metadata = {
        "help": help,
        "flag": flag,
        "argument": argument,
        "multiple": multiple,
        "cli": cli,
        "fingerprint": fingerprint,
        "low": low,
        "high": high,
    }
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@cache
def hints(cls: type) -> dict[str, Any]:
    """The resolved type of every field of ``cls`` (annotations are strings under ``from __future__``)."""
    return typing.get_type_hints(cls)


def type_name(tp: Any) -> str:
    """A short human name for a field type, for error messages and ``--help``.

    >>> type_name(int | None), type_name(list[str]), type_name(Literal["a", "b"])
    ('an integer or null', 'a list of text', "one of 'a', 'b'")
    """
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, types.UnionType):
        named = [type_name(a) for a in args if a is not type(None)]
        return " or ".join(named) + (" or null" if type(None) in args else "")
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (list, tuple):
        inner = type_name(args[0]).removeprefix("a ").removeprefix("an ") if args else "values"
        return f"a list of {inner}"
    if origin is dict or tp is dict:
        return "a mapping"
    return {int: "an integer", float: "a number", bool: "true or false", str: "text", Any: "any value"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


class TypeMismatch(Exception):
    """A value that does not fit a field type (turned into a ConfigError naming the field)."""


def coerce(value: Any, tp: Any) -> Any:
    """``value`` as type ``tp``, converting only where the meaning is unambiguous (``"3"`` -> 3 for an int,
    ``3`` -> 3.0 for a float, ``"en,fr"`` -> ``["en", "fr"]`` for a list of text); raises on anything else.

    >>> coerce("1e-6", float), coerce("en, fr", list[str]), coerce(None, int | None)
    (1e-06, ['en', 'fr'], None)
    """
    origin, args = get_origin(tp), get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(value, arg)
            except TypeMismatch:
                continue
        raise TypeMismatch
    if origin is Literal:
        if value in args:
            return value
        raise TypeMismatch
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise TypeMismatch
    if tp is int:
        if isinstance(value, bool):
            raise TypeMismatch
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                raise TypeMismatch from None
        raise TypeMismatch
    if tp is float:
        if isinstance(value, bool):
            raise TypeMismatch
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                raise TypeMismatch from None
        raise TypeMismatch
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise TypeMismatch
    if origin in (list, tuple) or tp in (list, tuple):
        inner = args[0] if args else Any
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise TypeMismatch
        items = [coerce(v, inner) for v in value]
        return tuple(items) if (origin is tuple or tp is tuple) else items
    if origin is dict or tp is dict:
        if isinstance(value, Mapping):
            return dict(value)
        raise TypeMismatch
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise TypeMismatch


def suggest(name: str, valid: list[str]) -> str:
    """``"; did you mean X?"`` for the nearest valid names, or ``""``."""
    near = difflib.get_close_matches(name, valid, n=3)
    return f"; did you mean {', '.join(near)}?" if near else ""


#: the most problems or rows one command may be asked to make or read (a typo of a few zeros is refused, not run)
MAX_ROWS = 10_000_000
#: the most samples per problem
MAX_SAMPLES = 4096


class Config:
    """Base of every step's config. Subclasses are ``@dataclass`` classes whose fields use :func:`option`.

    Building one checks every field's type (converting unambiguous values) and then calls
    :meth:`validate` for cross-field rules. Errors are :class:`ConfigError` (a ``ValueError``) naming
    the field, the value and the fix.
    """

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            try:
                object.__setattr__(self, f.name, coerce(value, hints(type(self))[f.name]))
            except TypeMismatch:
                raise ConfigError(f"{f.name} must be {type_name(hints(type(self))[f.name])}, got {value!r}") from None
            low, high = f.metadata.get("low"), f.metadata.get("high")
            value = getattr(self, f.name)
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if number and ((low is not None and value < low) or (high is not None and value > high)):
                flag = "--" + f.name.replace("_", "-")
                if low is not None and value < low:
                    raise ConfigError(f"{flag} must be at least {low:g}, got {value!r}")
                raise ConfigError(f"{flag} must be at most {high:g}, got {value!r}")
        self.validate()

    def validate(self) -> None:
        """Cross-field checks; raise :class:`ConfigError` with the rule, the values and the fix."""

    @classmethod
    def shipped_config(cls, name: str) -> Path | None:
        """A config file this kind of config ships under ``name`` (``--config r1-zero-smollm2``), if any."""
        return None

    @classmethod
    def option_groups(cls) -> dict[str, Mapping[str, type[Config]]]:
        """Mapping fields whose keys are options of their own, by variant (``engine_options`` -> each engine's
        options class): the CLI gives each option a flag of its own and fills the field from them."""
        return {}

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]

    @classmethod
    def from_mapping(cls: type[C], data: Mapping[str, Any], *, where: str = "") -> C:
        """Build from recipe keys; an unknown key fails with the nearest valid names.

        Args:
            data: keys are field names; values as YAML gives them.
            where: what the keys came from (``recipe tiny-r1, stage sft1``), prefixed to errors.
        """
        prefix = f"{where}: " if where else ""
        names = cls.field_names()
        for key in data:
            if key not in names:
                raise ConfigError(
                    f"{prefix}unknown key {key!r}{suggest(str(key), names)} (valid keys: {', '.join(names)})"
                )
        try:
            return cls(**dict(data))
        except ConfigError as err:
            raise ConfigError(f"{prefix}{err}") from None
        except TypeError as err:  # a required field is missing
            raise ConfigError(f"{prefix}{err}") from None

    def to_dict(self) -> dict[str, Any]:
        """Field values as plain data (lists, dicts, scalars), in field order."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def fingerprint_dict(self) -> dict[str, Any]:
        """The values that change results: what a stage's fingerprint hashes."""
        return {
            f.name: _plain(getattr(self, f.name))
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
            if f.metadata.get("fingerprint", True)
        }

    def replace(self: C, **changes: Any) -> C:
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    @classmethod
    def help_of(cls, name: str) -> str:
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name == name:
                return str(f.metadata.get("help", ""))
        return ""


def _plain(value: Any) -> Any:
    if isinstance(value, Config):
        return value.to_dict()
    if isinstance(value, tuple):
        return list(value)
    return value


# -- YAML as people write recipes ----------------------------------------------------------------------


def _recipe_loader() -> type:
    import re

    import yaml

    class RecipeLoader(yaml.SafeLoader):
        """Only true/false are booleans (``save_strategy: no`` stays "no"); 1e-6 is a float."""

    RecipeLoader.yaml_implicit_resolvers = {
        key: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:bool"]
        for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    RecipeLoader.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
    )
    # YAML 1.1 wants "1.0e-6", so learning_rate=1e-6 would arrive as a string
    RecipeLoader.add_implicit_resolver(
        "tag:yaml.org,2002:float", re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+$"), list("-+0123456789.")
    )
    return RecipeLoader


_LOADER: type | None = None


def shipped_file(name_or_path: str, folder: Path, what: str) -> Path:
    """A YAML file given by path, or the name of one shipped in ``folder`` (``tiny-r1`` -> ``folder/tiny-r1.yaml``)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = folder / f"{name_or_path}.yaml"
    if shipped.is_file():
        return shipped
    names = ", ".join(sorted(p.stem for p in folder.glob("*.yaml")))
    raise ConfigError(f"no {what} {name_or_path!r}: not a file, and not a shipped {what} ({names})")


def load_yaml(text: str, *, where: str = "") -> Any:
    """Parse recipe YAML; a syntax error is a one-line :class:`ConfigError` naming ``where``."""
    import yaml

    global _LOADER
    if _LOADER is None:
        _LOADER = _recipe_loader()
    try:
        return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        raise ConfigError(f"{where + ': ' if where else ''}not valid YAML ({str(err).splitlines()[0]})") from None


def parse_overrides(items: Any, *, flag: str = "--set") -> dict[str, Any]:
    """``["max_steps=3", "dataset=PATH"]`` -> ``{"max_steps": 3, "dataset": "PATH"}`` (values read as YAML)."""
    out: dict[str, Any] = {}
    for item in items or ():
        key, sep, value = str(item).partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{flag} {item!r}: write key=value, e.g. {flag} max_steps=3")
        out[key.strip()] = load_yaml(value, where=f"{flag} {key.strip()}")
    return out
