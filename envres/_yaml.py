"""Safe, located YAML loading: one document of plain data, read with YAML 1.2 meaning.

:func:`load_yaml` turns the text of a profile into a tree of :class:`~envres._nodes.Node`
values that remember where they were written, and refuses anything that is not plain
data: Python or other application tags, duplicate keys, non-string keys, alias bombs,
recursive aliases, absurd nesting. Every failure is a :class:`~envres._errors.YamlError`
with a file, line and column.

How it works, and why this way: PyYAML's *event* stream (from libyaml when it is
available) is folded into ``Node`` trees by one iterative loop in this module. PyYAML's
own composer is not used because it resolves plain scalars with YAML 1.1 rules (``no``
is false, ``1:30`` is 5400), cannot tell ``! 123`` from ``123``, builds cyclic graphs
for recursive aliases, and recurses per nesting level: libyaml's composer overflows the
C stack (a segfault, not an exception) on a few hundred kilobytes of ``[``. The events
carry exactly what is needed: the tag as written (``None`` when there was none), the
scalar's style, anchors, aliases and marks. Folding them here is also faster: with
libyaml, a 10,000-resource profile loads about three times faster than with
``yaml.load(..., CSafeLoader)``, whose composer runs the Python resolver's regular
expressions on every scalar.
"""

from __future__ import annotations

import math
import re
from typing import Any, Final

import yaml
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from envres._codes import DUPLICATE_KEY
from envres._errors import Loc, YamlError
from envres._nodes import Node, NodeValue, Scalar

__all__ = ["load_yaml"]

# The parser class; tests switch it to the pure-Python one to check both behave alike.
_LOADER: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = (
    yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader
)

_UTF8_BOM: Final = b"\xef\xbb\xbf"

# --- YAML 1.2 core schema -------------------------------------------------------------

_CORE: Final = "tag:yaml.org,2002:"
_STR: Final = _CORE + "str"
_INT: Final = _CORE + "int"
_FLOAT: Final = _CORE + "float"
_BOOL: Final = _CORE + "bool"
_NULL: Final = _CORE + "null"
_MAP: Final = _CORE + "map"
_SEQ: Final = _CORE + "seq"
_NON_SPECIFIC: Final = "!"

# Plain scalars that are not strings, matched exactly (YAML 1.2 core schema).
_SPECIAL_PLAIN: Final[dict[str, Scalar]] = {
    "": None,
    "~": None,
    "null": None,
    "Null": None,
    "NULL": None,
    "true": True,
    "True": True,
    "TRUE": True,
    "false": False,
    "False": False,
    "FALSE": False,
    ".inf": math.inf,
    ".Inf": math.inf,
    ".INF": math.inf,
    "+.inf": math.inf,
    "+.Inf": math.inf,
    "+.INF": math.inf,
    "-.inf": -math.inf,
    "-.Inf": -math.inf,
    "-.INF": -math.inf,
    ".nan": math.nan,
    ".NaN": math.nan,
    ".NAN": math.nan,
}
_NULLS: Final = frozenset(k for k, v in _SPECIAL_PLAIN.items() if v is None)
_BOOLS: Final = {k: v for k, v in _SPECIAL_PLAIN.items() if isinstance(v, bool)}
_SPECIAL_FLOATS: Final = {k: v for k, v in _SPECIAL_PLAIN.items() if isinstance(v, float)}
# A plain scalar whose first character is not one of these is a string: the fast path
# for the common case (names, paths, ``${VAR}`` expressions).
_NON_STRING_FIRST: Final = frozenset("0123456789+-.~nNtTfF")
_NUMBER_FIRST: Final = frozenset("0123456789+-.")
_DEC_INT: Final = re.compile(r"[-+]?[0-9]+")
_OCT_INT: Final = re.compile(r"0o[0-7]+")
_HEX_INT: Final = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT_RE: Final = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")

