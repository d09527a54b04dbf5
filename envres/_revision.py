"""A profile as committed at a git revision: the project's files read through ``git``.

:class:`GitTree` is a read-only view of one commit, read with ``git ls-tree`` and
``git cat-file``; nothing is checked out and the working tree is never touched.
The loader takes it as it takes the disk (a ``read`` and an ``exists`` function),
so a profile at a revision is resolved with that revision's own files: itself,
what it extends, its partials and its env files, and the project's ``.env`` when
the commit has one. What is not in a commit stays current: the process
environment (for ``${...}``), ``[tool.envres]`` and the Python definitions (code
at a revision is not imported).

Every git failure is one clear line (:class:`~envres._errors.UsageError`): no
``git``, not a repository, an unknown revision.
"""

from __future__ import annotations

import os
import posixpath
import subprocess
from collections.abc import Mapping
from pathlib import Path

from envres._catalog import Catalog
from envres._codes import PROFILE_NOT_FOUND
from envres._errors import Problem, ProfileNotFoundError, UsageError, suggest
from envres._load import load_profile
from envres._paths import MAX_FILE_BYTES, display
from envres._profiles import ProfileFile, profiles_in
from envres._resolved import ResolvedProfile
from envres._settings import Settings
from envres._types import TypeResolver

__all__ = ["GitTree", "load_at_revision", "split_revision"]

_TIMEOUT = 60.0


def split_revision(spec: str) -> tuple[str, str | None]:
    """``"prod@main"`` -> ``("prod", "main")``; ``"prod"`` -> ``("prod", None)``.

    A profile name has no ``@``, so the first one separates: ``prod@HEAD@{1}`` is
    profile ``prod`` at revision ``HEAD@{1}``.
    """
    name, sep, rev = spec.partition("@")
    if not sep:
        return spec, None
    if not rev:
        raise UsageError(f"'{spec}' names no revision after '@' (e.g. {name}@main, {name}@HEAD~1)")
    return name, rev


class GitTree:
    """The files of one commit of the repository holding ``project``.

    Paths are given as on disk (absolute, or relative to the current folder) and
    mapped to the commit's tree through the project's place in the repository.
    """

    def __init__(self, project: Path, rev: str) -> None:
        self.project = Path(project).resolve()
        self.rev = rev
        if rev.startswith("-"):
            raise UsageError(f"'{rev}' is not a revision")
        where = display(self.project)
        found = self._git("rev-parse", "--show-prefix")
        if found.returncode != 0:
            raise UsageError(f"{where} is not in a git repository: cannot read revision '{rev}'")
        self.prefix = found.stdout.decode("utf-8", "surrogateescape").strip()
        found = self._git(
            "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"
        )
        if found.returncode != 0:
            raise UsageError(f"unknown revision '{rev}' in the git repository of {where}")
        self.commit = found.stdout.decode("ascii").strip()
        self._dirs: dict[str, dict[str, str]] = {}

    def _git(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        try:
            return subprocess.run(
                ["git", "-C", str(self.project), *args],
                capture_output=True,
                timeout=_TIMEOUT,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except FileNotFoundError:
            raise UsageError(
                "reading a revision needs the git command, which is not installed"
            ) from None
        except subprocess.TimeoutExpired:
            raise UsageError(f"git did not answer within {_TIMEOUT:g} s") from None

    def _tree_path(self, path: Path) -> str | None:
        """The path inside the repository, or None when it lies outside it."""
        rel = os.path.relpath(os.path.abspath(path), self.project)
        inside = posixpath.normpath(posixpath.join(self.prefix, Path(rel).as_posix()))
        return None if inside == ".." or inside.startswith("../") else inside

    def _entries(self, folder: str) -> dict[str, str]:
        """Name -> object type of a folder's entries at the commit (blobs only for files)."""
        if folder not in self._dirs:
            spec = f"{self.commit}:{folder}" if folder != "." else f"{self.commit}:"
            out = self._git("ls-tree", "--full-tree", "-z", spec)
            entries: dict[str, str] = {}
            if out.returncode == 0:
                for record in out.stdout.split(b"\0"):
                    if not record:
                        continue
                    meta, _, name = record.partition(b"\t")
                    mode, kind, _ = meta.split(b" ", 2)
                    regular = kind == b"blob" and mode in (b"100644", b"100755")
                    entries[name.decode("utf-8", "surrogateescape")] = (
                        "file" if regular else kind.decode()
                    )
            self._dirs[folder] = entries
        return self._dirs[folder]

    def exists(self, path: Path) -> bool:
        """Whether ``path`` is a regular file at the commit."""
        inside = self._tree_path(path)
        if inside is None:
            return False
        folder, name = posixpath.split(inside)
        return self._entries(folder or ".").get(name) == "file"

    def listdir(self, folder: Path) -> list[Path]:
        """The regular files directly inside ``folder`` at the commit, sorted by name."""
        inside = self._tree_path(folder)
        if inside is None:
            return []
        entries = self._entries(inside)
        return [folder / name for name in sorted(entries) if entries[name] == "file"]

    def read(self, path: Path) -> bytes:
        """A file's bytes at the commit; ``FileNotFoundError`` when the commit has none."""
        if not self.exists(path):
            raise FileNotFoundError(2, f"not in revision '{self.rev}'", str(path))
        inside = self._tree_path(path)
        done = self._git("cat-file", "blob", f"{self.commit}:{inside}")
        if done.returncode != 0:
            raise OSError(
                5, f"git cannot read it: {done.stderr.decode('utf-8', 'replace').strip()}"
            )
        data = done.stdout
        if len(data) > MAX_FILE_BYTES:
            raise OSError(27, f"it is larger than {MAX_FILE_BYTES // 2**20} MiB")
        return data

    def display(self, path: Path) -> str:
        """How a file at the revision is named in messages: ``main:profiles/prod.yaml``."""
        return f"{self.rev}:{display(path)}"


def load_at_revision(
    settings: Settings,
    catalog: Catalog | None,
    name: str,
    rev: str,
    *,
    process_env: Mapping[str, str] | None = None,
    types: TypeResolver | None = None,
) -> ResolvedProfile:
    """Profile ``name`` as committed at ``rev``, resolved with that commit's files.

    Unset variables are allowed (they show as ``<not set>``), as ``diff`` shows them.
    Raises :class:`ProfileNotFoundError` when the commit has no such profile.
    """
    tree = GitTree(settings.project, rev)
    folder = settings.profiles_path.resolve()
    files: dict[str, ProfileFile] = profiles_in(tree.listdir(folder), tree.display)
    if name not in files or files[name].partial:
        choices = sorted(n for n, pf in files.items() if not pf.partial)
        raise ProfileNotFoundError(
            [
                Problem(
                    f"profile '{name}' does not exist at revision '{rev}' ({tree.commit[:12]})"
                    f"{suggest(name, choices)} (profiles there: {', '.join(choices) or 'none'})",
                    source="envres",
                    code=PROFILE_NOT_FOUND,
                )
            ],
            f"{name}@{rev}",
        )
    dotenv = settings.project.resolve() / ".env"
    return load_profile(
        settings,
        catalog,
        name=name,
        process_env=process_env,
        allow_missing_env=True,
        files=files,
        types=types,
        read=tree.read,
        exists=tree.exists,
        dotenv=(dotenv, tree.display(dotenv)),
    )
