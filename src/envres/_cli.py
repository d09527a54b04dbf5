"""The ``envres`` command. The only place that maps errors to exit codes.

Exit codes: 0 success; 1 invalid profile or definitions, or no such profile;
2 command-line usage; 3 a run failed; 130 Ctrl-C; 143 SIGTERM.
Errors go to stderr, results to stdout; no traceback unless ``--debug``, and
never a secret.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from envres._errors import (
    EnvresError,
    Problem,
    ProfileError,
    RunError,
    UsageError,
)
from envres._validate import redact

if TYPE_CHECKING:
    from envres._definitions import Definitions
    from envres._profiles import ProfileFile
    from envres._validate import ResolvedProfile

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_RUN_FAILED = 3
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

F = TypeVar("F", bound=Callable[..., Any])


class _State:
    """What the error handler needs to know about the command that failed."""

    debug = False
    secrets: frozenset[str] = frozenset()


class Terminated(BaseException):
    """Raised in the main thread by the SIGTERM handler, so teardown runs like on Ctrl-C."""


def _out(text: str) -> None:
    click.echo(redact(text, _State.secrets))


def _err(text: str) -> None:
    click.echo(redact(text, _State.secrets), err=True)


def common(fn: F) -> F:
    """The options every command takes."""
    options = [
        click.option(
            "--project",
            type=click.Path(file_okay=False, path_type=Path),
            default=None,
            help="Folder holding pyproject.toml [tool.envres] (default: current folder).",
        ),
        click.option(
            "--profile",
            default=None,
            help="Profile name (else $ENVRES_PROFILE, else default_profile, else dev).",
        ),
        click.option(
            "--profiles-dir",
            type=click.Path(file_okay=False, path_type=Path),
            default=None,
            help="Profiles folder (else $ENVRES_PROFILES_DIR, else [tool.envres] profiles_dir).",
        ),
        click.option(
            "--definitions",
            default=None,
            metavar="MODULE:ATTR",
            help="The Definitions object (else [tool.envres] definitions).",
        ),
        click.option("--debug", is_flag=True, help="Show tracebacks (secrets still masked)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


class _Context:
    def __init__(
        self,
        project: Path | None,
        profile: str | None,
        profiles_dir: Path | None,
        definitions: str | None,
        debug: bool,
    ) -> None:
        from envres._settings import load_settings

        _State.debug = _State.debug or debug
        self.settings = load_settings(
            project=project,
            environ=os.environ,
            profile=profile,
            profiles_dir=profiles_dir,
            definitions=definitions,
        )
        self._defs: Definitions | None = None
        self._files: dict[str, ProfileFile] | None = None
        self.parsed: dict[str, Any] = {}  # each profile file parsed once per command

    def files(self) -> dict[str, ProfileFile]:
        """The profile files, found once per command."""
        from envres._load import profile_files

        if self._files is None:
            self._files = profile_files(self.settings)
        return self._files

    def definitions(self) -> Definitions | None:
        """The project's Definitions, or None when none is configured."""
        from envres._load import import_definitions

        if self._defs is None and self.settings.definitions is not None:
            self._defs = import_definitions(self.settings.definitions, self.settings.project)
        return self._defs

    def required_definitions(self) -> Definitions:
        defs = self.definitions()
        if defs is None:
            raise ProfileError(
                [
                    Problem(
                        "no definitions: set definitions = 'module:attribute' in [tool.envres] "
                        "of pyproject.toml, or pass --definitions"
                    )
                ]
            )
        return defs

    def load(
        self, name: str | None = None, *, allow_missing_env: bool = False, quiet: bool = False
    ) -> ResolvedProfile:
        from envres._load import load_profile

        profile = load_profile(
            self.settings,
            self.definitions(),
            name=name,
            allow_missing_env=allow_missing_env,
            files=self.files(),
            parsed=self.parsed,
        )
        _State.secrets = _State.secrets | profile.secrets
        if not quiet:
            for warning in profile.warnings:
                _err(str(warning))
        return profile


