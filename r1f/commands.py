"""Command-line options made from config dataclasses, and the one way every step command runs.

A step command is declared in a line (``step_command(app, "generate", help=...)``): its flags are the fields
of the step's config (type, default and help from the field), plus one flag per option of the config's option
groups (an engine's options, for configs that have an engine). The handler builds the config (which checks
every value), then :func:`run_step` drives the step through the local executor with a progress bar and
prints its summary table. Stage packages mount their commands with these helpers (``r1f.commands`` entry
points); only the ``r1f.cli`` package builds the application.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Optional

import typer

from r1f.config import Config, hints
from r1f.console import print_table


def _base(tp: Any) -> tuple[Any, bool]:
    """(the type without None, whether None is allowed)."""
    args = typing.get_args(tp)
    if type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else str), True
    return tp, False


def _optional(tp: Any) -> Any:
    """``Optional[tp]``, spelled the way typer reads (it does not read ``tp | None`` built at run time)."""
    return typing.Optional[tp]  # noqa: UP045


def _cli_type(tp: Any, multiple: bool) -> Any:
    base, _ = _base(tp)
    origin = typing.get_origin(base)
    if origin in (list, tuple):
        return _optional(list[str]) if multiple else _optional(str)
    if base in (int, float, bool, str):
        return _optional(base)
    return _optional(str)


def _default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return field.default_factory()  # type: ignore[misc]
    return None


def _shown(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value)) if value else None
    return value


def config_parameters(cls: type[Config], exclude: Sequence[str] = ()) -> list[inspect.Parameter]:
    """One typer parameter per CLI field of ``cls`` (positional arguments first)."""
    types = hints(cls)
    params: list[inspect.Parameter] = []
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        meta = field.metadata
        if field.name in exclude or not meta.get("cli", True):
            continue
        multiple = bool(meta.get("multiple"))
        default = _default(field)
        if meta.get("argument"):
            inner = list[str] if typing.get_origin(_base(types[field.name])[0]) is list else str
            info: Any = typer.Argument(help=meta["help"], show_default=False)
            params.append(
                inspect.Parameter(field.name, inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[inner, info])
            )
            continue
        base, _ = _base(types[field.name])
        decls = [meta["flag"]] if meta.get("flag") else []
        shown = _shown(default)
        if base is bool:
            if not decls:
                decls = [f"--{field.name.replace('_', '-')}/--no-{field.name.replace('_', '-')}"]
            info = typer.Option(*decls, help=meta["help"])
            params.append(
                inspect.Parameter(
                    field.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[bool, info]
                )
            )
            continue
        info = typer.Option(*decls, help=meta["help"], show_default=shown is not None and not multiple)
        cli_default = None if multiple else shown
        params.append(
            inspect.Parameter(
                field.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=cli_default,
                annotation=Annotated[_cli_type(types[field.name], multiple), info],
            )
        )
    params.sort(key=lambda p: p.default is not inspect.Parameter.empty)  # arguments (no default) first
    return params


def group_parameters(cls: type[Config]) -> tuple[dict[str, inspect.Parameter], dict[str, str]]:
    """One flag per option of a config's option groups (:meth:`Config.option_groups`: an engine's ``--max-active``,
    ``--base-url``, ...), named after the variants that have it; and which group field each flag fills.

    Defaults are None: an option not given is the variant's own default, and an option the chosen variant
    does not have is refused by its options class.
    """
    found: dict[str, tuple[Any, str, list[str]]] = {}
    target: dict[str, str] = {}
    for group, variants in cls.option_groups().items():
        for variant, options in variants.items():
            types = hints(options)
            for field in dataclasses.fields(options):  # type: ignore[arg-type]
                entry = found.setdefault(field.name, (types[field.name], field.metadata["help"], []))
                entry[2].append(f"{variant} (default {_default(field)})")
                target.setdefault(field.name, group)
    params = {}
    for name, (tp, text, variants) in found.items():
        base, _ = _base(tp)
        info = typer.Option(help=f"{text} For: {', '.join(variants)}.", show_default=False)
        params[name] = inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[_optional(base), info],
        )
    return params, target


CONFIG_FILE = inspect.Parameter(
    "config_file",
    inspect.Parameter.KEYWORD_ONLY,
    default=None,
    annotation=Annotated[
        Optional[str],  # noqa: UP045 - typer reads Optional, not a run-time union
        typer.Option("--config", help="A YAML file of this command's options (its keys are the flags' names)."),
    ],
)
SETS = inspect.Parameter(
    "set_",
    inspect.Parameter.KEYWORD_ONLY,
    default=None,
    annotation=Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--set", help="Set an option as key=value (repeatable); wins over --config and flags."),
    ],
)


def config_from(
    cls: type[Config],
    values: dict[str, Any],
    group_flags: Mapping[str, str],
    config_file: str | None,
    sets: Sequence[str] | None,
) -> Config:
    """The one grammar of every step command: ``--config FILE.yaml``, then the flags given, then ``--set k=v``.

    A flag counts as given when its value differs from the option's default (flags cannot say more). Every
    command builds its config this way, through :meth:`Config.from_mapping`, so a file, flags and recipes agree.
    """
    from pathlib import Path

    from r1f.config import load_yaml, parse_overrides
    from r1f.errors import ConfigError

    data: dict[str, Any] = {}
    if config_file:
        path = Path(config_file)
        if not path.is_file():
            path = cls.shipped_config(config_file) or path
        if not path.is_file():
            raise ConfigError(f"--config {config_file}: no such file")
        loaded = load_yaml(path.read_text(), where=str(path)) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: a config file is a mapping of option names to values")
        data.update(loaded)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for name, value in values.items():
        if name in group_flags:
            if value is not None:
                data.setdefault(group_flags[name], {})[name] = value
            continue
        field = fields.get(name)
        if field is None or value is None:
            continue
        default = field.default if field.default_factory is dataclasses.MISSING else field.default_factory()  # type: ignore[misc]
        if value != default:
            data[name] = value
    data.update(parse_overrides(sets))
    return cls.from_mapping(data, where=config_file or ("--set" if sets else ""))


def command_from_config(
    app: typer.Typer,
    name: str,
    cls: type[Config],
    run: Callable[[Config, dict[str, Any]], None],
    *,
    help: str,
    exclude: Sequence[str] = (),
    extra: Sequence[inspect.Parameter] = (),
    default_config: Callable[[dict[str, Any]], str | None] | None = None,
) -> None:
    """Register ``name`` on ``app`` with flags from ``cls``; ``run(config, extras)`` does the work.

    ``default_config(flags)`` names the config file (or shipped config) read when ``--config`` is not given."""
    params = config_parameters(cls, exclude)
    grouped, group_flags = group_parameters(cls)
    taken = {p.name for p in params}
    params += [p for n, p in grouped.items() if n not in taken]
    params += list(extra)
    params += [CONFIG_FILE, SETS]
    extra_names = {p.name for p in extra}

    def handler(**kwargs: Any) -> None:
        extras = {k: kwargs.pop(k) for k in list(kwargs) if k in extra_names}
        config_file, sets = kwargs.pop("config_file", None), kwargs.pop("set_", None)
        if not config_file and default_config is not None:
            config_file = default_config(kwargs)
        run(config_from(cls, kwargs, group_flags, config_file, sets), extras)

    handler.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    handler.__annotations__ = {p.name: p.annotation for p in params}
    handler.__doc__ = help
    handler.__name__ = name.replace("-", "_")
    app.command(name, help=help)(handler)


FORCE = inspect.Parameter(
    "force",
    inspect.Parameter.KEYWORD_ONLY,
    default=False,
    annotation=Annotated[bool, typer.Option("--force", help="Ignore finished work in the run store and start again.")],
)
#: where a step's shards run: flags every step command (and ``r1f run``) takes
EXECUTION = [
    inspect.Parameter(
        "executor",
        inspect.Parameter.KEYWORD_ONLY,
        default="local",
        annotation=Annotated[str, typer.Option(help="local (this process) or ray (shards on Ray workers).")],
    ),
    inspect.Parameter(
        "workers",
        inspect.Parameter.KEYWORD_ONLY,
        default=2,
        annotation=Annotated[int, typer.Option(help="ray: workers (shards per round), one engine each.")],
    ),
    inspect.Parameter(
        "ray_address",
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[
            _optional(str), typer.Option(help="ray: an existing cluster (auto, ray://HOST:10001); default starts one.")
        ],
    ),
    inspect.Parameter(
        "resources",
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[
            _optional(str),
            typer.Option(help='ray: what each worker asks for, as JSON: {"num_cpus": 1} (default), {"num_gpus": 1}.'),
        ],
    ),
]


def make_executor(extras: dict[str, Any]) -> Any:
    """The executor the execution flags ask for."""
    import json

    from r1f.errors import ConfigError
    from r1f.executor import executor_for

    resources = None
    if extras.get("resources"):
        try:
            resources = json.loads(extras["resources"])
        except json.JSONDecodeError as err:
            raise ConfigError(
                f"--resources {extras['resources']!r}: not JSON ({err.msg}); e.g. '{{\"num_gpus\": 1}}'"
            ) from None
        if not isinstance(resources, dict):
            raise ConfigError(f"--resources {extras['resources']!r}: give a JSON object, e.g. '{{\"num_cpus\": 1}}'")
    return executor_for(
        extras.get("executor") or "local",
        workers=int(extras.get("workers") or 2),
        address=extras.get("ray_address"),
        resources=resources,
    )


def step_command(
    app: typer.Typer,
    name: str,
    step: str,
    *,
    help: str,
    exclude: Sequence[str] = (),
    default_config: Callable[[dict[str, Any]], str | None] | None = None,
    prepare: Callable[[Config], None] | None = None,
) -> None:
    """A command that runs the step registered as ``step`` with the config its flags describe (``prepare`` may
    fill what the config leaves to the command, e.g. a default output folder)."""
    from r1f.step import step_class

    cls = step_class(step)

    def run(config: Config, extras: dict[str, Any]) -> None:
        if prepare is not None:
            prepare(config)
        run_step(cls(config), force=bool(extras.get("force")), executor=make_executor(extras))

    command_from_config(
        app,
        name,
        cls.config_class,
        run,
        help=help,
        exclude=exclude,
        extra=[FORCE, *EXECUTION],
        default_config=default_config,
    )


def run_step(step: Any, *, force: bool = False, executor: Any = None) -> Any:
    """Run ``step`` through ``executor`` (default: this process) with a progress bar; print its summary table."""
    from r1f.console import progress_bar
    from r1f.executor import LocalExecutor

    with progress_bar(step.name, tokens=False) as bar:
        task = bar.add_task("starting", total=None)

        def progress(done: int, total: int | None, label: str) -> None:
            bar.update(task, completed=done, total=total, description=label)

        executor = executor or LocalExecutor()
        try:
            result = executor.execute(step, force=force, progress=progress)
        finally:
            executor.close()
    if result.summary:
        print_table(result.title or f"{step.name} -> {result.output}", ["", "value"], result.summary)
    return result


__all__ = ["command_from_config", "config_parameters", "group_parameters", "run_step", "step_command"]
