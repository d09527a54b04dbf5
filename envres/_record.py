"""Small immutable value classes, without the import-time cost of dataclasses.

On Python 3.11, ``@dataclass(frozen=True, slots=True)`` compiles six generated
methods with ``exec`` when its module is imported: about 0.45 ms a class, 12 ms for
the 25 classes a validation imports, which is a twentieth of a whole
1,000-resource ``envres validate``. A :class:`Record` subclass gets the same
behaviour from plain methods, written once here:

- fields are the names in ``__slots__`` (a base's first), annotated in the class
  body for the type checker; the subclass writes ``__init__`` and stores its
  values with :meth:`Record._set` (or, on a hot path, the slot setters directly);
- assigning or deleting a field afterwards raises
  :class:`dataclasses.FrozenInstanceError`, as a frozen dataclass does;
- ``==`` compares the class and every field, ``hash`` hashes them, ``repr`` shows
  ``Name(field=value, ...)``; :meth:`Record.replace` is ``dataclasses.replace``;
- pickling (Dask sends resolved profiles to its workers) calls ``__init__`` with
  the fields in order, so ``__init__`` takes them in ``__slots__`` order.

::

    class Ref(Record):
        __slots__ = ("key", "loc")
        key: str
        loc: Loc

        def __init__(self, key: str, loc: Loc) -> None:
            self._set(key, loc)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import FrozenInstanceError
from typing import Any, ClassVar, Self

__all__ = ["Record"]


class Record:
    """Base of the immutable value classes (see the module docstring)."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()
    _setters: ClassVar[tuple[Callable[[Any, Any], None], ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields: list[str] = []
        for klass in reversed(cls.__mro__):
            slots = klass.__dict__.get("__slots__", ())
            fields.extend((slots,) if isinstance(slots, str) else slots)
        cls._fields = tuple(fields)
        # The slots' own descriptors write past __setattr__, which refuses.
        cls._setters = tuple(getattr(cls, name).__set__ for name in fields)

    def _set(self, *values: Any) -> None:
        """Store the fields' values, in ``__slots__`` order (from ``__init__`` only)."""
        for setter, value in zip(self._setters, values, strict=True):
            setter(self, value)

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed (``dataclasses.replace``)."""
        values = {name: getattr(self, name) for name in self._fields}
        values.update(changes)
        return type(self)(**values)

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field '{name}'")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field '{name}'")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Record) or other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((self.__class__, self._values()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__qualname__}({fields})"

    def __reduce__(self) -> tuple[type[Self], tuple[Any, ...]]:
        return (type(self), self._values())
