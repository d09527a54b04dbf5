"""The ``envres`` commands (click). Errors are raised, never turned into exit codes here.

Each command builds a :class:`Context` from the common options, loads what it
needs through it, and prints through the invocation's :class:`Session`, which
masks every secret. ``envres._cli.invoke`` runs a command and maps what it
raised to an exit code.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from envres._cli._session import current
from envres._errors import EnvresError, Problem, ProfileError, RunError

if TYPE_CHECKING:
    from envres._definitions import Definitions
    from envres._profiles import ProfileFile
    from envres._resolved import ResolvedProfile
    from envres._types import TypeResolver

__all__ = ["AlreadyReported", "ChecksFailed", "cli"]

F = TypeVar("F", bound=Callable[..., Any])


class Folder(click.Path):
    """A folder option; a path no system accepts (a NUL in it) is a usage error."""

    def __init__(self) -> None:
        super().__init__(file_okay=False, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and "\0" in value:
            self.fail(f"{value!r} is not a path: it holds a NUL character", param, ctx)
        return super().convert(value, param, ctx)


class AlreadyReported(EnvresError):
    """Validation failed and the problems were printed; only the summary is left."""


def complete_profiles(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Profile names for the shell: those of the project the command line points at.

    Partial profiles (``_name``) cannot be selected and are left out. A broken project
    completes nothing: completion must never write to the shell; the command itself
    will say what is wrong.
    """
    import os

    from click.shell_completion import CompletionItem

    from envres._load import profile_files
    from envres._settings import load_settings

    try:
        settings = load_settings(
            project=ctx.params.get("project"),
            environ=os.environ,
            profiles_dir=ctx.params.get("profiles_dir"),
        )
        files = profile_files(settings)
    except Exception:
        return []
    return [
        CompletionItem(name)
        for name, pf in sorted(files.items())
        if not pf.partial and name.startswith(incomplete)
    ]