# What YAML (and both PyYAML parsers) accept as characters; checked up front so the
# error is the same whichever parser runs.
_NOT_PRINTABLE: Final = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
# Line breaks as PyYAML and libyaml count them (YAML 1.1 also breaks on NEL, LS, PS).
_LINE_BREAK: Final = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def load_yaml(
    text: str | bytes,
    file: str,
    *,
    max_alias_nodes: int = 10_000,
    max_depth: int = 100,
) -> Node | None:
    """Load one YAML document of plain data, with the location of every value.

    ``file`` is the path shown in every :class:`Loc`. Bytes must be UTF-8 (a leading
    byte-order mark is dropped, as is a leading ``\\ufeff`` in a str).

    Returns ``None`` when there is no document (an empty file, only comments, a bare
    ``---``); otherwise the root :class:`Node`. Mappings become ``dict[str, Node]`` in
    written order, sequences ``list[Node]``, and scalars are read with the YAML 1.2 core
    schema: quoted and block scalars are strings; plain ``null``/``~``/empty are None;
    only ``true``/``false`` (three casings) are booleans; ``123``, ``012`` (12), ``0o17``,
    ``0x1F`` are ints; ``1.5``, ``1e3``, ``.inf``, ``.nan`` are floats; everything else
    (``no``, ``on``, ``1:30``, ``2024-01-01``, ``1_000``) is the string as written.

    The explicit tags ``!!str``, ``!!int``, ``!!float``, ``!!bool``, ``!!null``,
    ``!!map``, ``!!seq`` and ``!`` are applied; any other tag is an error. Merge keys
    (``<<: *anchor`` or ``<<: [*a, *b]``) are supported: keys written in the mapping win,
    then earlier merged mappings win over later ones; merged values keep the location
    where they were written. An alias's value also keeps the location of its anchor;
    its ``key_loc`` is the key written next to the alias.

    Every problem raises :class:`YamlError` (never another exception): a syntax error;
    more than one document; a duplicate key at any depth; a key that is not a string; an
    unsupported tag or a value its tag does not fit; an undefined, duplicate or recursive
    anchor; more than ``max_alias_nodes`` values produced by aliases (an alias bomb fails
    as soon as the count is passed); nesting deeper than ``max_depth`` collections,
    aliases included.
    """
    source, data = _decode(text, file)
    try:
        return _parse(_LOADER, source, data, file, max_alias_nodes, max_depth)
    except YamlError as e:
        if _LOADER is yaml.SafeLoader or not e.message.endswith(_LIBYAML_DEPTH):
            raise
    # libyaml (0.2.6 and later) has a nesting limit of its own that its scanner can hit
    # while reading ahead, before the events reach envres's lower limit. The pure
    # Python parser reads lazily, so it reports envres's own message at the same
    # place whichever libyaml is installed. Only such files take this slower path.
    return _parse(yaml.SafeLoader, source, b"", file, max_alias_nodes, max_depth)


# What libyaml says when its own depth limit is reached.
_LIBYAML_DEPTH: Final = "exceeded maximum nesting depth"


def _decode(text: str | bytes, file: str) -> tuple[str, bytes]:
    """The file's text without a byte-order mark, and its UTF-8 bytes when given bytes.

    Raises :class:`YamlError` at the first byte that is not UTF-8 or character YAML
    does not allow.
    """
    if isinstance(text, bytes):
        data = text[3:] if text.startswith(_UTF8_BOM) else text
        try:
            source = data.decode("utf-8")
        except UnicodeDecodeError as e:
            skipped = len(text) - len(data)
            before = data[: e.start].decode("utf-8")
            line, col = _line_col(before, len(before))
            raise YamlError(
                f"file is not valid UTF-8 (byte 0x{data[e.start]:02x} at offset "
                f"{e.start + skipped})",
                Loc(file, line, col),
            ) from None
    else:
        source = text[1:] if text.startswith("\ufeff") else text
        data = b""
    bad = _NOT_PRINTABLE.search(source)
    if bad is not None:
        line, col = _line_col(source, bad.start())
        raise YamlError(
            f"character U+{ord(bad.group()):04X} is not allowed in a YAML file",
            Loc(file, line, col),
        )
    return source, data