def _ctx(kwargs: dict[str, Any]) -> _Context:
    return _Context(
        kwargs.pop("project"),
        kwargs.pop("profile"),
        kwargs.pop("profiles_dir"),
        kwargs.pop("definitions"),
        kwargs.pop("debug"),
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks (secrets still masked).")
@click.version_option(package_name="envres", prog_name="envres")
def cli(debug: bool) -> None:
    """Per-environment YAML profiles for the resources of data pipelines.

    Pick a profile with --profile or ENVRES_PROFILE; every command validates it
    before doing anything.
    """
    _State.debug = debug


@cli.command()
@common
def profiles(**kwargs: Any) -> None:
    """List the profiles: name, what it extends, file."""
    from envres._load import read_bytes
    from envres._profiles import load_merged

    ctx = _ctx(kwargs)
    files = ctx.files()
    problems: list[Problem] = []
    rows = []
    for name, pf in files.items():
        try:
            merged = load_merged(name, files, read_bytes, allow_partial=True, cache=ctx.parsed)
            extends = ", ".join(merged.extends) or "-"
        except ProfileError as exc:
            extends = "(invalid)"
            problems.extend(p for p in exc.problems if p not in problems)
        label = f"{name} (partial)" if pf.partial else name
        rows.append((label, extends, pf.display))
    if not rows:
        _out(f"no profiles in {ctx.settings.profiles_path}")
    else:
        width = max(len("PROFILE"), *(len(r[0]) for r in rows)) + 2
        ext_width = max(len("EXTENDS"), *(len(r[1]) for r in rows)) + 2
        _out(f"{'PROFILE':<{width}}{'EXTENDS':<{ext_width}}FILE")
        for label, extends, display in rows:
            _out(f"{label:<{width}}{extends:<{ext_width}}{display}")
    if problems:
        raise ProfileError(problems)


@cli.command()
@common
@click.option("--all", "all_", is_flag=True, help="Validate every profile (partials skipped).")
@click.option(
    "--allow-missing-env",
    is_flag=True,
    help="Unset variables are warnings: check structure and types without the secrets.",
)
def validate(all_: bool, allow_missing_env: bool, **kwargs: Any) -> None:
    """Validate the selected profile (or every profile) against the definitions."""
    ctx = _ctx(kwargs)
    if not all_:
        profile = ctx.load(allow_missing_env=allow_missing_env)
        _out(_valid_line(profile, ctx))
        return
    files = ctx.files()
    names = [n for n in files if not files[n].partial]
    failed: list[ProfileError] = []
    for name in names:
        try:
            profile = ctx.load(name, allow_missing_env=allow_missing_env, quiet=True)
        except ProfileError as exc:
            failed.append(exc)
            _err(str(exc))
        else:
            # Several profiles may share the file a warning points at: say which.
            for warning in profile.warnings:
                _err(f"{warning} (profile '{name}')")
            _out(_valid_line(profile, ctx))
    if failed:
        raise _AlreadyReported(
            f"{len(failed)} of {len(names)} profiles invalid: "
            + ", ".join(e.profile or "?" for e in failed)
        )
    if not names:
        _out("no profiles to validate")


def _valid_line(profile: ResolvedProfile, ctx: _Context) -> str:
    defs = ctx.definitions()
    assets = f", {_count(len(defs.assets), 'asset')}" if defs is not None else ""
    n = len(profile.resources)
    nwarn = len(profile.warnings)
    warn = f", {nwarn} warning{'s' if nwarn != 1 else ''}" if nwarn else ""
    return f"profile '{profile.name}' is valid ({_count(n, 'resource')}{assets}{warn})"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


class _AlreadyReported(EnvresError):
    """Validation failed and the problems were printed; only the summary is left."""


@cli.command()
@common
@click.option("--explain", is_flag=True, help="Say where each value came from.")
@click.option(
    "--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True
)
@click.option("--allow-missing-env", is_flag=True, help="Show unset variables as <not set>.")
def show(explain: bool, fmt: str, allow_missing_env: bool, **kwargs: Any) -> None:
    """Print the resolved profile (merged, interpolated, validated), secrets masked."""
    from envres import _render

    ctx = _ctx(kwargs)
    profile = ctx.load(allow_missing_env=allow_missing_env)
    if explain:
        _out(_render.explain_json(profile) if fmt == "json" else _render.explain_yaml(profile))
    else:
        _out(_render.show_text(profile, fmt))


@cli.command("env")
@common
def env_command(**kwargs: Any) -> None:
    """List the variables the selected profile reads: set or not, default, where used."""
    from envres import _render

    ctx = _ctx(kwargs)
    profile = ctx.load(allow_missing_env=True, quiet=True)
    _out(_render.env_table(profile))


@cli.command()
@common
@click.argument("profile_a", metavar="A")
@click.argument("profile_b", metavar="B")
def diff(profile_a: str, profile_b: str, **kwargs: Any) -> None:
    """What differs between two resolved profiles (unset variables shown as <not set>)."""
    from envres import _render

    ctx = _ctx(kwargs)
    a = ctx.load(profile_a, allow_missing_env=True, quiet=True)
    b = ctx.load(profile_b, allow_missing_env=True, quiet=True)
    lines = _render.diff_lines(a, b)
    if not lines:
        _out(f"profiles '{profile_a}' and '{profile_b}' resolve the same")
        return
    _out(f"--- {profile_a}\n+++ {profile_b}")
    for line in lines:
        _out(line)


@cli.command()
@common
def schema(**kwargs: Any) -> None:
    """Print a JSON Schema of a profile file for the registered resource types."""
    from envres import _render

    ctx = _ctx(kwargs)
    defs = ctx.definitions()
    types = defs.resource_types if defs is not None else {}
    _out(json.dumps(_render.schema(types), indent=2))


@cli.command()
@common
@click.argument("assets", nargs=-1)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Run up to N independent assets at once (with --executor dask: N worker processes).",
)
@click.option(
    "--executor",
    type=click.Choice(["local", "dask"]),
    default="local",
    show_default=True,
    help="Where assets run: threads of this process, or a Dask cluster (pip install "
    "'envres[dask]').",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    default=None,
    help="With --executor dask: an existing cluster's scheduler (tcp://host:8786); "
    "default: a local cluster started for this run.",
)
def run(
    assets: tuple[str, ...], jobs: int, executor: str, scheduler: str | None, **kwargs: Any
) -> None:
    """Validate, set up what the assets need, run them in order, tear everything down."""
    from envres._bound import BoundDefinitions
    from envres._run import plan

    where = "local"
    engine = _count(jobs, "job")
    on_event: Callable[[Any], None]
    if scheduler is not None and executor != "dask":
        raise click.UsageError("--scheduler needs --executor dask")
    if executor == "dask":
        # Imported before validation so a missing extra is said at once (exit 2).
        from envres._dask import describe_executor

        where = scheduler or "dask"
        engine = describe_executor(where, jobs)
    ctx = _ctx(kwargs)
    defs = ctx.required_definitions()
    order = plan(defs, assets or None)
    profile = ctx.load()
    bound = BoundDefinitions(defs, profile)
    progress = _Progress(len(order))
    on_event = progress
    if executor == "dask":

        def on_event(event: Any) -> None:
            # Resource events come from workers: name the worker on the line.
            from envres._scope import Event

            worker = getattr(event, "worker", None)
            if worker:
                name = f"{event.name} (worker {worker})"
                event = Event(event.kind, name, event.seconds, event.error)
            progress(event)

    _out(f"envres run: profile '{profile.name}', {_count(len(order), 'asset')}, {engine}")
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise Terminated()

    signal.signal(signal.SIGTERM, on_term)
    started = time.perf_counter()
    try:
        bound.run(list(order), jobs=jobs, on_event=on_event, executor=where)
    except RunError:
        progress.finish()
        _out(progress.summary(time.perf_counter() - started))
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    progress.finish()
    _out(progress.summary(time.perf_counter() - started))


