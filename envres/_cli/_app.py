"""The ``envres`` commands (click). Errors are raised, never turned into exit codes here.

Each command builds a :class:`Context` from the common options, loads what it
needs through it, and prints through the invocation's :class:`Session`, which
masks every secret. ``envres._cli.invoke`` runs a command and maps what it
raised to an exit code.
"""

from __future__ import annotations

import contextlib
import gc
import json
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from envres._cli._session import current
from envres._codes import DEFINITIONS, UNSET_VARIABLE
from envres._errors import INTERRUPTS, EnvresError, Problem, ProfileError, RunError, UsageError

if TYPE_CHECKING:
    from envres._cli._check import Checked
    from envres._cli._session import Session
    from envres._definitions import Definitions
    from envres._profiles import ProfileFile
    from envres._resolved import ResolvedProfile
    from envres._rules import Allowance
    from envres._settings import Settings
    from envres._types import TypeResolver

__all__ = ["AlreadyReported", "ChecksFailed", "Differs", "cli"]

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

    from envres._locate import profiles_folder  # not envres._settings: no pydantic model
    from envres._paths import display
    from envres._profiles import discover  # not envres._load: no validation machinery

    try:
        folder = profiles_folder(
            project=ctx.params.get("project"),
            environ=os.environ,
            profiles_dir=ctx.params.get("profiles_dir"),
        )
        files = discover(folder, display)
    except Exception:
        return []
    return [
        CompletionItem(name)
        for name, pf in sorted(files.items())
        if not pf.partial and name.startswith(incomplete)
    ]


def _completion_settings(ctx: click.Context) -> Settings:
    import os

    from envres._settings import load_settings

    return load_settings(
        project=ctx.params.get("project"),
        environ=os.environ,
        profiles_dir=ctx.params.get("profiles_dir"),
        definitions=ctx.params.get("definitions"),
        profile=ctx.params.get("profile") or ctx.find_root().params.get("profile"),
    )