def common(fn: F) -> F:
    """The options every command takes."""
    options = [
        click.option(
            "--project",
            type=Folder(),
            default=None,
            help="Folder holding pyproject.toml [tool.envres] (default: $ENVRES_PROJECT, else .).",
        ),
        click.option(
            "--profile",
            default=None,
            shell_complete=complete_profiles,
            help="Profile name (else $ENVRES_PROFILE, else default_profile, else dev).",
        ),
        click.option(
            "--profiles-dir",
            type=Folder(),
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


class Context:
    """What one command loads, each thing once: settings, profile files, definitions."""

    def __init__(self, kwargs: dict[str, Any]) -> None:
        import os

        from envres._settings import load_settings

        self.session = current()
        self.session.debug = self.session.debug or kwargs.pop("debug")
        self.settings = load_settings(
            project=kwargs.pop("project"),
            environ=os.environ,
            profile=kwargs.pop("profile"),
            profiles_dir=kwargs.pop("profiles_dir"),
            definitions=kwargs.pop("definitions"),
        )
        self._defs: Definitions | None = None
        self._files: dict[str, ProfileFile] | None = None
        self._types: TypeResolver | None = None
        self.parsed: dict[str, Any] = {}  # each profile file parsed once per command

    def files(self) -> dict[str, ProfileFile]:
        """The profile files, found once per command."""
        from envres._load import profile_files

        if self._files is None:
            ignored: list[Problem] = []
            self._files = profile_files(self.settings, ignored)
            for warning in ignored:
                self.session.err(str(warning))
        return self._files

    def selectable(self) -> list[str]:
        """The profiles a command can select: every file but the partial ones (``_x``)."""
        return [name for name, pf in self.files().items() if not pf.partial]

    def definitions(self) -> Definitions | None:
        """The project's Definitions, or None when none is configured."""
        from envres._project import import_definitions

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
        from envres._load import load_profile, type_resolver

        defs = self.definitions()
        if self._types is None:
            self._types = type_resolver(self.settings, defs)
        profile = load_profile(
            self.settings,
            defs,
            name=name,
            allow_missing_env=allow_missing_env,
            files=self.files(),
            parsed=self.parsed,
            types=self._types,
        )
        self.session.learn(profile.redactor)
        if self.session.process and not gc.isenabled():
            # `main` paused the collector; what loading built lives until the command
            # ends, so move it out of the collector's sight before turning it back on
            # (user code runs next: assets, checks).
            gc.freeze()
            gc.enable()
        if not quiet:
            for warning in profile.warnings:
                self.session.err(str(warning))
        return profile


#: The variable through which a shell asks for completions (click's protocol):
#: ``eval "$(_ENVRES_COMPLETE=bash_source envres)"``.
COMPLETE_VAR = "_ENVRES_COMPLETE"


def complete_shell(obj: object) -> int | None:
    """Answer the shell's completion request, if this process is one; else None.

    click answers it inside ``cli.main`` with ``sys.exit``; asked here instead, the
    answer comes back as an exit code like every other command's.
    """
    import os

    instruction = os.environ.get(COMPLETE_VAR)
    if not instruction:
        return None
    from click.shell_completion import shell_complete

    return shell_complete(cli, {"obj": obj}, "envres", COMPLETE_VAR, instruction)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks (secrets still masked).")
@click.version_option(package_name="envres", prog_name="envres")
def cli(debug: bool) -> None:
    """Per-environment YAML profiles for the resources of data pipelines.

    Pick a profile with --profile or ENVRES_PROFILE; every command validates it
    before doing anything.
    """
    current().debug = debug


@cli.command()
@common
def profiles(**kwargs: Any) -> None:
    """List the profiles: name, what it extends, file."""
    from envres._load import read_bytes
    from envres._profiles import load_merged

    ctx = Context(kwargs)
    out = ctx.session.out
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
        out(f"no profiles in {ctx.settings.profiles_path}")
    else:
        width = max(len("PROFILE"), *(len(r[0]) for r in rows)) + 2
        ext_width = max(len("EXTENDS"), *(len(r[1]) for r in rows)) + 2
        out(f"{'PROFILE':<{width}}{'EXTENDS':<{ext_width}}FILE")
        for label, extends, display in rows:
            out(f"{label:<{width}}{extends:<{ext_width}}{display}")
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
    ctx = Context(kwargs)
    session = ctx.session
    if not all_:
        profile = ctx.load(allow_missing_env=allow_missing_env)
        session.out(_valid_line(profile, ctx))
        return
    names = ctx.selectable()
    failed: list[ProfileError] = []
    for name in names:
        try:
            profile = ctx.load(name, allow_missing_env=allow_missing_env, quiet=True)
        except ProfileError as exc:
            failed.append(exc)
            session.err(str(exc))
        else:
            # Several profiles may share the file a warning points at: say which.
            for warning in profile.warnings:
                session.err(f"{warning} (profile '{name}')")
            session.out(_valid_line(profile, ctx))
    if failed:
        raise AlreadyReported(
            f"{len(failed)} of {len(names)} profiles invalid: "
            + ", ".join(e.profile or "?" for e in failed)
        )
    if not names:
        session.out("no profiles to validate")


def _valid_line(profile: ResolvedProfile, ctx: Context) -> str:
    defs = ctx.definitions()
    assets = f", {_count(len(defs.assets), 'asset')}" if defs is not None else ""
    n = len(profile.resources)
    nwarn = len(profile.warnings)
    warn = f", {nwarn} warning{'s' if nwarn != 1 else ''}" if nwarn else ""
    return f"profile '{profile.name}' is valid ({_count(n, 'resource')}{assets}{warn})"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


@cli.command()
@common
@click.option("--explain", is_flag=True, help="Say where each value came from.")
@click.option(
    "--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True
)
@click.option("--allow-missing-env", is_flag=True, help="Show unset variables as <not set>.")
def show(explain: bool, fmt: str, allow_missing_env: bool, **kwargs: Any) -> None:
    """Print the resolved profile (merged, interpolated, validated), secrets masked."""
    import envres._cli._render as render

    ctx = Context(kwargs)
    profile = ctx.load(allow_missing_env=allow_missing_env)
    if explain:
        text = render.explain_json(profile) if fmt == "json" else render.explain_yaml(profile)
    else:
        text = render.show_text(profile, fmt)
    ctx.session.out(text)


@cli.command("env")
@common
def env_command(**kwargs: Any) -> None:
    """List the variables the selected profile reads: set or not, default, where used."""
    import envres._cli._render as render

    ctx = Context(kwargs)
    profile = ctx.load(allow_missing_env=True, quiet=True)
    ctx.session.out(render.env_table(profile))


@cli.command()
@common
@click.argument("profile_a", metavar="A", shell_complete=complete_profiles)
@click.argument("profile_b", metavar="B", shell_complete=complete_profiles)
def diff(profile_a: str, profile_b: str, **kwargs: Any) -> None:
    """What differs between two resolved profiles (unset variables shown as <not set>)."""
    import envres._cli._render as render

    ctx = Context(kwargs)
    a = ctx.load(profile_a, allow_missing_env=True, quiet=True)
    b = ctx.load(profile_b, allow_missing_env=True, quiet=True)
    lines = render.diff_lines(a, b)
    if not lines:
        ctx.session.out(f"profiles '{profile_a}' and '{profile_b}' resolve the same")
        return
    ctx.session.out(f"--- {profile_a}\n+++ {profile_b}")
    for line in lines:
        ctx.session.out(line)


@cli.command()
@common
def assets(**kwargs: Any) -> None:
    """List the assets: the resources and upstream assets each takes, where it is defined."""
    from envres._paths import display

    ctx = Context(kwargs)
    defs = ctx.required_definitions()
    if not defs.assets:
        ctx.session.out("no assets")
        return
    rows = [("ASSET", "RESOURCES", "UPSTREAM", "DEFINED AT")]
    for name, a in defs.assets.items():
        where = f"{display(a.source[0])}:{a.source[1]}" if a.source else "-"
        resources = ", ".join(defs.resource_params[name]) or "-"
        rows.append((name, resources, ", ".join(defs.upstream[name]) or "-", where))
    widths = [max(len(r[i]) for r in rows) + 2 for i in range(3)]
    for row in rows:
        ctx.session.out("".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + row[3])


@cli.command()
@common
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "dot", "svg"]),
    default="mermaid",
    show_default=True,
    help="Mermaid (GitHub renders it), Graphviz DOT, or a standalone SVG.",
)
def graph(fmt: str, **kwargs: Any) -> None:
    """Draw the assets and the resources of the selected profile, each with its type."""
    from envres._cli._graph import build, to_dot, to_mermaid, to_svg

    ctx = Context(kwargs)
    # The shape of the graph needs no secret: unset variables do not stop it.
    profile = ctx.load(allow_missing_env=True, quiet=True)
    drawn = build(ctx.definitions(), profile)
    if fmt == "mermaid":
        ctx.session.out(to_mermaid(drawn))
    elif fmt == "dot":
        ctx.session.out(to_dot(drawn))
    else:
        ctx.session.out(to_svg(drawn))