def _parse(
    loader_class: type[yaml.SafeLoader] | type[yaml.CSafeLoader],
    source: str,
    data: bytes,
    file: str,
    max_alias_nodes: int,
    max_depth: int,
) -> Node | None:
    loader: yaml.SafeLoader | yaml.CSafeLoader
    try:
        if loader_class is yaml.SafeLoader:
            loader = loader_class(source)
        else:
            # libyaml reads UTF-8 bytes; hand it the caller's bytes when there are any.
            loader = loader_class(data or source.encode("utf-8"))
        try:
            return _Builder(loader, file, max_alias_nodes, max_depth).build()
        finally:
            loader.dispose()
    except YamlError:
        raise
    except yaml.MarkedYAMLError as e:
        raise _syntax_error(e, source, file) from e
    except RecursionError as e:  # pragma: no cover - the loop is iterative; defence only
        raise YamlError(f"nesting deeper than {max_depth} levels", Loc(file, 1, 1)) from e
    except MemoryError:  # pragma: no cover - not a property of the file's syntax
        raise
    except Exception as e:  # pragma: no cover - PyYAML errors without marks and the like
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise YamlError(f"YAML error: {first}", Loc(file, 1, 1)) from e


# --- folding events into Nodes --------------------------------------------------------


class _Frame:
    """An open mapping or sequence while its events are being read."""

    __slots__ = (
        "anchor",
        "height",
        "is_map",
        "items",
        "key",
        "key_loc",
        "loc",
        "merge_key_loc",
        "merge_pos",
        "merges",
        "merging",
        "own_key_loc",
        "start_count",
    )

    def __init__(
        self,
        is_map: bool,
        loc: Loc,
        own_key_loc: Loc | None,
        anchor: str | None,
        start_count: int,
    ) -> None:
        self.is_map = is_map
        self.items: dict[str, Node] | list[Node] = {} if is_map else []
        self.loc = loc
        self.own_key_loc = own_key_loc  # the key this collection is the value of
        self.anchor = anchor
        self.start_count = start_count
        self.height = 0  # collection levels below this one (for aliases' depth)
        self.key: str | None = None  # mapping: the key whose value comes next
        self.key_loc: Loc | None = None
        self.merge_key_loc: Loc | None = None  # mapping: where ``<<`` was written
        self.merge_pos = 0  # mapping: how many explicit keys came before ``<<``
        self.merges: list[dict[str, Node]] | None = None
        self.merging = False  # mapping: the next value is the one of ``<<``


class _Anchor:
    """A finished anchored value: the node, its expanded size and its height."""

    __slots__ = ("height", "node", "size")

    def __init__(self, node: Node, size: int, height: int) -> None:
        self.node = node
        self.size = size
        self.height = height


