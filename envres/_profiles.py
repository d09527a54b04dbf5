"""Profile files: finding them, reading their structure, following ``extends``, merging.

Everything here is pure given a ``read`` function: no environment, no validation
of configs against types (that is ``_validate``). Problems are collected, not
raised one at a time, so a user sees every structural mistake at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from envres._codes import (
    ENV_FILE,
    EXTENDS_CYCLE,
    EXTENDS_UNKNOWN,
    FILE_IGNORED,
    FILE_UNREADABLE,
    PROFILE_NOT_FOUND,
    STRUCTURE,
    TWO_FILES,
)
from envres._errors import Loc, Problem, ProfileError, ProfileNotFoundError, YamlError, suggest
from envres._nodes import Node
from envres._record import Record

__all__ = [
    "Entry",
    "MergedProfile",
    "ProfileFile",
    "check_profile_name",
    "discover",
    "load_merged",
    "profiles_in",
]

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_TOP_KEYS = ("extends", "env_files", "resources")
_ENTRY_KEYS = ("type", "config")


class ProfileFile(Record):
    """A profile on disk. ``display`` is the path as errors print it."""

    __slots__ = ("name", "path", "display")
    name: str
    path: Path
    display: str

    def __init__(self, name: str, path: Path, display: str) -> None:
        self._set(name, path, display)

    @property
    def partial(self) -> bool:
        return self.name.startswith("_")


class Entry(Record):
    """One resource key of a profile, after merging: where, which type, which config."""

    __slots__ = ("key", "key_loc", "type", "config")
    key: str
    key_loc: Loc
    type: Node | None
    config: Node | None

    def __init__(self, key: str, key_loc: Loc, type: Node | None, config: Node | None) -> None:
        # Made once per value or resource: each slot written directly.
        set_key, set_key_loc, set_type, set_config = self._setters
        set_key(self, key)
        set_key_loc(self, key_loc)
        set_type(self, type)
        set_config(self, config)


class EnvFile(Record):
    __slots__ = ("path", "display", "loc")
    path: Path
    display: str
    loc: Loc

    def __init__(self, path: Path, display: str, loc: Loc) -> None:
        self._set(path, display, loc)


class MergedProfile(Record):
    """A profile with its ``extends`` chain merged in.

    ``chain`` lists every file merged, ancestors first. ``env_files`` are in
    increasing precedence (a later file wins). ``removed`` says where each key that
    a parent defined was removed with ``key: null``.
    """

    __slots__ = ("name", "file", "extends", "chain", "resources", "env_files", "removed")
    name: str
    file: ProfileFile
    extends: tuple[str, ...]
    chain: tuple[str, ...]
    resources: Mapping[str, Entry]
    env_files: tuple[EnvFile, ...]
    removed: Mapping[str, Loc]

    def __init__(
        self,
        name: str,
        file: ProfileFile,
        extends: tuple[str, ...],
        chain: tuple[str, ...],
        resources: Mapping[str, Entry],
        env_files: tuple[EnvFile, ...] = (),
        removed: Mapping[str, Loc] | None = None,
    ) -> None:
        self._set(
            name, file, extends, chain, resources, env_files, {} if removed is None else removed
        )


def check_profile_name(name: str) -> str | None:
    """Why ``name`` is not a valid profile name, or ``None`` if it is."""
    if not _NAME.match(name) or name in (".", ".."):
        return f"'{name}' is not a profile name: use letters, digits, '-', '_' and '.', not a path"
    return None


def discover(
    profiles_dir: Path,
    display: Callable[[Path], str],
    ignored: list[Problem] | None = None,
) -> dict[str, ProfileFile]:
    """Every profile file in ``profiles_dir`` by name (partials included).

    Raises :class:`ProfileError` when the folder is missing or a name has both a
    ``.yaml`` and a ``.yml`` file. A file that looks meant as a profile but is not
    one (``prod eu.yaml``, ``prod.YAML``) is skipped, with a warning in ``ignored``.
    """
    if not profiles_dir.is_dir():
        text = str(profiles_dir)
        shown = repr(text) if "\0" in text else str(profiles_dir.absolute())
        what = "is not a folder" if "\0" not in text and profiles_dir.exists() else "does not exist"
        raise ProfileNotFoundError(
            [
                Problem(
                    f"profiles folder {shown} {what} "
                    "(set profiles_dir in [tool.envres], --profiles-dir, or run `envres init`)",
                    source="envres",
                    code=PROFILE_NOT_FOUND,
                )
            ]
        )
    return profiles_in(sorted(profiles_dir.iterdir()), display, ignored)


def profiles_in(
    paths: Iterable[Path],
    display: Callable[[Path], str],
    ignored: list[Problem] | None = None,
) -> dict[str, ProfileFile]:
    """The profile files among ``paths`` (a folder's entries, on disk or at a revision).

    Raises :class:`ProfileError` when a name has both a ``.yaml`` and a ``.yml``
    file; names that are not profile names are skipped, with a warning in ``ignored``.
    """
    found: dict[str, ProfileFile] = {}
    problems: list[Problem] = []
    for path in paths:
        if path.suffix not in (".yaml", ".yml"):
            if path.suffix.lower() in (".yaml", ".yml") and ignored is not None:
                ignored.append(
                    Problem(
                        f"{display(path)} is not read: profile files end in .yaml or .yml, "
                        "in lower case",
                        severity="warning",
                        source="envres",
                        code=FILE_IGNORED,
                    )
                )
            continue
        name = path.stem
        bad = check_profile_name(name)
        if bad is not None:
            if ignored is not None:
                ignored.append(
                    Problem(
                        f"{display(path)} is not read: {bad}",
                        severity="warning",
                        source="envres",
                        code=FILE_IGNORED,
                    )
                )
            continue
        if name in found:
            problems.append(
                Problem(
                    f"profile '{name}' has two files, {found[name].display} and "
                    f"{display(path)}; keep one",
                    Loc(display(path), 1, 1),
                    code=TWO_FILES,
                )
            )
            continue
        found[name] = ProfileFile(name, path, display(path))
    if problems:
        raise ProfileError([*problems, *(ignored or [])])
    return found


class _Parsed(Record):
    __slots__ = ("file", "extends", "env_files", "resources", "removals")
    file: ProfileFile
    extends: tuple[tuple[str, Loc], ...]
    env_files: tuple[EnvFile, ...]
    resources: dict[str, Entry | None]
    removals: dict[str, Loc]

    def __init__(
        self,
        file: ProfileFile,
        extends: tuple[tuple[str, Loc], ...],
        env_files: tuple[EnvFile, ...],
        resources: dict[str, Entry | None],
        removals: dict[str, Loc] | None = None,
    ) -> None:
        self._set(file, extends, env_files, resources, {} if removals is None else removals)


def _parse(pf: ProfileFile, read: Callable[[Path], bytes], problems: list[Problem]) -> _Parsed:
    """One profile file read and its structure checked; what is wrong goes to ``problems``."""
    top = _read_top(pf, read, problems)
    if top is None:
        return _Parsed(pf, (), (), {})
    _check_top_keys(top, problems)
    extends = tuple(_names(top.get("extends"), "extends", problems))
    env_files = _env_files(pf, top.get("env_files"), problems)
    resources, removals = _resources(top.get("resources"), problems)
    return _Parsed(pf, extends, env_files, resources, removals)


def _read_top(
    pf: ProfileFile, read: Callable[[Path], bytes], problems: list[Problem]
) -> dict[str, Node] | None:
    """The file's top-level mapping; ``None`` (and why, unless it is empty) if there is none."""
    try:
        data = read(pf.path)
    except OSError as exc:
        problems.append(
            Problem(
                f"cannot read the file: {exc.strerror}", Loc(pf.display, 1, 1), code=FILE_UNREADABLE
            )
        )
        return None
    from envres._yaml import load_yaml  # lazy: listing profiles (completion) needs no YAML

    try:
        root = load_yaml(data, pf.display)
    except YamlError as exc:
        problems.append(Problem(exc.message, exc.loc, code=exc.code))
        return None
    if root is None:
        return None
    if not isinstance(root.value, dict):
        problems.append(
            Problem(
                f"a profile is a mapping with 'resources:'; found {_kind(root)}",
                root.loc,
                code=STRUCTURE,
            )
        )
        return None
    return root.value


def _check_top_keys(top: dict[str, Node], problems: list[Problem]) -> None:
    """A problem for each top-level key that is not a profile's own nor an ``x-`` anchor."""
    for key, node in top.items():
        if key not in _TOP_KEYS and not key.startswith("x-"):
            problems.append(
                Problem(
                    f"unknown top-level key '{key}'{suggest(key, _TOP_KEYS)} "
                    "(allowed: extends, env_files, resources, and x-* for anchors)",
                    node.key_loc or node.loc,
                    code=STRUCTURE,
                )
            )


def _env_files(pf: ProfileFile, node: Node | None, problems: list[Problem]) -> tuple[EnvFile, ...]:
    """The ``env_files:`` a profile names, located next to the profile file."""
    env_files: list[EnvFile] = []
    for name, loc in _names(node, "env_files", problems):
        if "\0" in name:
            problems.append(
                Problem(
                    "an env file's path cannot hold a NUL character",
                    loc,
                    "env_files",
                    code=ENV_FILE,
                )
            )
            continue
        env_files.append(
            EnvFile((pf.path.parent / name).resolve(), str(Path(pf.display).parent / name), loc)
        )
    return tuple(env_files)


def _resources(
    res_node: Node | None, problems: list[Problem]
) -> tuple[dict[str, Entry | None], dict[str, Loc]]:
    """The ``resources:`` entries (``None`` for ``key: null``) and where each removal is."""
    resources: dict[str, Entry | None] = {}
    removals: dict[str, Loc] = {}
    if res_node is None or res_node.value is None:
        return resources, removals
    if not isinstance(res_node.value, dict):
        problems.append(
            Problem(
                f"resources: must be a mapping of resource keys; found {_kind(res_node)}",
                res_node.loc,
                code=STRUCTURE,
            )
        )
        return resources, removals
    for key, node in res_node.value.items():
        entry = _parse_entry(key, node, problems)
        if entry is None or isinstance(entry, Entry):
            resources[key] = entry
        if entry is None:
            removals[key] = node.key_loc or node.loc
    return resources, removals


def _parse_entry(key: str, node: Node, problems: list[Problem]) -> Entry | bool | None:
    """One resource entry: an Entry, ``None`` for ``key: null``, ``False`` if it is malformed."""
    key_loc = node.key_loc or node.loc
    if not _KEY.match(key):
        problems.append(
            Problem(
                f"resource key '{key}' must be a Python identifier (assets receive it by "
                "parameter name)",
                key_loc,
                "resources",
                code=STRUCTURE,
            )
        )
        return False
    if node.value is None:
        return None
    if not isinstance(node.value, dict):
        problems.append(
            Problem(
                f"expected a mapping with 'type:' and 'config:'; found {_kind(node)}",
                node.loc,
                f"resources.{key}",
                code=STRUCTURE,
            )
        )
        return False
    if not _entry_shape_ok(key, node.value, problems):
        return False
    config = node.value.get("config")
    if config is not None and config.value is None:
        config = None
    return Entry(key, key_loc, node.value.get("type"), config)


def _entry_shape_ok(key: str, entry: dict[str, Node], problems: list[Problem]) -> bool:
    """Whether an entry holds only ``type:`` (a string) and ``config:`` (a mapping)."""
    ok = True
    for sub, subnode in entry.items():
        if sub not in _ENTRY_KEYS:
            problems.append(
                Problem(
                    f"unknown key '{sub}'{suggest(sub, _ENTRY_KEYS)} (allowed: type, config)",
                    subnode.key_loc or subnode.loc,
                    f"resources.{key}",
                    code=STRUCTURE,
                )
            )
            ok = False
    type_node = entry.get("type")
    if type_node is not None and not isinstance(type_node.value, str):
        problems.append(
            Problem(
                f"type must be a string (a short name, an entry point or 'package.module:Class');"
                f" found {_kind(type_node)}",
                type_node.loc,
                f"resources.{key}.type",
                code=STRUCTURE,
            )
        )
        ok = False
    config = entry.get("config")
    if config is not None and config.value is not None and not isinstance(config.value, dict):
        problems.append(
            Problem(
                f"config must be a mapping of field names to values; found {_kind(config)}",
                config.loc,
                f"resources.{key}.config",
                code=STRUCTURE,
            )
        )
        ok = False
    return ok


def _names(node: Node | None, what: str, problems: list[Problem]) -> list[tuple[str, Loc]]:
    if node is None or node.value is None:
        return []
    items = node.value if isinstance(node.value, list) else [node]
    out: list[tuple[str, Loc]] = []
    for item in items:
        if isinstance(item.value, str) and item.value:
            out.append((item.value, item.loc))
        else:
            problems.append(
                Problem(
                    f"{what} takes a name or a list of names; found {_kind(item)}",
                    item.loc,
                    code=STRUCTURE,
                )
            )
    return out


def _kind(node: Node) -> str:
    v = node.value
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list):
        return "a list"
    if v is None:
        return "null"
    if isinstance(v, bool):
        return f"the boolean {str(v).lower()}"
    if isinstance(v, int | float):
        return f"the number {v}"
    text = repr(v)
    return f"the string {text if len(text) <= 60 else text[:56] + '...' + text[0]}"