@cli.command()
@common
@click.argument("keys", nargs=-1, metavar="[KEY]...")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="Seconds each resource may take to set up and check.",
)
def check(keys: tuple[str, ...], timeout: float, **kwargs: Any) -> None:
    """Connect: set up each resource (or KEYs), call its check(), tear all down (like dbt debug)."""
    from envres._cli._check import check_resources, source_references

    ctx = Context(kwargs)
    session = ctx.session
    profile = ctx.load()
    results = check_resources(profile, keys, timeout)
    references = source_references(profile, keys)
    rows = [("KEY", "TYPE", "RESULT", "TIME", "")]
    for r in results:
        rows.append(
            (r.key, r.type_name, "ok" if r.ok else "FAILED", f"{r.seconds * 1000:.0f} ms", r.reason)
        )
    widths = [max(len(row[i]) for row in rows) + 2 for i in range(4)]
    for i, row in enumerate(rows):
        cells = [c.ljust(w) for c, w in zip(row[:4], widths, strict=True)]
        if i:
            cells[2] = session.style(cells[2], fg="green" if row[2] == "ok" else "red")
        session.out(("".join(cells) + row[4]).rstrip())
    if references:
        # Whether each secret source reference resolved, never its value.
        table = [("REFERENCE", "RESULT", "USED AT")]
        table += [(r.reference, r.result, r.used_at) for r in references]
        widths = [max(len(row[i]) for row in table) + 2 for i in range(2)]
        session.out("")
        for ref, result, where in table:
            session.out(f"{ref.ljust(widths[0])}{result.ljust(widths[1])}{where}")
    failed = [r.key for r in results if not r.ok]
    if failed:
        raise ChecksFailed(
            f"{len(failed)} of {len(results)} resources failed their check: {', '.join(failed)}"
        )


