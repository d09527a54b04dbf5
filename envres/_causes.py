"""Why something failed: an exception and the exceptions behind it, masked.

``raise RuntimeError("could not start dbt") from FileNotFoundError(...)`` says what
failed in its first link and why in the next; a message that keeps only the first
link loses the reason. :func:`explain` keeps every link, each as ``Type: first
line`` masked by the profile's :class:`~envres._secrets.Redactor`, so ``run``,
``check`` and what Dagster records all say the same thing, without a secret and
without handing anyone the exception objects themselves.

:func:`reason` adds what a one-line message loses: the line of the user's own
code the exception came from (:func:`user_frame`) and the rest of a message that
has more lines. It is computed where the exception is caught (a Dask worker
included), so only strings travel.
"""

from __future__ import annotations

import contextlib
import functools
import os
import traceback
from pathlib import Path

from envres._errors import INTERRUPTS, Reason
from envres._paths import display
from envres._secrets import Redactor

__all__ = ["MAX_LINKS", "MAX_MORE_LINES", "explain", "reason", "user_frame"]

#: Links shown at most; a longer chain ends with how many were left out.
MAX_LINKS = 8

#: Lines of a long message shown after its first; the rest is counted.
MAX_MORE_LINES = 30


def reason(exc: BaseException, redactor: Redactor) -> Reason:
    """Why ``exc`` failed, masked: :func:`explain`'s line, where, and the rest of the message.

    >>> def users():
    ...     raise ValueError("no table raw_user\\nDid you mean raw_users?")
    >>> try:
    ...     users()
    ... except ValueError as e:
    ...     r = reason(e, Redactor())
    >>> r.text, r.more
    ('ValueError: no table raw_user', ('Did you mean raw_users?',))
    """
    where = user_frame(exc)
    return Reason(
        explain(exc, redactor),
        redactor.redact_untrusted(where) if where else "",
        _more(_chain(exc), redactor),
    )


def explain(exc: BaseException, redactor: Redactor) -> str:
    """``exc`` and its explicit causes: ``A: what; caused by B: why; caused by C: ...``.

    Only ``raise ... from`` links are followed: an exception raised while another
    was being handled (an implicit ``__context__``) is often incidental (a lookup
    that missed), and the traceback of ``--debug`` still shows it. A cycle ends
    the chain.

        >>> try:
        ...     raise RuntimeError("could not start dbt") from FileNotFoundError("dbt")
        ... except RuntimeError as e:
        ...     explain(e, Redactor())
        'RuntimeError: could not start dbt; caused by FileNotFoundError: dbt'
    """
    chain = _chain(exc)
    links = [redactor.describe(exc)]
    links += [f"caused by {redactor.describe(link)}" for link in chain[1:]]
    if len(chain) == MAX_LINKS and chain[-1].__cause__ is not None:
        rest = _length(chain[-1].__cause__, {id(link) for link in chain})
        if rest:
            links.append(f"and {rest} more")
    return "; ".join(links)


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and its explicit causes, at most :data:`MAX_LINKS`, a cycle cut."""
    chain = [exc]
    seen = {id(exc)}
    current = exc.__cause__
    while current is not None and id(current) not in seen and len(chain) < MAX_LINKS:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__
    return chain


def _more(chain: list[BaseException], redactor: Redactor) -> tuple[str, ...]:
    """The lines after the first of each message in ``chain``, masked, at most 30.

    The one line says each link's first line; the lines that follow belong to the
    last link that has more. A cause whose lines come after an earlier link's is
    named again, so no line is read as another exception's.
    """
    lines: list[str] = []
    for i, link in enumerate(chain):
        try:
            text = redactor.redact_untrusted(str(link)).strip()
        except INTERRUPTS:
            raise
        except BaseException:  # an exception whose __str__ raises: its type is shown
            continue
        rest = [line.rstrip() for line in text.splitlines()[1:]]
        if not rest:
            continue
        if i and lines:
            lines.append(f"caused by {redactor.describe(link)}")
        lines += rest
    if len(lines) > MAX_MORE_LINES:
        cut = len(lines) - MAX_MORE_LINES
        lines = [*lines[:MAX_MORE_LINES], f"... ({cut} more lines)"]
    return tuple(lines)


def user_frame(exc: BaseException) -> str:
    """``pipeline.py:38``: the innermost line of the user's own code that ``exc`` passed.

    Frames of envres, the standard library and installed packages are skipped: the
    line to look at is the user's call into them. Without one in ``exc``'s traceback,
    its causes' are looked at; ``""`` when none has one. The file is shown as
    every message of envres shows one (relative to the working folder when inside it).
    """
    for link in _chain(exc):
        found = ""
        for frame, line in traceback.walk_tb(link.__traceback__):
            file = frame.f_code.co_filename
            if _is_users(file):
                found = f"{display(file)}:{line}"
        if found:
            return found
    return ""


@functools.lru_cache(maxsize=256)
def _is_users(file: str) -> bool:
    """Whether ``file`` is the user's code: not envres, the standard library or a package."""
    if file.startswith("<") or not file:
        return False
    path = Path(os.path.abspath(file))
    return not any(path.is_relative_to(root) for root in _library_roots())


@functools.lru_cache(maxsize=1)
def _library_roots() -> tuple[Path, ...]:
    """Where envres, the standard library and installed packages live (as written, resolved)."""
    import site  # only once something failed
    import sysconfig

    roots = {Path(__file__).parent}
    paths = sysconfig.get_paths()
    roots.update(
        Path(paths[k]) for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths
    )
    with contextlib.suppress(AttributeError):  # a virtualenv's old site.py lacks them
        roots.update(Path(p) for p in site.getsitepackages())
    roots |= {Path(os.path.realpath(root)) for root in roots}
    return tuple(roots)


def _length(exc: BaseException, seen: set[int]) -> int:
    """How many links remain from ``exc`` on (a cycle counted once)."""
    n = 0
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        n += 1
        current = current.__cause__
    return n