class _Progress:
    """One line per asset and resource event; on a terminal, a live status line on stderr.

    Events arrive from worker threads, hence the lock.
    """

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.failed = 0
        self.running: dict[str, None] = {}
        self.live = sys.stderr.isatty()
        self._shown = 0
        self._lock = threading.Lock()

    def __call__(self, event: Any) -> None:
        with self._lock:
            self._handle(event)

    def _handle(self, event: Any) -> None:
        ms = f"{event.seconds * 1000:8.0f} ms"
        kind = event.kind
        if kind == "asset_started":
            self.running[event.name] = None
            self._status()
            return
        self._clear()
        if kind in ("asset_done", "asset_failed"):
            self.running.pop(event.name, None)
            self.done += 1
        if kind == "asset_done":
            _out(f"  ok      {event.name:<32}{ms}")
        elif kind == "asset_failed":
            self.failed += 1
            _out(f"  FAILED  {event.name:<32}{ms}  {event.error}")
        elif kind == "setup":
            _out(f"  setup   {event.name:<32}{ms}")
        elif kind == "setup_failed":
            _out(f"  FAILED  setup of {event.name:<23}{ms}  {event.error}")
        elif kind == "teardown":
            _out(f"  down    {event.name:<32}{ms}")
        elif kind == "teardown_failed":
            _out(f"  FAILED  teardown of {event.name:<20}{ms}  {event.error}")
        self._status()

    def _status(self) -> None:
        if not self.live or not self.running:
            return
        self._clear()
        filled = 20 * self.done // max(self.total, 1)
        bar = "#" * filled + "." * (20 - filled)
        text = f"[{bar}] {self.done}/{self.total} running {', '.join(self.running)}"[:79]
        sys.stderr.write(text)
        sys.stderr.flush()
        self._shown = len(text)

    def _clear(self) -> None:
        if self.live and self._shown:
            sys.stderr.write("\r" + " " * self._shown + "\r")
            sys.stderr.flush()
            self._shown = 0

    def finish(self) -> None:
        with self._lock:
            self.running.clear()
            self._clear()

    def summary(self, seconds: float) -> str:
        ok = self.done - self.failed
        skipped = self.total - self.done
        parts = [f"{ok} succeeded"]
        if self.failed:
            parts.append(f"{self.failed} failed")
        if skipped:
            parts.append(f"{skipped} not run")
        return f"{', '.join(parts)} in {seconds:.2f} s"


