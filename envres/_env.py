"""The environment a profile is interpolated against, and where each variable came from.

Sources, highest first: :data:`PROJECT_DIR` (the project folder, set by envres),
the process environment, then the profile's env files (a later file wins), then
the project's ``.env`` (optional). Env files use
python-dotenv's syntax, read literally (python-dotenv's own ``${}`` expansion
is off, so an env file's value is never scanned). ``os.environ`` is never
changed; the process environment is passed in, never read here.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from envres._codes import ENV_FILE
from envres._errors import Loc, Problem
from envres._record import Record

__all__ = ["PROCESS", "PROJECT", "PROJECT_DIR", "Env", "build_env"]

PROCESS = "environment"

#: The variable that holds the project folder (absolute), so a profile can write
#: ``${ENVRES_PROJECT_DIR}/data/dev.duckdb`` and mean the same file from any folder.
#: Templates see it as ``project_dir``.
PROJECT_DIR = "ENVRES_PROJECT_DIR"

#: The source :data:`PROJECT_DIR` is listed with.
PROJECT = "envres (the project folder)"


class Env(Record):
    """Variable values and, for each, its source: ``"environment"`` or an env file path.

    ``shadowed`` names, for a variable set by more than one source, the lower
    sources whose value lost (``.env`` under ``prod.env``). Its repr names no value:
    the environment holds secrets.
    """

    __slots__ = ("values", "sources", "shadowed")
    values: Mapping[str, str]
    sources: Mapping[str, str]
    shadowed: Mapping[str, tuple[str, ...]]

    def __init__(
        self,
        values: Mapping[str, str],
        sources: Mapping[str, str],
        shadowed: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        self._set(values, sources, shadowed or {})

    def __repr__(self) -> str:
        return f"<Env of {len(self.values)} variables>"


def _read_env_file(
    path: Path,
    display: str,
    loc: Loc | None,
    read: Callable[[Path], bytes],
    problems: list[Problem],
) -> dict[str, str]:
    from dotenv.parser import parse_stream

    where = loc or Loc(display, 1, 1)
    try:
        raw = read(path)
    except FileNotFoundError:
        problems.append(
            Problem(f"env file {display} does not exist", where, "env_files", code=ENV_FILE)
        )
        return {}
    except OSError as exc:
        problems.append(
            Problem(
                f"env file {display} cannot be read: {exc.strerror}",
                where,
                "env_files",
                code=ENV_FILE,
            )
        )
        return {}
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        problems.append(
            Problem("env file is not valid UTF-8", Loc(display, line, 1), code=ENV_FILE)
        )
        return {}
    values: dict[str, str] = {}
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            # The line itself is never shown: a typo'd line is often the secret itself
            # ("PW: s3cret", an unclosed quote), and this message goes to a terminal.
            problems.append(
                Problem(
                    "cannot parse this line of the env file: expected NAME=value "
                    "(the line is not shown, as it may hold a secret)",
                    Loc(display, binding.original.line, 1),
                    code=ENV_FILE,
                )
            )
        elif binding.key is not None and binding.value is not None:
            values[binding.key] = binding.value
    return values


def build_env(
    process: Mapping[str, str],
    env_files: Sequence[tuple[Path, str, Loc]],
    dotenv: tuple[Path, str] | None,
    read: Callable[[Path], bytes],
    exists: Callable[[Path], bool] = Path.is_file,
    project_dir: Path | None = None,
) -> tuple[Env, list[Problem]]:
    """Layer the sources into one :class:`Env`; problems are missing or bad files.

    ``read`` and ``exists`` see the files: the disk, or a revision (``envres._revision``).
    ``project_dir`` (absolute) becomes :data:`PROJECT_DIR`, above every source: it
    is envres's answer, not a setting.
    """
    problems: list[Problem] = []
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    layers: list[tuple[str, dict[str, str]]] = []
    if dotenv is not None and exists(dotenv[0]):
        layers.append((dotenv[1], _read_env_file(dotenv[0], dotenv[1], None, read, problems)))
    for path, display, loc in env_files:
        layers.append((display, _read_env_file(path, display, loc, read, problems)))
    shadowed: dict[str, tuple[str, ...]] = {}
    for source, layer in [*layers, (PROCESS, process)]:
        for name in layer.keys() & sources.keys():
            shadowed[name] = (*shadowed.get(name, ()), sources[name])
        values.update(layer)
        sources.update(dict.fromkeys(layer, source))
    if project_dir is not None:
        values[PROJECT_DIR] = str(project_dir)
        sources[PROJECT_DIR] = PROJECT
    return Env(values, sources, shadowed), problems