class _Builder:
    """Reads one document's events and builds its Node tree (see :func:`load_yaml`)."""

    def __init__(
        self,
        loader: yaml.SafeLoader | yaml.CSafeLoader,
        file: str,
        max_alias_nodes: int,
        max_depth: int,
    ) -> None:
        self.loader = loader
        self.file = file
        self.max_alias_nodes = max_alias_nodes
        self.max_depth = max_depth
        self.anchors: dict[str, _Anchor] = {}
        self.open_anchors: dict[str, Loc] = {}  # anchors of collections still open
        self.count = 0  # values produced so far, aliases counted expanded
        self.alias_count = 0  # of which produced through aliases

    def loc(self, mark: Any) -> Loc:
        return Loc(self.file, mark.line + 1, mark.column + 1)

    def error(self, message: str, mark: Any) -> YamlError:
        return YamlError(message, self.loc(mark))

    def build(self) -> Node | None:
        get_event = self.loader.get_event
        get_event()  # StreamStartEvent
        event = get_event()
        if isinstance(event, StreamEndEvent):
            return None
        root = self._document()
        get_event()  # DocumentEndEvent
        event = get_event()
        if isinstance(event, DocumentStartEvent):
            raise self.error(
                "a profile holds one YAML document; found a second one", event.start_mark
            )
        return root

    def _document(self) -> Node | None:
        """Fold the events of the document's root value: the hot loop of the module."""
        get_event = self.loader.get_event
        file = self.file
        resolve = _resolve_plain
        non_string_first = _NON_STRING_FIRST
        # A list frame that receives the root value keeps ``top`` from ever being None.
        outer = top = _Frame(False, Loc(file, 1, 1), None, None, 0)
        stack = [outer]
        in_map = False  # top is a mapping
        event: Any
        node: Node
        while True:
            event = get_event()
            cls = event.__class__
            height = 0  # collection levels in the finished value
            if cls is ScalarEvent:
                text: str = event.value
                tag: str | None = event.tag
                if tag is not None:
                    value: Scalar = _tagged_scalar(tag, text, event, self)
                elif not event.implicit[0] or (text and text[0] not in non_string_first):
                    value = text  # quoted, block, or plain text no other type begins with
                else:
                    value = resolve(text, event, self)
                loc = Loc(file, event.start_mark.line + 1, event.start_mark.column + 1)
                if in_map and top.key is None:
                    # The common key first: a new string, no anchor, not a merge.
                    key = value if type(value) is str and value != "<<" else None
                    if key is not None and key not in top.items and event.anchor is None:
                        top.key = key
                        top.key_loc = loc
                        continue
                    self._scalar_key(top, value, event, loc)
                    continue
                node = Node(value, loc, top.key_loc if in_map else None)
                self.count += 1
                if event.anchor is not None:
                    self._add_anchor(event.anchor, node, 1, 0)
            elif cls is MappingStartEvent or cls is SequenceStartEvent:
                top = self._open(event, cls is MappingStartEvent, top, in_map, len(stack))
                stack.append(top)
                in_map = top.is_map
                continue
            elif cls is MappingEndEvent or cls is SequenceEndEvent:
                node, height = self._close(stack.pop())
                top = stack[-1]
                in_map = top.is_map
            elif cls is AliasEvent:
                aliased = self._aliased(event, top, in_map, len(stack) - 1)
                if aliased is None:
                    continue
                node, height = aliased
            else:  # pragma: no cover - the parser emits nothing else inside a document
                raise self.error(f"unexpected YAML event {cls.__name__}", event.start_mark)

            if top is outer:
                return None if cls is ScalarEvent and _empty_scalar(event) else node
            self._place(top, node, height, event if cls is AliasEvent else None)

    def _place(self, top: _Frame, node: Node, height: int, alias: AliasEvent | None) -> None:
        """Put a finished value (of ``height`` levels) in its parent: an item, a value, a merge."""
        if height > top.height:  # noqa: PLR1730 - a call to max() costs more here
            top.height = height
        if not top.is_map:
            top.items.append(node)  # type: ignore[union-attr]
        elif top.merging:
            self._merge_value(top, node, self.loc(alias.start_mark) if alias else node.loc)
        else:
            top.items[top.key] = node  # type: ignore[call-overload,index]
            top.key = None

    def _aliased(
        self, event: AliasEvent, top: _Frame, in_map: bool, depth: int
    ) -> tuple[Node, int] | None:
        """An alias's value, under the key written next to it, and its height.

        ``None`` when the alias is itself a mapping key (taken here).
        """
        node, height = self._alias(event, depth)
        if in_map and top.key is None:
            self._key(top, node.value, None, self.loc(event.start_mark))
            return None
        key_loc = top.key_loc if in_map else None
        if node.key_loc != key_loc:
            node = Node(node.value, node.loc, key_loc)
        return node, height

    def _scalar_key(self, top: _Frame, value: Scalar, event: ScalarEvent, loc: Loc) -> None:
        """Take a mapping key that is not the common case: anchored, ``<<``, or not new."""
        if event.anchor is not None:
            self._add_anchor(event.anchor, Node(value, loc), 1, 0)
        if event.value == "<<" and event.tag is None and event.implicit[0]:
            self._merge_key(top, loc)
        else:
            # A tagged key is shown by type only: quoting would not help it.
            self._key(top, value, event.value if event.tag is None else None, loc)

    def _open(self, event: Any, is_map: bool, top: _Frame, in_map: bool, depth: int) -> _Frame:
        """The frame of a mapping or list starting inside ``top``, ``depth`` frames deep."""
        if in_map and top.key is None:
            kind = "a mapping" if is_map else "a list"
            raise self.error(f"mapping keys must be strings; got {kind}", event.start_mark)
        if depth > self.max_depth:
            raise self.error(f"nesting deeper than {self.max_depth} levels", event.start_mark)
        if event.tag is not None:
            _check_collection_tag(event.tag, is_map, event, self)
        loc = self.loc(event.start_mark)
        anchor: str | None = event.anchor
        if anchor is not None:
            self._check_new_anchor(anchor, loc)
            self.open_anchors[anchor] = loc
        frame = _Frame(is_map, loc, top.key_loc if in_map else None, anchor, self.count)
        self.count += 1
        return frame

    def _close(self, frame: _Frame) -> tuple[Node, int]:
        """The node of a finished mapping or list, and its height; anchored if it has one."""
        items = frame.items if frame.merges is None else _apply_merges(frame)
        node = Node(items, frame.loc, frame.own_key_loc)
        height = frame.height + 1
        if frame.anchor is not None:
            del self.open_anchors[frame.anchor]
            self._add_anchor(frame.anchor, node, self.count - frame.start_count, height)
        return node, height

    # -- mapping keys --

    def _key(self, frame: _Frame, value: NodeValue, text: str | None, loc: Loc) -> None:
        if type(value) is not str:
            raise YamlError(_bad_key_message(value, text), loc)
        items: dict[str, Node] = frame.items  # type: ignore[assignment]
        first = items.get(value)
        if first is not None:
            line = first.key_loc.line if first.key_loc is not None else first.loc.line
            raise YamlError(
                f"duplicate key {value!r} (first written at line {line})", loc, DUPLICATE_KEY
            )
        frame.key = value
        frame.key_loc = loc

    def _merge_key(self, frame: _Frame, loc: Loc) -> None:
        if frame.merge_key_loc is not None:
            raise YamlError(
                f"duplicate key '<<' (first written at line {frame.merge_key_loc.line})",
                loc,
                DUPLICATE_KEY,
            )
        frame.merge_key_loc = loc
        frame.merge_pos = len(frame.items)
        frame.merging = True
        frame.key = "<<"
        frame.key_loc = loc

    def _merge_value(self, frame: _Frame, node: Node, where: Loc) -> None:
        value = node.value
        if isinstance(value, dict):
            merges = [value]
        elif isinstance(value, list):
            merges = []
            for item in value:
                if not isinstance(item.value, dict):
                    raise YamlError(
                        "merge key '<<' takes a mapping or a list of mappings; "
                        f"got a list holding {_kind(item.value)}",
                        where,
                    )
                merges.append(item.value)
        else:
            raise YamlError(
                f"merge key '<<' takes a mapping or a list of mappings; got {_kind(value)}",
                where,
            )
        frame.merges = merges
        frame.merging = False
        frame.key = None

    # -- anchors and aliases --

    def _add_anchor(self, name: str, node: Node, size: int, height: int) -> None:
        self._check_new_anchor(name, node.loc)
        self.anchors[name] = _Anchor(node, size, height)

    def _check_new_anchor(self, name: str, loc: Loc) -> None:
        first = self.anchors.get(name)
        first_loc = first.node.loc if first is not None else self.open_anchors.get(name)
        if first_loc is not None:
            # YAML 1.2 lets a later anchor shadow an earlier one; in a profile that is
            # most likely a copy-paste slip, and it silently changes what aliases mean.
            raise YamlError(
                f"duplicate anchor '&{name}' (first written at line {first_loc.line})", loc
            )

    def _alias(self, event: AliasEvent, depth: int) -> tuple[Node, int]:
        name = event.anchor or ""
        anchor = self.anchors.get(name)
        if anchor is None:
            if name in self.open_anchors:
                raise self.error(
                    f"alias '*{name}' is inside the value it refers to (a recursive alias)",
                    event.start_mark,
                )
            raise self.error(
                f"alias '*{name}' refers to no anchor; write '&{name}' on a value before it",
                event.start_mark,
            )
        # Counted before anything is built, and aliased values are shared rather than
        # copied, so an alias bomb fails at the first alias that passes the limit.
        self.alias_count += anchor.size
        if self.alias_count > self.max_alias_nodes:
            raise self.error(
                f"too many alias expansions (more than {self.max_alias_nodes} nodes); "
                "the file looks like an alias bomb",
                event.start_mark,
            )
        if depth + anchor.height > self.max_depth:
            raise self.error(f"nesting deeper than {self.max_depth} levels", event.start_mark)
        self.count += anchor.size
        return anchor.node, anchor.height