class ChecksFailed(RunError):
    """``envres check`` found a resource that does not work (exit code 3)."""


@cli.command()
@common
@click.option(
    "--out",
    type=Folder(),
    default=Path("envres-docs"),
    show_default=True,
    help="Folder to write the site into (created if missing).",
)
def docs(out: Path, **kwargs: Any) -> None:
    """Write a static HTML site of the profiles: matrix, values and origins, graphs, diffs.

    It opens from file:// with nothing fetched; secrets are masked. Unset variables
    show as <not set>; the index draws the selected profile's graph.
    """
    from envres._cli._docs import SiteProfile, site, write_site
    from envres._load import read_bytes
    from envres._paths import display
    from envres._profiles import load_merged

    ctx = Context(kwargs)
    session = ctx.session
    names = ctx.selectable()
    shown: list[SiteProfile] = []
    failed: list[ProfileError] = []
    for name in names:
        try:
            profile = ctx.load(name, allow_missing_env=True, quiet=True)
        except ProfileError as exc:
            failed.append(exc)
            session.err(str(exc))
            continue
        parent_keys: set[str] = set()
        for parent in profile.merged.extends:
            merged = load_merged(
                parent, ctx.files(), read_bytes, allow_partial=True, cache=ctx.parsed
            )
            parent_keys.update(merged.resources)
        shown.append(SiteProfile(profile, frozenset(parent_keys)))
    if failed:
        raise AlreadyReported(
            f"{len(failed)} of {len(names)} profiles invalid, no site written: "
            + ", ".join(e.profile or "?" for e in failed)
        )
    pages = site(shown, ctx.definitions(), ctx.settings.profile)
    for path in write_site(out, pages):
        session.out(display(path))


@cli.command()
@common
def schema(**kwargs: Any) -> None:
    """Print a JSON Schema of a profile file for the registered resource types."""

    from envres._cli._schema import schema as profile_schema

    ctx = Context(kwargs)
    defs = ctx.definitions()
    types = defs.resource_types if defs is not None else {}
    from envres._load import secret_names

    ctx.session.out(json.dumps(profile_schema(types, secret_names(ctx.settings)), indent=2))


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
    from envres._cli._progress import Progress, guarded_streams
    from envres._executors import executor_for
    from envres._signals import stop_once

    if scheduler is not None and executor != "dask":
        raise click.UsageError("--scheduler needs --executor dask")
    # Chosen before validation so a missing Dask extra is said at once (exit 2).
    target = scheduler or executor
    engine = executor_for(target)
    ctx = Context(kwargs)
    session = ctx.session
    defs = ctx.required_definitions()
    order = defs.plan(assets)
    profile = ctx.load()
    bound = BoundDefinitions(defs, profile)
    status = session.stderr if session.stderr.isatty() else None
    progress = Progress(len(order), session.out, status, session.style)
    session.out(
        f"envres run: profile '{profile.name}', {_count(len(order), 'asset')}, "
        f"{engine.describe(jobs)}"
    )
    started = time.perf_counter()
    # The first Ctrl-C or SIGTERM stops the run (every resource is still torn down);
    # later ones are only counted, so a burst cannot cut the teardown short.
    with (
        stop_once(final=session.process),
        guarded_streams(progress, session.redactor.redact_untrusted),
    ):
        try:
            bound.run(list(order), jobs=jobs, on_event=progress, executor=target)
        except RunError:
            progress.finish()
            session.out(progress.summary(time.perf_counter() - started))
            raise
    progress.finish()
    session.out(progress.summary(time.perf_counter() - started))


@cli.command()
@click.option(
    "--project",
    type=Folder(),
    default=None,
    help="Folder to scaffold (default: current folder).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def init(project: Path | None, debug: bool) -> None:
    """Scaffold profiles/, a definitions module and [tool.envres] in an empty folder."""
    from envres._cli._scaffold import scaffold

    session = current()
    session.debug = session.debug or debug
    for line in scaffold(project or Path()):
        session.out(line)
    session.out("next: envres validate && envres run")
