"""envres's own settings: which project, which profile, which folder, which definitions.

Precedence, highest first: command-line flags (passed as init arguments), then
``ENVRES_*`` environment variables, then ``[tool.envres]`` in the project's
``pyproject.toml``, then the defaults. This module reads the pyproject table once
(through the bounded file reader). When an ``ENVRES_*`` variable sets one of the
list or table settings, pydantic-settings does the layering (and the decoding of
those values, envres._settings_env); otherwise the layers are plain values and are
laid over each other here, as pydantic-settings would, and validated by the same
model. pydantic-settings' import (with every cloud provider it loads, tens of
milliseconds) is then not paid on start-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from envres._codes import SETTINGS
from envres._errors import Loc, Problem, ProfileError, suggest
from envres._locate import find_project, read_table
from envres._paths import display, read_file
from envres._sources import NAME

__all__ = ["TABLE_KEYS", "Rule", "Settings", "find_project", "load_settings"]

#: The keys ``[tool.envres]`` may hold.
TABLE_KEYS = (
    "definitions",
    "profiles_dir",
    "default_profile",
    "secret_names",
    "allowed_imports",
    "rules",
    "secret_sources",
    "source_timeout",
)


class Rule(BaseModel):
    """One ``[[tool.envres.rules]]`` table: what the profiles it names must (not) hold.

    ``literal_secrets`` is ``"error"`` (the default when no rule says), ``"warning"``
    or ``"off"``; the last rule naming a profile that sets it decides.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    profiles: tuple[str, ...] = ("*",)
    forbid_types: tuple[str, ...] = ()
    require_keys: tuple[str, ...] = ()
    literal_secrets: Literal["error", "warning", "off"] | None = None


class Settings(BaseModel):
    """Where things are. Build it with :func:`load_settings`."""

    # pydantic-settings' own defaults where they matter to validation (validate_default).
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        validate_default=True,
    )

    project: Path = Path()
    definitions: str | None = None
    profiles_dir: Path = Path("profiles")
    profile: str = Field(default="dev", validation_alias=AliasChoices("profile", "default_profile"))
    secret_names: tuple[str, ...] = ()
    allowed_imports: tuple[str, ...] | None = None
    rules: tuple[Rule, ...] = ()
    #: ``[tool.envres.secret_sources]``: source name -> ``"package.module:fetch"``.
    secret_sources: dict[str, str] = Field(default_factory=dict)
    #: Seconds each secret source reference may take (``ENVRES_SOURCE_TIMEOUT``).
    source_timeout: float = Field(default=10.0, gt=0)
    #: ``ENVRES_ALLOW_MISSING_ENV=1``: as ``--allow-missing-env`` for every command.
    allow_missing_env: bool = False

    @field_validator("secret_sources")
    @classmethod
    def _source_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name, spec in value.items():
            if not NAME.match(name):
                raise ValueError(
                    f"source name {name!r} must be spelled like a variable name "
                    "(letters, digits and _, not starting with a digit)"
                )
            module, sep, attr = spec.partition(":")
            if not (module and sep and attr):
                raise ValueError(f"source {name!r} must be 'package.module:function', not {spec!r}")
        return value

    @property
    def profiles_path(self) -> Path:
        """The profiles folder, resolved against the project folder."""
        return self.project / self.profiles_dir


def load_settings(
    *,
    project: str | Path | None = None,
    environ: Mapping[str, str],
    cwd: Path | None = None,
    **flags: Any,
) -> Settings:
    """Layer flags over ``ENVRES_*`` variables over ``[tool.envres]`` over defaults.

    ``flags`` are the command-line values (``None`` means "not given"). The project
    is ``project``, else ``ENVRES_PROJECT``, else :func:`find_project` from ``cwd``
    (default: the current folder). Raises :class:`ProfileError` for a malformed
    ``[tool.envres]``.
    """
    if project is not None:
        project_dir = Path(project)
    elif "ENVRES_PROJECT" in environ:
        project_dir = Path(environ["ENVRES_PROJECT"])
    else:
        project_dir = find_project(Path.cwd() if cwd is None else cwd)
    pyproject = project_dir / "pyproject.toml"
    given = {k: v for k, v in flags.items() if v is not None}
    given["project"] = project_dir
    table = read_table(pyproject)
    unknown = sorted(set(table) - set(TABLE_KEYS))
    if unknown:
        raise ProfileError(
            [
                Problem(
                    f"unknown key '{unknown[0]}' in [tool.envres]{suggest(unknown[0], TABLE_KEYS)} "
                    f"(allowed: {', '.join(TABLE_KEYS)})",
                    Loc(display(pyproject), _line_of(pyproject, unknown[0]), 1),
                    code=SETTINGS,
                )
            ]
        )
    env = {k: v for k, v in environ.items() if k.startswith("ENVRES_")}
    located: BaseModel
    try:
        if _plain(env):
            located = Settings.model_validate(_laid(given, env, table))
        else:
            from envres._settings_env import layered  # lazy: only a list in ENVRES_* needs it

            located = layered(Settings, given, env, table)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise ProfileError(
            [
                Problem(
                    f"envres setting '{field}': {err['msg']}",
                    Loc(str(pyproject), 1, 1),
                    code=SETTINGS,
                )
            ]
        ) from None
    return Settings.model_construct(**{k: getattr(located, k) for k in Settings.model_fields})


#: ``ENVRES_*`` variables (lower-cased, as pydantic-settings matches them) that set a
#: plain value, which pydantic-settings hands to validation as the string it is. The
#: list and table settings it decodes from JSON first: those go through it.
_PLAIN_ENV = {
    f"envres_{name}": name
    for name in ("project", "definitions", "profiles_dir", "profile", "source_timeout")
} | {"envres_allow_missing_env": "allow_missing_env"}
_DECODED_ENV = {f"envres_{name}" for name in Settings.model_fields} - set(_PLAIN_ENV)


def _plain(env: Mapping[str, str]) -> bool:
    """Whether no ``ENVRES_*`` variable in ``env`` needs pydantic-settings' decoding."""
    return not any(k.lower() in _DECODED_ENV for k in env)


def _laid(
    given: Mapping[str, Any], env: Mapping[str, str], table: Mapping[str, Any]
) -> dict[str, Any]:
    """The three layers of plain values over each other, as pydantic-settings lays them.

    Each layer names a field by its field name (the table's ``default_profile`` is the
    field ``profile``), and a higher layer's value replaces a lower one's.
    """
    laid = {("profile" if k == "default_profile" else k): v for k, v in table.items()}
    lowered = {k.lower(): v for k, v in env.items()}  # case-insensitive: the last spelling wins
    laid.update({_PLAIN_ENV[k]: v for k, v in lowered.items() if k in _PLAIN_ENV})
    laid.update(given)
    return laid


def _line_of(pyproject: Path, key: str) -> int:
    """The line where ``key`` is written in the file's [tool.envres] table (1 if not found)."""
    try:
        lines = read_file(pyproject).decode("utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return 1
    inside = False
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped.startswith("["):
            inside = stripped.replace(" ", "") in ("[tool.envres]", '[tool."envres"]')
        elif inside and stripped.split("=", 1)[0].strip().strip('"') == key:
            return number
    return 1
