"""Located YAML values: every scalar, list and mapping remembers where it was written."""

from __future__ import annotations

from envres._errors import Loc
from envres._record import Record

Scalar = str | int | float | bool | None
NodeValue = Scalar | dict[str, "Node"] | list["Node"]


class Node(Record):
    """A YAML value and where it was written.

    ``value`` is a scalar, a ``dict[str, Node]`` or a ``list[Node]``; treat the
    containers as immutable. ``loc`` is where the value starts; ``key_loc`` is
    where its mapping key starts (``None`` for list items and the document root).
    """

    __slots__ = ("value", "loc", "key_loc")
    value: NodeValue
    loc: Loc
    key_loc: Loc | None

    def __init__(self, value: NodeValue, loc: Loc, key_loc: Loc | None = None) -> None:
        # The YAML builder makes one per value: the slots are written directly.
        _set_value(self, value)
        _set_loc(self, loc)
        _set_key_loc(self, key_loc)

    def plain(self) -> object:
        """The value with every Node unwrapped: plain dicts, lists and scalars."""
        v = self.value
        if isinstance(v, dict):
            return {k: n.plain() for k, n in v.items()}
        if isinstance(v, list):
            return [n.plain() for n in v]
        return v


_set_value, _set_loc, _set_key_loc = Node._setters