def merge_config(parent: Node | None, child: Node | None) -> Node | None:
    """Deep-merge ``child`` config over ``parent``: mappings merge, anything else replaces."""
    if parent is None:
        return child
    if child is None:
        return parent
    if isinstance(parent.value, dict) and isinstance(child.value, dict):
        merged = dict(parent.value)
        for key, node in child.value.items():
            merged[key] = (merge_config(merged[key], node) or node) if key in merged else node
        return Node(merged, child.loc, child.key_loc)
    return child


def merge_entries(parent: Entry | None, child: Entry | None) -> Entry | None:
    """The merge rules of one resource key (PRODUCT.md §2).

    ``None`` child removes the key; the same type or no type deep-merges the
    config; a different type replaces the entry.
    """
    if child is None:
        return None
    if parent is None:
        return child
    if child.type is None or (parent.type is not None and child.type.value == parent.type.value):
        return Entry(
            child.key,
            child.key_loc,
            child.type or parent.type,
            merge_config(parent.config, child.config),
        )
    return child


def load_merged(
    name: str,
    files: Mapping[str, ProfileFile],
    read: Callable[[Path], bytes],
    *,
    allow_partial: bool = False,
    cache: dict[str, tuple[_Parsed, list[Problem]]] | None = None,
) -> MergedProfile:
    """Load profile ``name`` and everything it extends, merged.

    Raises :class:`ProfileNotFoundError` if there is no such profile and
    :class:`ProfileError` with every problem found along the chain.
    """
    _check_selectable(name, files, allow_partial)
    chain = _Chain(files, read, {} if cache is None else cache)
    resources = chain.merged(name, ())
    if chain.problems:
        raise ProfileError(chain.problems, name)
    top = chain.parsed(name)
    return MergedProfile(
        name=name,
        file=files[name],
        extends=tuple(n for n, _ in top.extends),
        chain=tuple(chain.names),
        resources=resources,
        env_files=tuple(chain.env_files),
        removed={k: loc for k, loc in chain.removed.items() if k not in resources},
    )


