"""Which secret sources a profile may name, and resolving references to them concurrently."""

from __future__ import annotations

import functools
import math
import queue
import re
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from envres._errors import INTERRUPTS
from envres._imports import ImportPathError, import_object, one_line
from envres._interpolate import Unavailable
from envres._sources._base import SecretNotFound, SourceFailed, forget_aws_clients
from envres._sources.file import locate

__all__ = [
    "DEFAULT_TIMEOUT",
    "ENTRY_POINT_GROUP",
    "MAX_PARALLEL",
    "NAME",
    "SourceRegistry",
    "resolve_all",
]

#: The entry-point group of secret sources; envres's own (file, secretsmanager, ssm) too.
ENTRY_POINT_GROUP = "envres.secret_sources"

#: How a source's name is spelled: as a variable's.
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

#: Seconds each reference may take before it is reported as timed out.
DEFAULT_TIMEOUT = 10.0

#: References fetched at once, at most.
MAX_PARALLEL = 32

Fetch = Callable[[str], Any]


@functools.cache
def _entry_points() -> Mapping[str, Any]:
    import importlib.metadata  # scanning installed packages costs ~15 ms: only when needed

    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


class SourceRegistry:
    """The secret sources of a project: installed plugins, then ``[tool.envres.secret_sources]``.

    envres's own sources are plugins like any other (entry points in its package
    metadata). Names are read from the metadata only when a profile string looks
    like it could hold a reference; a source's code is imported only when one of
    its references is resolved (boto3 is paid only by a profile that uses AWS).
    ``root`` is put on ``sys.path`` to import a project source, as for the
    definitions.
    """

    def __init__(self, project: Mapping[str, str] | None = None, root: Path | None = None) -> None:
        self.project: Mapping[str, str] = dict(project or {})
        self.root = root
        self._names: frozenset[str] | None = None
        self._lock = threading.Lock()
        self._loaded: dict[str, Fetch | str] = {}

    def __repr__(self) -> str:
        return f"<SourceRegistry project={sorted(self.project)}>"

    def names(self) -> frozenset[str]:
        """Every registered source name."""
        if self._names is None:
            self._names = frozenset(n for n in (*_entry_points(), *self.project) if NAME.match(n))
        return self._names

    def locate(self, source: str, reference: str, folder: Path) -> str:
        """The reference the source is asked for: a ``file`` path made absolute."""
        return locate(reference, folder) if source == "file" else reference

    def fetcher(self, name: str) -> Fetch | str:
        """The callable of source ``name``, or a one-line reason it cannot be loaded."""
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = self._load(name)
            return self._loaded[name]

    def _load(self, name: str) -> Fetch | str:
        if name in self.project:
            spec = self.project[name]
            if self.root is not None and str(self.root.resolve()) not in sys.path:
                sys.path.insert(0, str(self.root.resolve()))
            try:
                obj: object = import_object(spec)
            except ImportPathError as exc:
                return f"cannot load the source ({spec}): {exc.reason}"
        else:
            ep = _entry_points().get(name)
            if ep is None:
                return "no such source"
            try:
                obj = ep.load()
            except INTERRUPTS:
                raise
            except BaseException as exc:
                return f"cannot load the source plugin ({ep.value}): {one_line(exc)}"
        if not callable(obj):
            return f"the source is a {type(obj).__name__}, not a callable taking the reference"
        return obj


def resolve_all(
    keys: Iterable[tuple[str, str]], registry: SourceRegistry, timeout: float = DEFAULT_TIMEOUT
) -> dict[tuple[str, str], str | Unavailable]:
    """Fetch each ``(source, reference)`` once, up to :data:`MAX_PARALLEL` at a time.

    A reference that has not answered ``timeout`` seconds after its turn came is
    reported as timed out; the daemon thread still fetching it is left behind, so
    a source that never answers cannot hold the command. Nothing is written to disk.
    """
    todo = list(dict.fromkeys(keys))
    if not todo:
        return {}
    forget_aws_clients()
    results: dict[tuple[str, str], str | Unavailable] = {}
    lock = threading.Lock()
    done = threading.Event()
    waiting: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
    for key in todo:
        waiting.put(key)

    def work() -> None:
        while True:
            try:
                key = waiting.get_nowait()
            except queue.Empty:
                return
            outcome = _fetch(registry, key)
            with lock:
                results[key] = outcome
                if len(results) == len(todo):
                    done.set()

    workers = min(MAX_PARALLEL, len(todo))
    for i in range(workers):
        threading.Thread(target=work, name=f"envres-source-{i}", daemon=True).start()
    done.wait(timeout * math.ceil(len(todo) / workers))
    with lock:
        final = dict(results)
    late = Unavailable(f"timed out after {timeout:g} s")
    return {key: final.get(key, late) for key in todo}


def _fetch(registry: SourceRegistry, key: tuple[str, str]) -> str | Unavailable:
    """One reference's value, or why not; never raises."""
    source, reference = key
    fetch = registry.fetcher(source)
    if isinstance(fetch, str):
        return Unavailable(fetch)
    try:
        value = fetch(reference)
    except SecretNotFound as exc:
        return Unavailable(str(exc) or "not found", not_found=True)
    except SourceFailed as exc:
        return Unavailable(str(exc))
    except LookupError as exc:  # a plugin saying "no such secret"
        return Unavailable(f"not found ({one_line(exc)})", not_found=True)
    except BaseException as exc:  # a plugin failing in any way: reported, never raised
        return Unavailable(f"the source raised {one_line(exc)}")
    if not isinstance(value, str):
        return Unavailable(
            f"the source returned a value of type {type(value).__name__}, not a string"
        )
    return value
