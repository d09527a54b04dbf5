"""The loader's entry point: with the CLI, the only place that reads files and os.environ.

It ties the pure pieces together: settings -> profile files -> merge -> env ->
validation. The definitions module is imported elsewhere (:mod:`envres._project`).
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envres._catalog import Catalog
from envres._env import build_env
from envres._errors import Problem
from envres._imports import ImportPolicy
from envres._paths import display, read_file
from envres._profiles import ProfileFile, discover, load_merged
from envres._resolved import ResolvedProfile
from envres._secrets import DEFAULT_SECRET_NAMES, SecretNames
from envres._sources import SourceRegistry
from envres._types import TypeResolver
from envres._validate import resolve

if TYPE_CHECKING:
    from envres._settings import Settings

__all__ = [
    "gc_paused",
    "load_profile",
    "profile_files",
    "read_bytes",
    "secret_names",
    "source_registry",
    "type_resolver",
]


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small objects.

    Loading creates tens of thousands of nodes and models and frees almost none;
    collections during it cost a quarter of a 10,000-resource validation.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def read_bytes(path: Path) -> bytes:
    """A profile or env file's bytes (see :func:`envres._paths.read_file`)."""
    return read_file(path)


def profile_files(
    settings: Settings, ignored: list[Problem] | None = None
) -> dict[str, ProfileFile]:
    """The profile files of the project; files skipped for their names go to ``ignored``."""
    return discover(settings.profiles_path, display, ignored)


def secret_names(settings: Settings) -> SecretNames:
    """The name rule for secrets: the defaults plus ``[tool.envres] secret_names``."""
    return DEFAULT_SECRET_NAMES.extended(settings.secret_names)


def source_registry(settings: Settings) -> SourceRegistry:
    """The secret sources: installed plugins (envres's own among them) and the project's."""
    return SourceRegistry(settings.secret_sources, settings.project)


def type_resolver(settings: Settings, catalog: Catalog | None) -> TypeResolver:
    """A resolver for ``type:`` names under the project's ``allowed_imports``."""
    known = catalog.resource_types if catalog is not None else {}
    return TypeResolver(known, ImportPolicy(settings.allowed_imports))


def load_profile(
    settings: Settings,
    catalog: Catalog | None,
    *,
    name: str | None = None,
    process_env: Mapping[str, str] | None = None,
    allow_missing_env: bool = False,
    overrides: frozenset[str] = frozenset(),
    files: Mapping[str, ProfileFile] | None = None,
    parsed: dict[str, Any] | None = None,
    types: TypeResolver | None = None,
    read: Callable[[Path], bytes] = read_bytes,
    exists: Callable[[Path], bool] = Path.is_file,
    dotenv: tuple[Path, str] | None = None,
) -> ResolvedProfile:
    """Load, merge, interpolate and validate one profile (default: the selected one).

    ``files`` (from :func:`profile_files`), ``parsed`` (a cache of parsed files) and
    ``types`` let a command that loads several profiles read and import each once.
    ``read``, ``exists`` and ``dotenv`` (the project's ``.env`` and how it is named)
    give another view of the files than the disk: a git revision's, say.
    ``ENVRES_ALLOW_MISSING_ENV=1`` (the setting) turns ``allow_missing_env`` on.
    """
    allow_missing_env = allow_missing_env or settings.allow_missing_env
    with gc_paused():
        files = profile_files(settings) if files is None else files
        merged = load_merged(name or settings.profile, files, read, cache=parsed)
        if dotenv is None:
            dotenv = (settings.project / ".env", display(settings.project / ".env"))
        env, problems = build_env(
            os.environ if process_env is None else process_env,
            [(ef.path, ef.display, ef.loc) for ef in merged.env_files],
            dotenv,
            read,
            exists,
            project_dir=Path(os.path.abspath(settings.project)),
        )
        return resolve(
            merged,
            env,
            catalog,
            types=types or type_resolver(settings, catalog),
            names=secret_names(settings),
            allow_missing_env=allow_missing_env,
            overrides=overrides,
            earlier=problems,
            sources=source_registry(settings),
            source_timeout=settings.source_timeout,
        )