def _apply_merges(frame: _Frame) -> dict[str, Node]:
    """The mapping's keys with ``<<`` replaced by the merged keys, in written order."""
    explicit: dict[str, Node] = frame.items  # type: ignore[assignment]
    merged: dict[str, Node] = {}
    for source in frame.merges or ():
        for key, node in source.items():
            if key not in explicit and key not in merged:
                merged[key] = node
    entries = list(explicit.items())
    result = dict(entries[: frame.merge_pos])
    result.update(merged)
    result.update(entries[frame.merge_pos :])
    return result


# --- scalars --------------------------------------------------------------------------


def _resolve_plain(text: str, event: ScalarEvent, builder: _Builder) -> Scalar:
    """The YAML 1.2 core-schema value of an untagged plain scalar."""
    if text in _SPECIAL_PLAIN:
        return _SPECIAL_PLAIN[text]
    if text[0] not in _NUMBER_FIRST:
        return text
    number = _int(text, event, builder)
    if number is not None:
        return number
    if _FLOAT_RE.fullmatch(text):
        return float(text)
    return text


def _int(text: str, event: ScalarEvent, builder: _Builder) -> int | None:
    """``text`` as a core-schema int (``12``, ``-3``, ``012``, ``0o17``, ``0x1F``), or None."""
    if _DEC_INT.fullmatch(text):
        try:
            return int(text)
        except ValueError:  # more digits than Python's int-from-string limit (4300)
            raise builder.error(
                f"integer with {len(text)} digits is too long to read", event.start_mark
            ) from None
    if _OCT_INT.fullmatch(text):
        return int(text[2:], 8)
    if _HEX_INT.fullmatch(text):
        return int(text[2:], 16)
    return None


