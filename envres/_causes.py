"""Why something failed: an exception and the exceptions behind it, masked, on one line.

``raise RuntimeError("could not start dbt") from FileNotFoundError(...)`` says what
failed in its first link and why in the next; a message that keeps only the first
link loses the reason. :func:`explain` keeps every link, each as ``Type: first
line`` masked by the profile's :class:`~envres._secrets.Redactor`, so ``run``,
``check`` and what Dagster records all say the same thing, without a secret and
without handing anyone the exception objects themselves.
"""

from __future__ import annotations

from envres._secrets import Redactor

__all__ = ["MAX_LINKS", "explain"]

#: Links shown at most; a longer chain ends with how many were left out.
MAX_LINKS = 8


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
    links = [redactor.describe(exc)]
    seen = {id(exc)}
    current: BaseException = exc
    while current.__cause__ is not None:
        nxt = current.__cause__
        if id(nxt) in seen:
            break
        if len(links) == MAX_LINKS:
            rest = _length(nxt, seen)
            links.append(f"and {rest} more")
            break
        seen.add(id(nxt))
        links.append(f"caused by {redactor.describe(nxt)}")
        current = nxt
    return "; ".join(links)


def _length(exc: BaseException, seen: set[int]) -> int:
    """How many links remain from ``exc`` on (a cycle counted once)."""
    n = 0
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        n += 1
        current = current.__cause__
    return n