@cli.command()
@click.option(
    "--project",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder to scaffold (default: current folder).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def init(project: Path | None, debug: bool) -> None:
    """Scaffold profiles/, a definitions module and [tool.envres] in an empty folder."""
    from envres._scaffold import scaffold

    _State.debug = _State.debug or debug
    written = scaffold(project or Path())
    for path in written:
        _out(f"created {path}")
    _out("next: envres validate && envres run")


def _print_traceback(exc: BaseException) -> None:
    text = "".join(traceback.format_exception(exc))
    _err(text.rstrip())


def main(argv: list[str] | None = None) -> NoReturn:
    """Entry point of the ``envres`` command and ``python -m envres``."""
    code = _main(argv)
    sys.stdout.flush()
    sys.exit(code)


def _main(argv: list[str] | None) -> int:
    try:
        cli.main(args=argv, prog_name="envres", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
        return EXIT_USAGE
    except click.UsageError as exc:
        exc.show()
        return EXIT_USAGE
    except click.exceptions.Abort:
        # click turns KeyboardInterrupt into Abort; teardown ran in `run` already.
        _err("interrupted; every resource that was set up has been torn down")
        return EXIT_INTERRUPTED
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except _AlreadyReported as exc:
        _err(str(exc))
        return EXIT_INVALID
    except ProfileError as exc:
        _debug(exc)
        _err(str(exc))
        return EXIT_INVALID
    except UsageError as exc:
        _debug(exc)
        _err(f"envres: {exc}")
        return EXIT_USAGE
    except RunError as exc:
        _debug(exc)
        _err(f"run failed: {exc.message}")
        for extra in exc.failures[1:]:
            _err(f"also: {extra.message}")
        return EXIT_RUN_FAILED
    except EnvresError as exc:
        _debug(exc)
        _err(f"envres: {exc}")
        return EXIT_INVALID
    except KeyboardInterrupt:
        _err("interrupted; every resource that was set up has been torn down")
        return EXIT_INTERRUPTED
    except Terminated:
        _err("terminated; every resource that was set up has been torn down")
        return EXIT_TERMINATED
    except Exception as exc:
        _print_traceback(exc) if _State.debug else None
        _err(
            f"envres: internal error: {type(exc).__name__}: {exc} "
            "(run with --debug for a traceback, and please report it)"
        )
        return 70
    return EXIT_OK


def _debug(exc: BaseException) -> None:
    if _State.debug:
        _print_traceback(exc)


__all__ = ["main"]
