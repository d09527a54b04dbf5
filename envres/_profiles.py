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
from envres._yaml import load_yaml

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
    empty = _Parsed(pf, (), (), {})
    try:
        data = read(pf.path)
    except OSError as exc:
        problems.append(
            Problem(
                f"cannot read the file: {exc.strerror}", Loc(pf.display, 1, 1), code=FILE_UNREADABLE
            )
        )
        return empty
    try:
        root = load_yaml(data, pf.display)
    except YamlError as exc:
        problems.append(Problem(exc.message, exc.loc, code=exc.code))
        return empty
    if root is None:
        return empty
    if not isinstance(root.value, dict):
        problems.append(
            Problem(
                f"a profile is a mapping with 'resources:'; found {_kind(root)}",
                root.loc,
                code=STRUCTURE,
            )
        )
        return empty
    top = root.value
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
    extends = tuple(_names(top.get("extends"), "extends", problems))
    env_files: list[EnvFile] = []
    for name, loc in _names(top.get("env_files"), "env_files", problems):
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
    resources: dict[str, Entry | None] = {}
    removals: dict[str, Loc] = {}
    res_node = top.get("resources")
    if res_node is not None and res_node.value is not None:
        if not isinstance(res_node.value, dict):
            problems.append(
                Problem(
                    f"resources: must be a mapping of resource keys; found {_kind(res_node)}",
                    res_node.loc,
                    code=STRUCTURE,
                )
            )
        else:
            for key, node in res_node.value.items():
                entry = _parse_entry(key, node, problems)
                if entry is None or isinstance(entry, Entry):
                    resources[key] = entry
                if entry is None:
                    removals[key] = node.key_loc or node.loc
    return _Parsed(pf, extends, tuple(env_files), resources, removals)


def _parse_entry(key: str, node: Node, problems: list[Problem]) -> Entry | bool | None:
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
    ok = True
    for sub, subnode in node.value.items():
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
    type_node = node.value.get("type")
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
    config = node.value.get("config")
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
    if config is not None and config.value is None:
        config = None
    if not ok:
        return False
    return Entry(key, key_loc, type_node, config)


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
    bad = check_profile_name(name)
    choices = sorted(n for n in files if not n.startswith("_"))
    # "--profile dev.yaml" or "--profile profiles/dev.yaml": the name is the stem.
    stem = Path(name).stem if Path(name).suffix in (".yaml", ".yml") else None
    if stem is not None and stem in choices:
        raise ProfileNotFoundError(
            [
                Problem(
                    f"'{name}' is a file name; a profile is named without its folder and "
                    f"extension: did you mean '{stem}'?",
                    source="envres",
                    code=PROFILE_NOT_FOUND,
                )
            ],
            name,
        )
    if bad is not None:
        raise ProfileNotFoundError([Problem(bad, source="envres", code=PROFILE_NOT_FOUND)], name)
    if name not in files:
        raise ProfileNotFoundError(
            [
                Problem(
                    f"profile '{name}' does not exist{suggest(name, choices)} "
                    f"(profiles: {', '.join(choices) or 'none'})",
                    source="envres",
                    code=PROFILE_NOT_FOUND,
                )
            ],
            name,
        )
    if files[name].partial and not allow_partial:
        raise ProfileNotFoundError(
            [
                Problem(
                    f"profile '{name}' is a partial (its name starts with '_'): other profiles "
                    "can extend it, but it cannot be selected",
                    source="envres",
                    code=PROFILE_NOT_FOUND,
                )
            ],
            name,
        )
    cache = {} if cache is None else cache
    problems: list[Problem] = []

    def parsed(n: str) -> _Parsed:
        if n not in cache:
            local: list[Problem] = []
            cache[n] = (_parse(files[n], read, local), local)
        result, found = cache[n]
        for p in found:
            if p not in problems:
                problems.append(p)
        return result

    chain: list[str] = []
    env_files: list[EnvFile] = []
    removed: dict[str, Loc] = {}

    def merged(n: str, stack: tuple[str, ...]) -> dict[str, Entry]:
        p = parsed(n)
        resources: dict[str, Entry] = {}
        for parent, loc in p.extends:
            if parent in stack or parent == n:
                cycle = (
                    " -> ".join([*stack[stack.index(parent) :], n, parent])
                    if (parent in stack)
                    else f"{n} -> {n}"
                )
                problems.append(Problem(f"cycle: {cycle}", loc, "extends", code=EXTENDS_CYCLE))
                continue
            bad_name = check_profile_name(parent)
            if bad_name is not None:
                problems.append(Problem(bad_name, loc, "extends", code=EXTENDS_UNKNOWN))
                continue
            if parent not in files:
                choices = sorted(files)
                problems.append(
                    Problem(
                        f"profile '{parent}' does not exist{suggest(parent, choices)}",
                        loc,
                        "extends",
                        code=EXTENDS_UNKNOWN,
                    )
                )
                continue
            for key, entry in merged(parent, (*stack, n)).items():
                m = merge_entries(resources.get(key), entry)
                if m is not None:
                    resources[key] = m
        for key, child in p.resources.items():
            m = merge_entries(resources.get(key), child)
            if m is None:
                if resources.pop(key, None) is not None:
                    removed[key] = p.removals[key]
            else:
                resources[key] = m
                removed.pop(key, None)
        if n not in chain:
            chain.append(n)
        for ef in p.env_files:
            if ef not in env_files:
                env_files.append(ef)
        return resources

    resources = merged(name, ())
    if problems:
        raise ProfileError(problems, name)
    top = parsed(name)
    return MergedProfile(
        name=name,
        file=files[name],
        extends=tuple(n for n, _ in top.extends),
        chain=tuple(chain),
        resources=resources,
        env_files=tuple(env_files),
        removed={k: loc for k, loc in removed.items() if k not in resources},
    )
