"""Located YAML values: every scalar, list and mapping remembers where it was written."""

from __future__ import annotations

from dataclasses import dataclass

from envres._errors import Loc

Scalar = str | int | float | bool | None
NodeValue = Scalar | dict[str, "Node"] | list["Node"]


@dataclass(frozen=True, slots=True)
class Node:
    """A YAML value and where it was written.

    ``value`` is a scalar, a ``dict[str, Node]`` or a ``list[Node]``; treat the
    containers as immutable. ``loc`` is where the value starts; ``key_loc`` is
    where its mapping key starts (``None`` for list items and the document root).
    """

    value: NodeValue
    loc: Loc
    key_loc: Loc | None = None

    def plain(self) -> object:
        """The value with every Node unwrapped: plain dicts, lists and scalars."""
        v = self.value
        if isinstance(v, dict):
            return {k: n.plain() for k, n in v.items()}
        if isinstance(v, list):
            return [n.plain() for n in v]
        return v