def _check_selectable(name: str, files: Mapping[str, ProfileFile], allow_partial: bool) -> None:
    """Raise :class:`ProfileNotFoundError` unless ``name`` names a profile one can select."""
    bad = check_profile_name(name)
    choices = sorted(n for n in files if not n.startswith("_"))
    # "--profile dev.yaml" or "--profile profiles/dev.yaml": the name is the stem.
    stem = Path(name).stem if Path(name).suffix in (".yaml", ".yml") else None
    if stem is not None and stem in choices:
        bad = (
            f"'{name}' is a file name; a profile is named without its folder and "
            f"extension: did you mean '{stem}'?"
        )
    elif bad is None and name not in files:
        bad = (
            f"profile '{name}' does not exist{suggest(name, choices)} "
            f"(profiles: {', '.join(choices) or 'none'})"
        )
    elif bad is None and files[name].partial and not allow_partial:
        bad = (
            f"profile '{name}' is a partial (its name starts with '_'): other profiles "
            "can extend it, but it cannot be selected"
        )
    if bad is not None:
        raise ProfileNotFoundError([Problem(bad, source="envres", code=PROFILE_NOT_FOUND)], name)


class _Chain:
    """One walk down a profile's ``extends`` chain: the files met, the problems found.

    ``names`` lists the profiles merged, ancestors first; ``env_files`` their env
    files in increasing precedence; ``removed`` where each key a parent defined was
    removed with ``key: null``. ``cache`` keeps each file's parse across loads.
    """

    __slots__ = ("files", "read", "cache", "problems", "names", "env_files", "removed")

    def __init__(
        self,
        files: Mapping[str, ProfileFile],
        read: Callable[[Path], bytes],
        cache: dict[str, tuple[_Parsed, list[Problem]]],
    ) -> None:
        self.files = files
        self.read = read
        self.cache = cache
        self.problems: list[Problem] = []
        self.names: list[str] = []
        self.env_files: list[EnvFile] = []
        self.removed: dict[str, Loc] = {}

    def parsed(self, n: str) -> _Parsed:
        """Profile ``n`` parsed (once per cache), its problems added to this walk's."""
        if n not in self.cache:
            local: list[Problem] = []
            self.cache[n] = (_parse(self.files[n], self.read, local), local)
        result, found = self.cache[n]
        for p in found:
            if p not in self.problems:
                self.problems.append(p)
        return result

    def merged(self, n: str, stack: tuple[str, ...]) -> dict[str, Entry]:
        """Profile ``n``'s resources: its parents' merged in order, then its own over them."""
        p = self.parsed(n)
        resources: dict[str, Entry] = {}
        for parent, loc in p.extends:
            problem = self._bad_parent(n, parent, loc, stack)
            if problem is not None:
                self.problems.append(problem)
                continue
            for key, entry in self.merged(parent, (*stack, n)).items():
                m = merge_entries(resources.get(key), entry)
                if m is not None:
                    resources[key] = m
        for key, child in p.resources.items():
            m = merge_entries(resources.get(key), child)
            if m is None:
                if resources.pop(key, None) is not None:
                    self.removed[key] = p.removals[key]
            else:
                resources[key] = m
                self.removed.pop(key, None)
        if n not in self.names:
            self.names.append(n)
        for ef in p.env_files:
            if ef not in self.env_files:
                self.env_files.append(ef)
        return resources

    def _bad_parent(self, n: str, parent: str, loc: Loc, stack: tuple[str, ...]) -> Problem | None:
        """Why ``n`` cannot extend ``parent`` (a cycle, a bad or unknown name), if it cannot."""
        if parent in stack or parent == n:
            cycle = (
                " -> ".join([*stack[stack.index(parent) :], n, parent])
                if (parent in stack)
                else f"{n} -> {n}"
            )
            return Problem(f"cycle: {cycle}", loc, "extends", code=EXTENDS_CYCLE)
        bad_name = check_profile_name(parent)
        if bad_name is not None:
            return Problem(bad_name, loc, "extends", code=EXTENDS_UNKNOWN)
        if parent not in self.files:
            choices = sorted(self.files)
            return Problem(
                f"profile '{parent}' does not exist{suggest(parent, choices)}",
                loc,
                "extends",
                code=EXTENDS_UNKNOWN,
            )
        return None