def complete_assets(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Asset names for the shell, with a spec's ``+`` kept (``+ord`` offers ``+orders``).

    The definitions module is imported (as ``envres assets`` does) with anything it
    prints swallowed: completion must never write to the shell.
    """
    import contextlib
    import io

    from click.shell_completion import CompletionItem

    from envres._project import import_definitions

    prefix = incomplete[: len(incomplete) - len(incomplete.lstrip("+"))]
    stem = incomplete[len(prefix) :]
    try:
        settings = _completion_settings(ctx)
        if settings.definitions is None:
            return []
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            defs = import_definitions(settings.definitions, settings.project)
    except Exception:
        return []
    return [CompletionItem(prefix + name) for name in sorted(defs.assets) if name.startswith(stem)]


def complete_keys(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """The resource keys of the selected profile (merged, not validated) for the shell."""
    from click.shell_completion import CompletionItem

    from envres._load import profile_files, read_bytes
    from envres._profiles import load_merged

    try:
        settings = _completion_settings(ctx)
        merged = load_merged(settings.profile, profile_files(settings), read_bytes)
    except Exception:
        return []
    return [CompletionItem(key) for key in sorted(merged.resources) if key.startswith(incomplete)]


def profile_option(*, hidden: bool = False) -> Callable[[F], F]:
    """``--profile``/``-p``: taken before the command's name (by the group) and after it.

    ``hidden`` for a command that uses no profile: it takes the flag only to refuse
    it in one line (:func:`given_profile`), so its help does not offer it.
    """
    return click.option(
        "--profile",
        "-p",
        default=None,
        hidden=hidden,
        shell_complete=complete_profiles,
        help="Profile name (else $ENVRES_PROFILE, else default_profile, else dev).",
    )


def given_profile(command_flag: str | None, *, uses_profile: bool) -> str | None:
    """The ``--profile`` of the command line, wherever it was written.

    One rule for every command: ``envres -p prod show`` and ``envres show -p prod``
    are the same; a command that uses no profile refuses the flag in either place
    rather than ignoring it (a usage error, exit 2).
    """
    ctx = click.get_current_context()
    before = ctx.find_root().params.get("profile")
    if before is not None and command_flag is not None and before != command_flag:
        raise UsageError(
            f"--profile given twice: '{before}' before the command and '{command_flag}' after it"
        )
    profile = command_flag if command_flag is not None else before
    if profile is not None and not uses_profile:
        why = _NO_PROFILE.get(str(ctx.info_name), "")
        raise UsageError(f"'{ctx.info_name}' uses no profile{why}: drop --profile")
    return profile


#: Why each command that uses no profile refuses --profile.
_NO_PROFILE = {
    "diff": " (it compares the two it names: envres diff A B)",
    "profiles": " (it lists them all)",
    "assets": " (it lists the definitions' assets)",
    "schema": " (it describes the format of every profile)",
    "init": " (it writes dev and prod)",
}


def common(fn: F) -> F:
    """The options every command takes."""
    return _common(fn, uses_profile=True)


def common_without_profile(fn: F) -> F:
    """The options of a command that uses no profile (``--profile`` is refused)."""
    return _common(fn, uses_profile=False)


def _common(fn: F, *, uses_profile: bool) -> F:
    options = [
        click.option(
            "--project",
            type=Folder(),
            default=None,
            help="Folder holding pyproject.toml [tool.envres] (default: $ENVRES_PROJECT, else the "
            "nearest folder upward whose pyproject.toml has [tool.envres]).",
        ),
        profile_option(hidden=not uses_profile),
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


def report_format(fn: F) -> F:
    """``--format text|github|json``: how problems (and the result) are reported."""
    from envres._cli._report import FORMATS

    return click.option(
        "--format",
        "report_fmt",
        type=click.Choice(FORMATS),
        default="text",
        show_default=True,
        help="text lines; GitHub Actions annotations; or one JSON document on stdout.",
    )(fn)


class Context:
    """What one command loads, each thing once: settings, profile files, definitions."""

    def __init__(self, kwargs: dict[str, Any], *, uses_profile: bool = True) -> None:
        import os

        from envres._settings import load_settings

        self.session = current()
        self.session.debug = self.session.debug or kwargs.pop("debug")
        profile = given_profile(kwargs.pop("profile"), uses_profile=uses_profile)
        self.settings = load_settings(
            project=kwargs.pop("project"),
            environ=os.environ,
            profile=profile,
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
            self.session.report(ignored)
        return self._files

    def selectable(self) -> list[str]:
        """The profiles a command can select: every file but the partial ones (``_x``)."""
        return [name for name, pf in self.files().items() if not pf.partial]

    def definitions(self, *, allow_missing_env: bool = False) -> Definitions | None:
        """The project's Definitions, or None when none is configured.

        ``allow_missing_env`` reaches a profile the definitions module loads as it is
        imported (a Dagster code location calling ``envres.dagster.resources``).
        """
        from envres._project import import_definitions

        if self._defs is None and self.settings.definitions is not None:
            # The project's code runs now, before its profile says what the secrets are:
            # what it writes is held back until they are known.
            self.session.gate.hold()
            self.session.gate.learner = self._learn_quietly
            with _allowing_missing_env(allow_missing_env or self.settings.allow_missing_env):
                self._defs = import_definitions(self.settings.definitions, self.settings.project)
        return self._defs

    def _learn_quietly(self) -> None:
        """Learn the secrets every selectable profile can tell, printing nothing.

        For the gate, before it shows what the project's code wrote while it was
        imported (or an error that may quote it): a command that loads no profile, or
        one whose profile failed, or several, still masks every secret they hold.
        """
        from envres._load import load_profile, type_resolver

        try:
            names = self.selectable()
            types = self._types or type_resolver(self.settings, self._defs)
        except INTERRUPTS:
            raise
        except BaseException:
            return  # no profiles to learn from: the environment's secrets stay the mask
        for name in names:
            try:
                profile = load_profile(
                    self.settings,
                    self._defs,
                    name=name,
                    allow_missing_env=True,
                    files=self.files(),
                    parsed=self.parsed,
                    types=types,
                )
            except ProfileError as exc:
                if exc.redactor is not None:
                    self.session.learn(exc.redactor)
            except INTERRUPTS:
                raise
            except BaseException:
                continue
            else:
                self.session.learn(profile.redactor, profile.structure())

    def required_definitions(self) -> Definitions:
        defs = self.definitions()
        if defs is None:
            raise ProfileError(
                [
                    Problem(
                        "no definitions: set definitions = 'module:attribute' in [tool.envres] "
                        "of pyproject.toml, or pass --definitions",
                        code=DEFINITIONS,
                    )
                ]
            )
        return defs

    def load_or_hint(self, hint: str, *, allow_missing_env: bool) -> ResolvedProfile:
        """The selected profile; when only unset variables stop it, say what ``hint`` offers.

        The problems are printed as :meth:`load` would raise them, then one more line
        naming ``--allow-missing-env`` (exit code 1 all the same).
        """
        try:
            return self.load(allow_missing_env=allow_missing_env)
        except ProfileError as exc:
            if not _only_unset(exc, allow_missing_env):
                raise
            self.session.err(str(exc))
            raise AlreadyReported(f"hint: --allow-missing-env {hint}") from exc

    def load(
        self, name: str | None = None, *, allow_missing_env: bool = False, quiet: bool = False
    ) -> ResolvedProfile:
        from envres._load import load_profile, type_resolver

        allow_missing_env = allow_missing_env or self.settings.allow_missing_env
        defs = self.definitions(allow_missing_env=allow_missing_env)
        if self._types is None:
            self._types = type_resolver(self.settings, defs)
        try:
            profile = load_profile(
                self.settings,
                defs,
                name=name,
                allow_missing_env=allow_missing_env,
                files=self.files(),
                parsed=self.parsed,
                types=self._types,
            )
        except ProfileError as exc:
            if exc.redactor is not None:  # what the project's code printed is masked too
                self.session.learn(exc.redactor)
            raise
        self.session.learn(profile.redactor, profile.structure())
        if self.session.process and not gc.isenabled():
            # `main` paused the collector; what loading built lives until the command
            # ends, so move it out of the collector's sight before turning it back on
            # (user code runs next: assets, checks).
            gc.freeze()
            gc.enable()
        if not quiet:
            self.session.report(profile.warnings, profile.name)
        return profile

    def load_spec(self, spec: str) -> ResolvedProfile:
        """``NAME`` or ``NAME@REV`` (the profile as committed at a git revision), as
        ``diff`` and the inspecting commands read it: unset variables allowed."""
        from envres._revision import load_at_revision, split_revision

        name, rev = split_revision(spec)
        if rev is None:
            return self.load(name, allow_missing_env=True, quiet=True)
        from envres._load import type_resolver

        defs = self.definitions()
        if self._types is None:
            self._types = type_resolver(self.settings, defs)
        profile = load_at_revision(self.settings, defs, name, rev, types=self._types)
        self.session.learn(profile.redactor)
        return profile


@contextlib.contextmanager
def _allowing_missing_env(allow: bool) -> Iterator[None]:
    """``ENVRES_ALLOW_MISSING_ENV=1`` for the block, when asked: the one setting a module
    that loads a profile as it is imported reads (the command's flag cannot reach it
    otherwise)."""
    import os

    if not allow or os.environ.get(ALLOW_MISSING_ENV_VAR) == "1":
        yield
        return
    before = os.environ.get(ALLOW_MISSING_ENV_VAR)
    os.environ[ALLOW_MISSING_ENV_VAR] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(ALLOW_MISSING_ENV_VAR, None)
        else:
            os.environ[ALLOW_MISSING_ENV_VAR] = before


ALLOW_MISSING_ENV_VAR = "ENVRES_ALLOW_MISSING_ENV"

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


def _show_help(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        current().out(ctx.get_help())
        ctx.exit()


def _show_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        from importlib.metadata import version

        current().out(f"envres, version {version('envres')}")
        ctx.exit()


class _Command(click.Command):
    """A command whose ``--help`` prints through the session, as every other output does.

    click's own help (and version) option writes to stdout itself and turns a closed
    pipe (``envres --help | head -1``) into ``sys.exit(1)``; through the session, what
    cannot be printed is dropped and the command ends as it would have.
    """

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        option = super().get_help_option(ctx)
        if option is not None:
            option.callback = _show_help
        return option


class _Group(_Command, click.Group):
    command_class = _Command


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks (secrets still masked).")
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_show_version,
    help="Show the version and exit.",
)
@profile_option()
def cli(debug: bool, profile: str | None) -> None:
    """Per-environment YAML profiles for the resources of data pipelines.

    Pick a profile with --profile/-p (before or after the command) or
    ENVRES_PROFILE; every command that uses one validates it before doing anything.
    """
    current().debug = debug


@cli.command()
@common_without_profile
def profiles(**kwargs: Any) -> None:
    """List the profiles: name, what it extends, file."""
    from envres._load import read_bytes
    from envres._profiles import load_merged

    ctx = Context(kwargs, uses_profile=False)
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
@click.option(
    "--verbose", "-v", is_flag=True, help="Also list each '# envres: allow-literal' comment."
)
@report_format
def validate(
    all_: bool, allow_missing_env: bool, verbose: bool, report_fmt: str, **kwargs: Any
) -> None:
    """Validate the selected profile (or every profile) against the definitions and rules."""
    if all_ and given_profile(kwargs["profile"], uses_profile=True) is not None:
        raise UsageError("--all validates every profile: drop --profile")
    current().fmt = report_fmt
    ctx = Context(kwargs)
    session = ctx.session
    names = ctx.selectable() if all_ else [ctx.settings.profile]
    failed: list[ProfileError] = []
    results: list[dict[str, Any]] = []
    session.data["profiles"] = results
    # A problem in a file several profiles share (a partial they extend) is printed once.
    shown: set[str] = set()
    for name in names:
        try:
            profile, warnings, allowances = _checked(ctx, name, allow_missing_env)
        except ProfileError as exc:
            results.append({"name": name, "valid": False})
            if not all_:
                if session.fmt == "text" and _only_unset(exc, allow_missing_env):
                    session.err(str(exc))
                    raise AlreadyReported(
                        "hint: --allow-missing-env checks structure and types without them "
                        "(unset variables become warnings)"
                    ) from exc
                raise
            failed.append(exc)
            if session.fmt == "text":
                lines = str(exc).splitlines()
                problems, summary = lines[:-1], lines[-1]
                fresh = [line for line in problems if line not in shown]
                shown.update(fresh)
                for line in fresh:
                    session.err(line)
                repeated = len(problems) - len(fresh)
                session.err(f"{summary} ({repeated} shown above)" if repeated else summary)
            else:
                session.report_error(exc)
            continue
        results.append({"name": name, "valid": True})
        # Several profiles may share the file a warning points at: say which.
        session.report(warnings, name, tag=all_)
        if verbose:
            _report_allowances(session, allowances, name)
        if session.fmt != "json":
            session.out(_valid_line(profile, ctx, len(warnings)))
    if failed:
        raise AlreadyReported(
            f"{len(failed)} of {len(names)} profiles invalid: "
            + ", ".join(e.profile or "?" for e in failed)
        )
    if not names and session.fmt != "json":
        session.out("no profiles to validate")


def _only_unset(exc: ProfileError, allow_missing_env: bool) -> bool:
    """Whether an unset variable is among what stops the profile (and the flag not given)."""
    return not allow_missing_env and any(
        p.severity == "error" and p.code == UNSET_VARIABLE for p in exc.problems
    )


def _checked(
    ctx: Context, name: str, allow_missing_env: bool
) -> tuple[ResolvedProfile, list[Problem], tuple[Allowance, ...]]:
    """A profile validated and checked against the rules: its warnings and opt-outs.

    Raises :class:`ProfileError` with every error (the rules' included) and warning.
    """
    from envres._load import read_bytes
    from envres._rules import check_rules

    profile = ctx.load(name, allow_missing_env=allow_missing_env, quiet=True)
    report = check_rules(profile, ctx.settings.rules, ctx.files(), read_bytes)
    errors = [p for p in report.problems if p.severity == "error"]
    warnings = [*profile.warnings, *(p for p in report.problems if p.severity == "warning")]
    if errors:
        raise ProfileError([*errors, *warnings], profile.name)
    return profile, warnings, report.allowances


def _report_allowances(session: Session, allowances: tuple[Allowance, ...], name: str) -> None:
    from envres._cli._report import github_command

    for a in allowances:
        if session.fmt == "github":
            session.out(github_command("notice", a.text(), a.loc, "allow-literal"))
        elif session.fmt == "json":
            session.data.setdefault("allowances", []).append(
                {
                    "file": a.loc.file,
                    "line": a.loc.line,
                    "column": a.loc.col,
                    "allowed": list(a.allowed),
                    "profile": name,
                }
            )
        else:
            session.out(str(a))


def _valid_line(profile: ResolvedProfile, ctx: Context, nwarn: int) -> str:
    defs = ctx.definitions()
    n_assets = sum(a.kind == "asset" for a in defs.assets.values()) if defs is not None else 0
    assets = f", {_count(n_assets, 'asset')}" if defs is not None else ""
    n = len(profile.resources)
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
    profile = ctx.load_or_hint(
        "shows the profile with unset variables as <not set>", allow_missing_env=allow_missing_env
    )
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
@common_without_profile
@click.argument("profile_a", metavar="A", shell_complete=complete_profiles)
@click.argument("profile_b", metavar="B", shell_complete=complete_profiles)
@click.option(
    "--exit-code", is_flag=True, help="Exit 1 when the profiles differ (as git diff --exit-code)."
)
@report_format
def diff(profile_a: str, profile_b: str, exit_code: bool, report_fmt: str, **kwargs: Any) -> None:
    """What changes from A to B, as a plan (either may be NAME@REV, e.g. prod@main).

    A profile at a git revision is read with that revision's own files (extends,
    partials, env files) through git, nothing checked out; variables come from the
    current environment, unset ones shown as <not set>; secrets only as (changed).
    """
    from envres._cli._plan import plan, plan_data, plan_lines
    from envres._cli._report import github_command

    current().fmt = report_fmt
    ctx = Context(kwargs, uses_profile=False)
    session = ctx.session
    a = ctx.load_spec(profile_a)
    b = ctx.load_spec(profile_b)
    changes = plan(a, b)
    if session.fmt == "json":
        session.data.update(
            a=profile_a, b=profile_b, differ=bool(changes), changes=plan_data(changes)
        )
    elif not changes:
        session.out(f"profiles '{profile_a}' and '{profile_b}' resolve the same")
    else:
        session.out(f"--- {profile_a}\n+++ {profile_b}")
        for line in plan_lines(changes):
            session.out(line)
    if session.fmt == "github" and "@" not in profile_b:
        # Each change as a notice on the line of B that makes it (B is the working tree).
        for rc in changes:
            if rc.op != "~" or rc.type_before != rc.type_after:  # else its values say it
                session.out(github_command("notice", rc.head(), rc.loc, "envres diff"))
            for c in rc.changes:
                session.out(github_command("notice", f"{rc.key}: {c.text()}", c.loc, "envres diff"))
    if exit_code and changes:
        raise Differs(f"profiles '{profile_a}' and '{profile_b}' differ")


class Differs(EnvresError):
    """``envres diff --exit-code`` found a difference (exit code 1, nothing more said)."""


@cli.command()
@common_without_profile
def assets(**kwargs: Any) -> None:
    """List the assets: the resources and upstream assets each takes, where it is defined."""
    from envres._paths import display

    ctx = Context(kwargs, uses_profile=False)
    defs = ctx.required_definitions()
    if not defs.assets:
        ctx.session.out("no assets")
        return
    rows = [("ASSET", "RESOURCES", "UPSTREAM", "DEFINED AT")]
    for name, a in defs.assets.items():
        if a.kind != "asset":
            continue  # a Dagster job, sensor or schedule: validated, not listed
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
@click.argument("keys", nargs=-1, metavar="[KEY]...", shell_complete=complete_keys)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="Seconds each resource may take to set up and check, and again to tear down.",
)
@click.option(
    "--allow-missing-env",
    is_flag=True,
    help="Check what needs no unset variable; a resource that needs one fails saying which.",
)
@report_format
def check(
    keys: tuple[str, ...], timeout: float, allow_missing_env: bool, report_fmt: str, **kwargs: Any
) -> None:
    """Connect: set up each resource (or KEYs), call its check(), tear all down (like dbt debug)."""
    from envres._cli._check import check_resources, source_references
    from envres._cli._report import github_command

    current().fmt = report_fmt
    ctx = Context(kwargs)
    session = ctx.session
    profile = ctx.load_or_hint(
        "checks the resources that need none of them (the others fail, saying which)",
        allow_missing_env=allow_missing_env,
    )
    results = check_resources(profile, keys, timeout)
    references = source_references(profile, keys)
    if session.fmt == "json":
        session.data["references"] = [
            {"reference": r.reference, "result": r.result, "used_at": r.used_at} for r in references
        ]
        session.data["checks"] = [
            {
                "key": r.key,
                "type": r.type_name,
                "ok": r.ok,
                "seconds": round(r.seconds, 3),
                "reason": r.reason,
            }
            for r in results
        ]
    elif session.fmt == "github":
        for r in results:
            if not r.ok:
                where = profile.resources[r.key].key_loc
                message = f"resource '{r.key}' ({r.type_name}) failed its check: {r.reason}"
                session.out(github_command("error", message, where, "envres check"))
    if session.fmt != "json":
        _check_table(session, results)
        _reference_table(session, references)
    failed = [r.key for r in results if not r.ok]
    if failed:
        error = ChecksFailed(
            f"{len(failed)} of {len(results)} resources failed their check: {', '.join(failed)}"
        )
        error.traced = any(r.where for r in results)
        raised = [r.error for r in results if r.error is not None]
        # --debug shows each failure's traceback, the user's exceptions among their causes.
        raise error from (BaseExceptionGroup("the failed checks", raised) if raised else None)


def _check_table(session: Session, results: list[Checked]) -> None:
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
        # The rest of a long message, under the reason it continues.
        for line in results[i - 1].more if i else ():
            session.out(f"{' ' * (sum(widths) + 2)}{line}".rstrip())


def _reference_table(session: Session, references: list[Any]) -> None:
    """Whether each secret source reference resolved, never its value."""
    if not references:
        return
    table = [("REFERENCE", "RESULT", "USED AT")]
    table += [(r.reference, r.result, r.used_at) for r in references]
    widths = [max(len(row[i]) for row in table) + 2 for i in range(2)]
    session.out("")
    for ref, result, where in table:
        session.out(f"{ref.ljust(widths[0])}{result.ljust(widths[1])}{where}")


class ChecksFailed(RunError):
    """``envres check`` found a resource that does not work (exit code 3).

    ``traced``: a failure came from the user's code (``--debug`` shows where).
    """

    traced = False


@cli.command()
@common
@click.option(
    "--out",
    type=Folder(),
    default=Path("envres-docs"),
    show_default=True,
    help="Folder to write the site into: new, empty, or written by envres docs before.",
)
def docs(out: Path, **kwargs: Any) -> None:
    """Write a static HTML site of the profiles: matrix, values and origins, graphs, diffs.

    It opens from file:// with nothing fetched; secrets are masked. Unset variables
    show as <not set>; the index draws the selected profile's graph.
    """
    from envres._cli._docs import SiteProfile, previous_files, site, write_site
    from envres._load import read_bytes
    from envres._paths import display
    from envres._profiles import load_merged

    previous_files(out)  # a folder envres may not write into: said before any work
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
    invalid = [(e.profile or "?", str(e).splitlines()) for e in failed]
    pages = site(shown, ctx.definitions(), ctx.settings.profile, invalid=invalid)
    for path in write_site(out, pages):
        session.out(display(path))
    if failed:
        raise AlreadyReported(
            f"{len(failed)} of {len(names)} profiles invalid (the site lists their problems): "
            + ", ".join(e.profile or "?" for e in failed)
        )


@cli.command()
@common_without_profile
def schema(**kwargs: Any) -> None:
    """Print a JSON Schema of a profile file for the registered resource types."""

    from envres._cli._schema import schema as profile_schema

    ctx = Context(kwargs, uses_profile=False)
    defs = ctx.definitions()
    types = defs.resource_types if defs is not None else {}
    from envres._load import secret_names

    ctx.session.out(json.dumps(profile_schema(types, secret_names(ctx.settings)), indent=2))


@cli.command()
@common
@click.argument("assets", nargs=-1, shell_complete=complete_assets)
@click.option(
    "--select",
    "-s",
    "selects",
    multiple=True,
    metavar="SPEC",
    shell_complete=complete_assets,
    help="Assets to run: NAME, +NAME (with its upstream), NAME+ (with its downstream), "
    "+NAME+; repeatable.",
)
@click.option(
    "--exclude",
    "excludes",
    multiple=True,
    metavar="SPEC",
    shell_complete=complete_assets,
    help="Assets not to run (the same specs as --select); repeatable.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Validate and say what would be set up and run, in order; set up and run nothing.",
)
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
    assets: tuple[str, ...],
    selects: tuple[str, ...],
    excludes: tuple[str, ...],
    dry_run: bool,
    jobs: int,
    executor: str,
    scheduler: str | None,
    **kwargs: Any,
) -> None:
    """Validate, set up what the assets need, run them in order, tear everything down.

    ASSETs run with everything upstream of them; --select/--exclude take dbt's
    graph operators.
    """
    from envres._cli._select import select
    from envres._executors import executor_for

    if scheduler is not None and executor != "dask":
        raise click.UsageError("--scheduler needs --executor dask")
    # Chosen before validation so a missing Dask extra is said at once (exit 2).
    target = scheduler or executor
    engine = executor_for(target)
    ctx = Context(kwargs)
    defs = ctx.required_definitions()
    if any(a.declared_only for a in defs.assets.values()):
        raise UsageError(
            "the definitions are a dagster.Definitions: Dagster runs them "
            "(dg launch, dg dev), not envres run"
        )
    order = select(defs, assets, selects, excludes)
    profile = ctx.load()
    if dry_run:
        _say_dry_run(ctx.session, defs, profile, order)
    else:
        header = f"{_count(len(order), 'asset')}, {engine.describe(jobs)}"
        _run_with_progress(ctx.session, defs, profile, order, header, jobs, target)


def _say_dry_run(
    session: Session, defs: Definitions, profile: ResolvedProfile, order: Sequence[str]
) -> None:
    """What ``run`` would set up and run, in order; nothing is set up."""
    from envres._cli._select import dry_run_lines

    session.out(
        f"envres run --dry-run: profile '{profile.name}', {_count(len(order), 'asset')}; "
        "nothing is set up or run"
    )
    for line in dry_run_lines(defs, profile, order):
        session.out(line)


def _run_with_progress(
    session: Session,
    defs: Definitions,
    profile: ResolvedProfile,
    order: Sequence[str],
    header: str,
    jobs: int,
    target: str,
) -> None:
    """Run ``order`` on ``target``, a line per event, and the summary even when it fails."""
    from envres._bound import BoundDefinitions
    from envres._cli._progress import Progress, guarded_streams

    bound = BoundDefinitions(defs, profile)
    status = session.stderr if session.gate.isatty(session.stderr) else None
    progress = Progress(len(order), session.out, status, session.style)
    session.out(f"envres run: profile '{profile.name}', {header}")
    started = time.perf_counter()
    # The first Ctrl-C, SIGTERM or SIGHUP stops the run (`invoke` makes it raise; every
    # resource is still torn down); later ones are only counted.
    with guarded_streams(progress):
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
@click.option(
    "--ci",
    type=click.Choice(["github"]),
    default=None,
    help="Also write a CI workflow: github = .github/workflows/envres.yml (validate, diff).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@profile_option(hidden=True)
def init(project: Path | None, ci: str | None, debug: bool, profile: str | None) -> None:
    """Scaffold profiles/, pipeline.py, tests/ and [tool.envres]; never overwrites a file."""
    from envres._cli._scaffold import scaffold

    session = current()
    session.debug = session.debug or debug
    given_profile(profile, uses_profile=False)
    for line in scaffold(project or Path(), ci):
        session.out(line)
    session.out("next: envres validate && envres run && python -m pytest")