def _tagged_scalar(tag: str, text: str, event: ScalarEvent, builder: _Builder) -> Scalar:
    """A scalar with an explicit tag: the tag decides the type, or the file is refused."""
    if tag in (_STR, _NON_SPECIFIC):
        return text
    if tag == _INT:
        number = _int(text, event, builder)
        if number is not None:
            return number
    elif tag == _FLOAT:
        if text in _SPECIAL_FLOATS:
            return _SPECIAL_FLOATS[text]
        if _FLOAT_RE.fullmatch(text):
            return float(text)
    elif tag == _BOOL:
        if text in _BOOLS:
            return _BOOLS[text]
    elif tag == _NULL:
        if text in _NULLS:
            return None
    elif tag in (_MAP, _SEQ):
        raise builder.error(f"tag '{_show_tag(tag)}' does not fit a scalar", event.start_mark)
    else:
        raise builder.error(_unsupported_tag(tag), event.start_mark)
    # The value itself stays out of the message: it may be a secret.
    raise builder.error(f"the value is not a valid {_show_tag(tag)}", event.start_mark)


def _check_collection_tag(tag: str, is_map: bool, event: Any, builder: _Builder) -> None:
    if tag in (_NON_SPECIFIC, _MAP if is_map else _SEQ):
        return
    if tag in (_STR, _INT, _FLOAT, _BOOL, _NULL, _MAP, _SEQ):
        kind = "a mapping" if is_map else "a list"
        raise builder.error(f"tag '{_show_tag(tag)}' does not fit {kind}", event.start_mark)
    raise builder.error(_unsupported_tag(tag), event.start_mark)


def _unsupported_tag(tag: str) -> str:
    return f"unsupported tag '{_show_tag(tag)}'; profiles hold plain data only"


def _show_tag(tag: str) -> str:
    """The tag as it is usually written: ``!!int`` rather than ``tag:yaml.org,2002:int``."""
    return "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag


def _empty_scalar(event: ScalarEvent) -> bool:
    """True for the implicit empty value of a document with no content (``---`` alone)."""
    return event.value == "" and event.tag is None and event.anchor is None and event.implicit[0]


def _kind(value: NodeValue) -> str:
    """What a value is, for messages; never the value itself (it may be a secret)."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    return "a string"


def _bad_key_message(value: NodeValue, text: str | None) -> str:
    """Keys are not secret, so the message shows the key as written and how to fix it."""
    if text is None or isinstance(value, dict | list):  # an alias, a tag or a collection
        return f"mapping keys must be strings; got {_kind(value)}"
    if text == "":
        return "mapping keys must be strings; got an empty key (null)"
    kind = "null" if value is None else type(value).__name__
    return f'mapping keys must be strings; got {kind} {text} (quote it: "{text}")'


# --- errors ---------------------------------------------------------------------------


def _line_col(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of ``text[index]``, counting breaks as YAML parsers do."""
    line = 1
    line_start = 0
    for match in _LINE_BREAK.finditer(text, 0, index):
        line += 1
        line_start = match.end()
    return line, index - line_start + 1


def _char_at(text: str, line: int, column: int) -> str | None:
    """The character at a 0-based parser mark, or None past the end."""
    lines = _LINE_BREAK.split(text)
    if line < len(lines) and column < len(lines[line]):
        return lines[line][column]
    return None


def _missing_colon(lines: list[str], line: int) -> int | None:
    """The line above ``line`` (0-based) that reads as a key without its ``:``, if any.

    PyYAML reads ``api`` followed by an indented ``type: x`` as one plain scalar
    ``api type`` and only fails at the second line's colon; the mistake is above.
    """
    for above in range(min(line, len(lines)) - 1, -1, -1):
        text = lines[above].strip()
        if not text or text.startswith("#"):
            continue
        if ":" in text or text.startswith(("-", "[", "{", "'", '"', "&", "*", "!", "|", ">")):
            return None
        return above
    return None


def _syntax_error(e: yaml.MarkedYAMLError, source: str, file: str) -> YamlError:
    """One line from a PyYAML scanner, parser or composer error."""
    mark = e.problem_mark or e.context_mark
    problem = (e.problem or e.context or "invalid YAML").replace("\n", " ")
    if problem == "found character that cannot start any token" and mark is not None:
        # libyaml does not name the character; PyYAML does. Say it either way: most
        # often it is a tab used for indentation.
        ch = _char_at(source, mark.line, mark.column)
        if ch is not None:
            problem = f"found character {ch!r} that cannot start any token"
    if problem == "found character '\\t' that cannot start any token":
        problem += " (indent with spaces: YAML does not allow tabs)"
    lines = _LINE_BREAK.split(source)
    missing: int | None = None  # the 0-based line of a key written without its colon
    if problem == "could not find expected ':'" and e.context_mark is not None:
        # The next line was read as the key's continuation: PyYAML names the line
        # after; the context mark is the key itself.
        above = e.context_mark.line
        if above < len(lines) and lines[above].strip() and ":" not in lines[above]:
            missing = above
    elif problem.startswith("mapping values are not allowed") and mark is not None:
        missing = _missing_colon(lines, mark.line)
    if missing is not None:
        # The line itself is not quoted: a key typed without its colon may be followed
        # by its value, and that may be a secret.
        return YamlError(
            "YAML syntax error: ':' expected at the end of this key (a key needs a colon)",
            Loc(file, missing + 1, len(lines[missing].rstrip()) + 1),
        )
    message = f"YAML syntax error: {problem}"
    ctx = e.context_mark
    if (
        e.context
        and e.problem
        and ctx is not None
        and (mark is None or (ctx.line, ctx.column) != (mark.line, mark.column))
    ):
        context = e.context.replace("\n", " ")
        message += f" ({context} at line {ctx.line + 1}, column {ctx.column + 1})"
    if mark is None:
        return YamlError(message, Loc(file, 1, 1))
    return YamlError(message, Loc(file, mark.line + 1, mark.column + 1))
