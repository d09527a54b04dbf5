"""Tests for envres._yaml.load_yaml: safe, located, YAML 1.2 loading of one document.

Most tests run twice, once with libyaml (the C parser) and once with PyYAML's pure
Python parser, through the ``backend`` fixture: the two must agree on values, locations
and envres's own messages. Syntax-error wording comes from the parser, so those tests
name the backend they expect.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from envres import _yaml
from envres._errors import Loc, YamlError
from envres._nodes import Node
from envres._yaml import load_yaml

BACKENDS = {"libyaml": getattr(yaml, "CSafeLoader", None), "python": yaml.SafeLoader}
HAS_LIBYAML = yaml.__with_libyaml__


@contextmanager
def using(loader: type) -> Iterator[None]:
    old = _yaml._LOADER
    _yaml._LOADER = loader
    try:
        yield
    finally:
        _yaml._LOADER = old


@pytest.fixture(params=["libyaml", "python"])
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "libyaml" and not HAS_LIBYAML:
        pytest.skip("PyYAML was built without libyaml")
    with using(BACKENDS[request.param]):  # type: ignore[arg-type]
        yield request.param


def load(text: str | bytes, **kwargs: int) -> Node | None:
    return load_yaml(text, "p.yaml", **kwargs)


def value_of(text: str) -> object:
    """The plain value of ``text``'s root."""
    node = load(text)
    assert node is not None
    return node.plain()


def error_of(text: str | bytes, **kwargs: int) -> tuple[str, int, int]:
    """The message, line and column of the YamlError that loading ``text`` raises."""
    with pytest.raises(YamlError) as info:
        load(text, **kwargs)
    err = info.value
    assert err.loc.file == "p.yaml"
    assert str(err) == f"p.yaml:{err.loc.line}:{err.loc.col}: {err.message}"
    return err.message, err.loc.line, err.loc.col


def locs(node: Node, path: str = "$") -> list[tuple[str, tuple[int, int], tuple[int, int] | None]]:
    """Every value's path, (line, col) and key (line, col), in document order."""
    key = (node.key_loc.line, node.key_loc.col) if node.key_loc is not None else None
    out = [(path, (node.loc.line, node.loc.col), key)]
    if isinstance(node.value, dict):
        for k, child in node.value.items():
            out += locs(child, f"{path}.{k}")
    elif isinstance(node.value, list):
        for i, child in enumerate(node.value):
            out += locs(child, f"{path}[{i}]")
    return out


def same(got: object, want: object) -> bool:
    """Equal and of the same type (so True is not 1 and 1.0 is not 1); nan equals nan."""
    if isinstance(want, float) and math.isnan(want):
        return isinstance(got, float) and math.isnan(got)
    return type(got) is type(want) and got == want


# --- scalars: the YAML 1.2 core schema ---------------------------------------------

PLAIN_SCALARS = [
    # YAML 1.1 booleans are strings in 1.2
    ("no", "no"),
    ("No", "No"),
    ("yes", "yes"),
    ("on", "on"),
    ("off", "off"),
    ("y", "y"),
    ("n", "n"),
    ("tRUE", "tRUE"),
    # booleans: exactly three spellings each
    ("true", True),
    ("True", True),
    ("TRUE", True),
    ("false", False),
    ("False", False),
    ("FALSE", False),
    # null
    ("~", None),
    ("null", None),
    ("Null", None),
    ("NULL", None),
    ("", None),
    ("nULL", "nULL"),
    ("nulls", "nulls"),
    # ints
    ("0", 0),
    ("12", 12),
    ("-7", -7),
    ("+12", 12),
    ("012", 12),
    ("0o17", 15),
    ("0x1F", 31),
    ("0x1f", 31),
    ("123456789012345678901234567890", 123456789012345678901234567890),
    # not ints in 1.2
    ("1:30", "1:30"),
    ("12:30:00", "12:30:00"),
    ("0b101", "0b101"),
    ("1_000", "1_000"),
    ("0o8", "0o8"),
    ("0x", "0x"),
    ("-0x1F", "-0x1F"),
    ("0X1F", "0X1F"),
    # floats
    ("1.5", 1.5),
    ("-1.5e-3", -0.0015),
    ("1e3", 1000.0),
    ("1E3", 1000.0),
    (".5", 0.5),
    ("1.", 1.0),
    ("+.5", 0.5),
    (".inf", math.inf),
    (".Inf", math.inf),
    ("+.INF", math.inf),
    ("-.inf", -math.inf),
    (".nan", math.nan),
    (".NaN", math.nan),
    (".NAN", math.nan),
    # not floats in 1.2
    ("1e", "1e"),
    ("1.2.3", "1.2.3"),
    (".", "."),
    ("-.nan", "-.nan"),
    (".infinity", ".infinity"),
    ("1,000", "1,000"),
    # everything else is the string as written
    ("2024-01-01", "2024-01-01"),
    ("2024-01-01T10:00:00Z", "2024-01-01T10:00:00Z"),
    ("~x", "~x"),
    ("+", "+"),
    ("duckdb", "duckdb"),
    ("data/dev.duckdb", "data/dev.duckdb"),
    ("${PG_POOL:-10}", "${PG_POOL:-10}"),
    ("v1.2", "v1.2"),
    ("<<x", "<<x"),
]


@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize(("written", "expected"), PLAIN_SCALARS)
def test_plain_scalar_is_read_with_yaml_1_2_core_schema(written: str, expected: object) -> None:
    got = value_of(f"key: {written}\n")
    assert isinstance(got, dict)
    assert same(got["key"], expected), (written, got["key"])


@pytest.mark.usefixtures("backend")
def test_integer_longer_than_python_reads_is_an_error() -> None:
    assert error_of("n: " + "1" * 5000) == (
        "integer with 5000 digits is too long to read",
        1,
        4,
    )


QUOTED_AND_BLOCK = [
    ('"1"', "1"),
    ("'1'", "1"),
    ('"true"', "true"),
    ("'no'", "no"),
    ('"~"', "~"),
    ('""', ""),
    ("''", ""),
    ('"0x1F"', "0x1F"),
    ('"1e3"', "1e3"),
    ("'.inf'", ".inf"),
    ("'it''s'", "it's"),
    ('"tab\\there"', "tab\there"),
    ("|\n  123\n", "123\n"),
    ("|-\n  true\n", "true"),
    (">\n  1\n  2\n", "1 2\n"),
    (">-\n  null\n", "null"),
]


@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize(("written", "expected"), QUOTED_AND_BLOCK)
def test_quoted_and_block_scalars_are_always_strings(written: str, expected: str) -> None:
    got = value_of(f"key: {written}")
    assert isinstance(got, dict)
    assert same(got["key"], expected)


# --- explicit tags -------------------------------------------------------------------

ALLOWED_TAGS = [
    ("!!str 123", "123"),
    ("!!str true", "true"),
    ("!!str ~", "~"),
    ("!!str", ""),
    ('!!int "5"', 5),
    ("!!int 0x1F", 31),
    ("!!int '0o17'", 15),
    ("!!int -3", -3),
    ("!!float 1", 1.0),
    ('!!float "2.5"', 2.5),
    ("!!float .inf", math.inf),
    ("!!float -.Inf", -math.inf),
    ("!!bool 'true'", True),
    ("!!bool FALSE", False),
    ('!!null ""', None),
    ("!!null ~", None),
    ("!!null", None),
    ("! 12", "12"),
    ("! true", "true"),
    ("! ~", "~"),
    ("!<tag:yaml.org,2002:str> 5", "5"),
    ("!!map {a: 1}", {"a": 1}),
    ("!!seq [1, x]", [1, "x"]),
    ("! {a: 1}", {"a": 1}),
    ("! [1]", [1]),
]


@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize(("written", "expected"), ALLOWED_TAGS)
def test_allowed_explicit_tag_decides_the_type(written: str, expected: object) -> None:
    got = value_of(f"key: {written}\n")
    assert isinstance(got, dict)
    assert same(got["key"], expected), (written, got["key"])


TAG_MISFITS = [
    ('!!int "x"', "the value is not a valid !!int"),
    ("!!int 1.5", "the value is not a valid !!int"),
    ("!!int 1_000", "the value is not a valid !!int"),
    ("!!float abc", "the value is not a valid !!float"),
    ("!!float 0x1F", "the value is not a valid !!float"),
    ("!!bool yes", "the value is not a valid !!bool"),
    ("!!bool 1", "the value is not a valid !!bool"),
    ("!!null 0", "the value is not a valid !!null"),
    ("!!map 1", "tag '!!map' does not fit a scalar"),
    ("!!seq x", "tag '!!seq' does not fit a scalar"),
    ("!!seq {a: 1}", "tag '!!seq' does not fit a mapping"),
    ("!!map [1]", "tag '!!map' does not fit a list"),
    ("!!str [1]", "tag '!!str' does not fit a list"),
    ("!!int {a: 1}", "tag '!!int' does not fit a mapping"),
]


@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize(("written", "message"), TAG_MISFITS)
def test_explicit_tag_that_does_not_fit_the_value_is_an_error(written: str, message: str) -> None:
    assert error_of(f"ok: 1\nkey: {written}\n") == (message, 2, 6)


FORBIDDEN_TAGS = [
    ('!!python/object/apply:os.system ["ls"]', "!!python/object/apply:os.system"),
    ("!!python/object:os.Foo {a: 1}", "!!python/object:os.Foo"),
    ("!!python/object/new:os.Foo [1]", "!!python/object/new:os.Foo"),
    ('!!python/name:os.system ""', "!!python/name:os.system"),
    ('!!python/module:os ""', "!!python/module:os"),
    ("!!python/tuple [1, 2]", "!!python/tuple"),
    ("!!python/str x", "!!python/str"),
    ("!!binary aGVsbG8=", "!!binary"),
    ("!!timestamp 2024-01-01", "!!timestamp"),
    ("!!set {a, b}", "!!set"),
    ("!!omap [a: 1]", "!!omap"),
    ("!!pairs [a: 1]", "!!pairs"),
    ("!!merge x", "!!merge"),
    ("!custom x", "!custom"),
    ("!custom [1]", "!custom"),
    ("!custom {a: 1}", "!custom"),
    ("!<tag:example.com,2000:thing> x", "tag:example.com,2000:thing"),
]


@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize(("written", "shown"), FORBIDDEN_TAGS)
def test_any_other_tag_is_refused_where_it_is_written(written: str, shown: str) -> None:
    assert error_of(f"ok: 1\nkey: {written}\n") == (
        f"unsupported tag '{shown}'; profiles hold plain data only",
        2,
        6,
    )


@pytest.mark.usefixtures("backend")
def test_tag_handle_declared_with_a_directive_is_refused_by_its_full_name() -> None:
    text = "%TAG !e! tag:example.com,2000:\n---\nkey: !e!thing x\n"
    assert error_of(text) == (
        "unsupported tag 'tag:example.com,2000:thing'; profiles hold plain data only",
        3,
        6,
    )


@pytest.mark.usefixtures("backend")
def test_forbidden_tag_in_a_mapping_key_is_refused() -> None:
    assert error_of("? !!python/name:os.system ''\n: 1\n") == (
        "unsupported tag '!!python/name:os.system'; profiles hold plain data only",
        1,
        3,
    )


# --- locations ---------------------------------------------------------------------

LOCATED = """\
# profiles/base.yaml
resources:
  warehouse:
    type: duckdb
    config:
      path: ${WAREHOUSE_PATH:-data/dev.duckdb}
      tags: [a, "b"]
      opts: {x: 1, y: {z: true}}
  notifier:
    - one
    - k: v
      empty:
"""


@pytest.mark.usefixtures("backend")
def test_every_value_and_key_has_its_line_and_column() -> None:
    node = load(LOCATED)
    assert node is not None
    assert locs(node) == [
        ("$", (2, 1), None),
        ("$.resources", (3, 3), (2, 1)),
        ("$.resources.warehouse", (4, 5), (3, 3)),
        ("$.resources.warehouse.type", (4, 11), (4, 5)),
        ("$.resources.warehouse.config", (6, 7), (5, 5)),
        ("$.resources.warehouse.config.path", (6, 13), (6, 7)),
        ("$.resources.warehouse.config.tags", (7, 13), (7, 7)),
        ("$.resources.warehouse.config.tags[0]", (7, 14), None),
        ("$.resources.warehouse.config.tags[1]", (7, 17), None),
        ("$.resources.warehouse.config.opts", (8, 13), (8, 7)),
        ("$.resources.warehouse.config.opts.x", (8, 17), (8, 14)),
        ("$.resources.warehouse.config.opts.y", (8, 23), (8, 20)),
        ("$.resources.warehouse.config.opts.y.z", (8, 27), (8, 24)),
        ("$.resources.notifier", (10, 5), (9, 3)),
        ("$.resources.notifier[0]", (10, 7), None),
        ("$.resources.notifier[1]", (11, 7), None),
        ("$.resources.notifier[1].k", (11, 10), (11, 7)),
        ("$.resources.notifier[1].empty", (12, 13), (12, 7)),
    ]
    assert node.plain() == {
        "resources": {
            "warehouse": {
                "type": "duckdb",
                "config": {
                    "path": "${WAREHOUSE_PATH:-data/dev.duckdb}",
                    "tags": ["a", "b"],
                    "opts": {"x": 1, "y": {"z": True}},
                },
            },
            "notifier": ["one", {"k": "v", "empty": None}],
        }
    }


@pytest.mark.usefixtures("backend")
def test_loc_carries_the_display_path_given() -> None:
    node = load_yaml("a: 1\n", "profiles/prod.yaml")
    assert node == Node(
        {"a": Node(1, Loc("profiles/prod.yaml", 1, 4), Loc("profiles/prod.yaml", 1, 1))},
        Loc("profiles/prod.yaml", 1, 1),
    )


@pytest.mark.usefixtures("backend")
def test_windows_line_endings_count_one_line_each() -> None:
    node = load("a: 1\r\nb:\r\n  c: x\r\n")
    assert node is not None
    assert locs(node) == [
        ("$", (1, 1), None),
        ("$.a", (1, 4), (1, 1)),
        ("$.b", (3, 3), (2, 1)),
        ("$.b.c", (3, 6), (3, 3)),
    ]


@pytest.mark.usefixtures("backend")
def test_columns_count_characters_not_bytes() -> None:
    node = load("é: [ü, x]\n".encode())
    assert node is not None
    assert locs(node) == [
        ("$", (1, 1), None),
        ("$.é", (1, 4), (1, 1)),
        ("$.é[0]", (1, 5), None),
        ("$.é[1]", (1, 8), None),
    ]


@pytest.mark.usefixtures("backend")
def test_root_may_be_a_scalar_or_a_list() -> None:
    assert load("hello\n") == Node("hello", Loc("p.yaml", 1, 1))
    assert load("- 1\n") == Node([Node(1, Loc("p.yaml", 1, 3))], Loc("p.yaml", 1, 1))


# --- encodings ----------------------------------------------------------------------


@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize(
    "text",
    [b"\xef\xbb\xbfa: 1\n", "\ufeffa: 1\n", b"a: 1\n", "a: 1\n"],
    ids=["bytes-bom", "str-bom", "bytes", "str"],
)
def test_utf8_byte_order_mark_is_dropped(text: str | bytes) -> None:
    assert load(text) == Node(
        {"a": Node(1, Loc("p.yaml", 1, 4), Loc("p.yaml", 1, 1))}, Loc("p.yaml", 1, 1)
    )


INVALID_UTF8 = [
    (b"a: \xff\n", "file is not valid UTF-8 (byte 0xff at offset 3)", 1, 4),
    (b"a: 1\nb: x\xc3(\n", "file is not valid UTF-8 (byte 0xc3 at offset 9)", 2, 5),
    (b"a: \xc3\xa9\xfe\n", "file is not valid UTF-8 (byte 0xfe at offset 5)", 1, 5),
    (b"\xef\xbb\xbfa: \x80\n", "file is not valid UTF-8 (byte 0x80 at offset 6)", 1, 4),
    (b"a: 1\r\n\xe2\x82\n", "file is not valid UTF-8 (byte 0xe2 at offset 6)", 2, 1),
    (b"\xff\xfea\x00:\x00", "file is not valid UTF-8 (byte 0xff at offset 0)", 1, 1),
]


@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize(("data", "message", "line", "col"), INVALID_UTF8)
def test_invalid_utf8_names_the_byte_its_offset_and_where_it_is(
    data: bytes, message: str, line: int, col: int
) -> None:
    assert error_of(data) == (message, line, col)


FORBIDDEN_CHARACTERS = [
    ("a: x\x00y\n", "character U+0000 is not allowed in a YAML file", 1, 5),
    ("a: 1\nb: \x07\n", "character U+0007 is not allowed in a YAML file", 2, 4),
    ("a: \ud800\n", "character U+D800 is not allowed in a YAML file", 1, 4),
    (b"a: \x1b[0m\n", "character U+001B is not allowed in a YAML file", 1, 4),
]


@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize(("text", "message", "line", "col"), FORBIDDEN_CHARACTERS)
def test_characters_yaml_does_not_allow_are_reported_where_they_are(
    text: str | bytes, message: str, line: int, col: int
) -> None:
    assert error_of(text) == (message, line, col)


# --- duplicate keys -----------------------------------------------------------------

DUPLICATES = [
    ("a: 1\nb: 2\na: 3\n", "duplicate key 'a' (first written at line 1)", 3, 1),
    ("top:\n  x: 1\n  y: 2\n  x: 3\n", "duplicate key 'x' (first written at line 2)", 4, 3),
    ("l:\n  - k: 1\n    k: 2\n", "duplicate key 'k' (first written at line 2)", 3, 5),
    ("l:\n  - [{k: 1, k: 2}]\n", "duplicate key 'k' (first written at line 2)", 2, 13),
    ("f: {a: 1, b: 2, a: 3}\n", "duplicate key 'a' (first written at line 1)", 1, 17),
    ("'a': 1\n\"a\": 2\n", "duplicate key 'a' (first written at line 1)", 2, 1),
    ("a: 1\n!!str a: 2\n", "duplicate key 'a' (first written at line 1)", 2, 1),
    ("&k a: 1\n*k : 2\n", "duplicate key 'a' (first written at line 1)", 2, 1),
    ("? a\n: 1\n? a\n: 2\n", "duplicate key 'a' (first written at line 1)", 3, 3),
    ("a:\n  b:\n    c: 1\n    c: 1\n", "duplicate key 'c' (first written at line 3)", 4, 5),
]


@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize(("text", "message", "line", "col"), DUPLICATES)
def test_duplicate_key_at_any_depth_is_an_error_at_the_second_key(
    text: str, message: str, line: int, col: int
) -> None:
    assert error_of(text) == (message, line, col)


@pytest.mark.usefixtures("backend")
def test_same_key_in_sibling_mappings_is_not_a_duplicate() -> None:
    assert value_of("a: {x: 1}\nb: {x: 2}\nl: [{x: 1}, {x: 2}]\n") == {
        "a": {"x": 1},
        "b": {"x": 2},
        "l": [{"x": 1}, {"x": 2}],
    }


# --- keys must be strings -----------------------------------------------------------

NON_STRING_KEYS = [
    ("1: x\n", 'mapping keys must be strings; got int 1 (quote it: "1")', 1, 1),
    ("a: 1\n0x1F: x\n", 'mapping keys must be strings; got int 0x1F (quote it: "0x1F")', 2, 1),
    ("1.5: x\n", 'mapping keys must be strings; got float 1.5 (quote it: "1.5")', 1, 1),
    ("true: x\n", 'mapping keys must be strings; got bool true (quote it: "true")', 1, 1),
    ("null: x\n", 'mapping keys must be strings; got null null (quote it: "null")', 1, 1),
    ("~: x\n", 'mapping keys must be strings; got null ~ (quote it: "~")', 1, 1),
    ("{a: 1, 2: b}\n", 'mapping keys must be strings; got int 2 (quote it: "2")', 1, 8),
    ("? \n: x\n", "mapping keys must be strings; got an empty key (null)", 1, 2),
    ("[a, b]: x\n", "mapping keys must be strings; got a list", 1, 1),
    ("{a: 1}: x\n", "mapping keys must be strings; got a mapping", 1, 1),
    ("? [a]\n: x\n", "mapping keys must be strings; got a list", 1, 3),
    ("n: &n 1\n*n : x\n", "mapping keys must be strings; got an integer", 2, 1),
    ("!!int '1': x\n", "mapping keys must be strings; got an integer", 1, 1),
]


@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize(("text", "message", "line", "col"), NON_STRING_KEYS)
def test_key_that_is_not_a_string_is_an_error_that_says_to_quote_it(
    text: str, message: str, line: int, col: int
) -> None:
    assert error_of(text) == (message, line, col)


@pytest.mark.usefixtures("backend")
def test_quoted_or_str_tagged_keys_that_look_like_other_types_are_strings() -> None:
    assert value_of("'1': a\n\"true\": b\n!!str null: c\n'~': d\nno: e\n") == {
        "1": "a",
        "true": "b",
        "null": "c",
        "~": "d",
        "no": "e",
    }


# --- merge keys ---------------------------------------------------------------------


@pytest.mark.usefixtures("backend")
def test_merge_key_brings_in_an_anchored_mapping() -> None:
    text = "x-base: &base\n  a: 1\n  b: 2\nsvc:\n  <<: *base\n  c: 3\n"
    assert value_of(text) == {"x-base": {"a": 1, "b": 2}, "svc": {"a": 1, "b": 2, "c": 3}}


@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize(
    "svc",
    ["{<<: *base, b: 20}", "{b: 20, <<: *base}"],
    ids=["merge-first", "merge-last"],
)
def test_keys_written_in_the_mapping_win_over_merged_keys_in_any_order(svc: str) -> None:
    got = value_of(f"x-base: &base {{a: 1, b: 2}}\nsvc: {svc}\n")
    assert isinstance(got, dict)
    assert got["svc"] == {"a": 1, "b": 20}


@pytest.mark.usefixtures("backend")
def test_merged_keys_take_the_place_of_the_merge_key() -> None:
    got = value_of("x: &x {m: 1, n: 2}\ny: {a: 0, <<: *x, z: 3}\n")
    assert isinstance(got, dict)
    assert list(got["y"]) == ["a", "m", "n", "z"]


@pytest.mark.usefixtures("backend")
def test_in_a_list_of_merged_mappings_the_earlier_one_wins() -> None:
    text = "a: &a {x: 1}\nb: &b {x: 2, y: 2}\nc:\n  <<: [*a, *b]\n  z: 3\n"
    got = value_of(text)
    assert isinstance(got, dict)
    assert got["c"] == {"x": 1, "y": 2, "z": 3}


@pytest.mark.usefixtures("backend")
def test_merge_key_accepts_an_inline_mapping() -> None:
    assert value_of("<<: {a: 1, b: 2}\nb: 3\n") == {"a": 1, "b": 3}


@pytest.mark.usefixtures("backend")
def test_merges_nest() -> None:
    text = "a: &a {x: 1}\nb: &b {<<: *a, y: 2}\nc: {<<: *b, z: 3}\n"
    got = value_of(text)
    assert isinstance(got, dict)
    assert got["c"] == {"x": 1, "y": 2, "z": 3}


@pytest.mark.usefixtures("backend")
def test_merged_values_keep_the_location_where_they_were_written() -> None:
    text = "x-base: &base\n  a: 1\n  b: 2\nsvc:\n  <<: *base\n  b: 3\n"
    node = load(text)
    assert node is not None
    assert locs(node) == [
        ("$", (1, 1), None),
        ("$.x-base", (1, 9), (1, 1)),
        ("$.x-base.a", (2, 6), (2, 3)),
        ("$.x-base.b", (3, 6), (3, 3)),
        ("$.svc", (5, 3), (4, 1)),
        ("$.svc.a", (2, 6), (2, 3)),
        ("$.svc.b", (6, 6), (6, 3)),
    ]


@pytest.mark.usefixtures("backend")
def test_a_key_that_overrides_a_merged_key_is_not_a_duplicate_but_a_second_merge_is() -> None:
    assert value_of("<<: {a: 1}\na: 2\n") == {"a": 2}
    assert error_of("<<: {a: 1}\nb: 2\n<<: {c: 3}\n") == (
        "duplicate key '<<' (first written at line 1)",
        3,
        1,
    )


@pytest.mark.usefixtures("backend")
def test_quoted_merge_key_is_an_ordinary_key() -> None:
    assert value_of("'<<': {a: 1}\nb: 2\n") == {"<<": {"a": 1}, "b": 2}


MERGE_ERRORS = [
    ("<<: 1\n", "merge key '<<' takes a mapping or a list of mappings; got an integer", 1, 5),
    ("<<:\n", "merge key '<<' takes a mapping or a list of mappings; got null", 1, 4),
    (
        "<<: [a]\n",
        "merge key '<<' takes a mapping or a list of mappings; got a list holding a string",
        1,
        5,
    ),
    (
        "a: &a {x: 1}\nb: &b [1]\nc:\n  <<: [*a, *b]\n",
        "merge key '<<' takes a mapping or a list of mappings; got a list holding a list",
        4,
        7,
    ),
    (
        "s: &s text\nc:\n  <<: *s\n",
        "merge key '<<' takes a mapping or a list of mappings; got a string",
        3,
        7,
    ),
]


@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize(("text", "message", "line", "col"), MERGE_ERRORS)
def test_merge_key_with_something_other_than_mappings_is_an_error(
    text: str, message: str, line: int, col: int
) -> None:
    assert error_of(text) == (message, line, col)


# --- anchors and aliases ------------------------------------------------------------


@pytest.mark.usefixtures("backend")
def test_alias_value_keeps_the_anchor_location_and_gets_its_own_key_location() -> None:
    node = load("x: &v 5\ny: *v\nl: [*v]\n")
    assert node is not None
    assert locs(node) == [
        ("$", (1, 1), None),
        ("$.x", (1, 4), (1, 1)),
        ("$.y", (1, 4), (2, 1)),
        ("$.l", (3, 4), (3, 1)),
        ("$.l[0]", (1, 4), None),
    ]
    assert node.plain() == {"x": 5, "y": 5, "l": [5]}


@pytest.mark.usefixtures("backend")
def test_alias_of_a_string_can_be_a_key_and_aliases_repeat_in_lists() -> None:
    node = load("- &k name\n- {*k : 1}\n- *k\n")
    assert node is not None
    assert node.plain() == ["name", {"name": 1}, "name"]
    assert locs(node) == [
        ("$", (1, 1), None),
        ("$[0]", (1, 3), None),
        ("$[1]", (2, 3), None),
        ("$[1].name", (2, 9), (2, 4)),
        ("$[2]", (1, 3), None),
    ]


@pytest.mark.usefixtures("backend")
def test_undefined_alias_is_an_error() -> None:
    assert error_of("a: 1\nb: *nope\n") == (
        "alias '*nope' refers to no anchor; write '&nope' on a value before it",
        2,
        4,
    )


@pytest.mark.usefixtures("backend")
def test_anchor_defined_twice_is_an_error() -> None:
    assert error_of("a: &x 1\nb: &x {c: 2}\n") == (
        "duplicate anchor '&x' (first written at line 1)",
        2,
        4,
    )


@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize(
    ("text", "line", "col"),
    [("&a [*a]\n", 1, 5), ("a: &a\n  b: *a\n", 2, 6), ("- &a [1, [*a]]\n", 1, 11)],
)
def test_recursive_alias_is_an_error_not_a_recursion_error(text: str, line: int, col: int) -> None:
    assert error_of(text) == (
        "alias '*a' is inside the value it refers to (a recursive alias)",
        line,
        col,
    )


def billion_laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.usefixtures("backend")
def test_billion_laughs_fails_with_an_alias_bomb_error() -> None:
    # a1 expands 10 * 11 nodes, a2 10 * 111, a3 10 * 1111: the eighth alias of a3
    # passes 10,000 (110 + 1110 + 8 * 1111 = 10,108), and nothing after it is built.
    assert error_of(billion_laughs()) == (
        "too many alias expansions (more than 10000 nodes); the file looks like an alias bomb",
        4,
        45,
    )


@pytest.mark.usefixtures("backend")
def test_alias_expansions_are_counted_exactly_against_the_limit() -> None:
    text = "a: &a [1, 2]\nb: *a\nc: *a\n"  # each alias brings 3 values
    assert value_of(text) == {"a": [1, 2], "b": [1, 2], "c": [1, 2]}
    assert load(text, max_alias_nodes=6) is not None
    assert error_of(text, max_alias_nodes=5) == (
        "too many alias expansions (more than 5 nodes); the file looks like an alias bomb",
        3,
        4,
    )


# --- nesting ------------------------------------------------------------------------


@pytest.mark.usefixtures("backend")
def test_nesting_up_to_the_limit_loads() -> None:
    node = load("[" * 100 + "]" * 100)
    assert node is not None
    assert error_of("[" * 4 + "]" * 4, max_depth=3) == ("nesting deeper than 3 levels", 1, 4)


@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize(
    ("text", "line", "col"),
    [
        ("[" * 101 + "]" * 101, 1, 101),
        ("[" * 300_000, 1, 101),
        ("- " * 101 + "x\n", 1, 201),
        ("".join(" " * i + "k:\n" for i in range(102)), 101, 101),
        ("a: " + "{b: " * 100 + "1" + "}" * 100 + "\n", 1, 400),
    ],
    ids=["flow", "huge-flow", "block-list", "block-mapping", "under-a-key"],
)
def test_nesting_deeper_than_the_limit_is_an_error(text: str, line: int, col: int) -> None:
    assert error_of(text) == ("nesting deeper than 100 levels", line, col)


@pytest.mark.usefixtures("backend")
def test_nesting_through_aliases_counts_against_the_limit() -> None:
    # a0 is 1 level deep, each a{i} one more: a99 would reach 101 under the root mapping.
    text = "a0: &a0 [x]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 100))
    assert error_of(text) == ("nesting deeper than 100 levels", 100, 12)


# --- syntax errors ------------------------------------------------------------------


@pytest.mark.usefixtures("backend")
def test_tab_indentation_names_the_tab() -> None:
    assert error_of("a:\n\tb: 1\n") == (
        "YAML syntax error: found character '\\t' that cannot start any token "
        "(indent with spaces: YAML does not allow tabs)",
        2,
        1,
    )


@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize("quote", ['"', "'"])
def test_unclosed_quote_says_where_the_string_started(quote: str) -> None:
    assert error_of(f"a: 1\nb: {quote}abc\n") == (
        "YAML syntax error: found unexpected end of stream "
        "(while scanning a quoted scalar at line 2, column 4)",
        3,
        1,
    )


SYNTAX_ERRORS = {
    "libyaml": [
        (
            "a: [1, 2\n",
            "YAML syntax error: did not find expected ',' or ']' "
            "(while parsing a flow sequence at line 1, column 4)",
            2,
            1,
        ),
        ("a: b: c\n", "YAML syntax error: mapping values are not allowed in this context", 1, 5),
        (
            "a:\n  b: 1\n c: 2\n",
            "YAML syntax error: did not find expected key "
            "(while parsing a block mapping at line 1, column 1)",
            3,
            2,
        ),
        (
            "a: @b\n",
            "YAML syntax error: found character '@' that cannot start any token",
            1,
            4,
        ),
        (
            "a: *\n",
            "YAML syntax error: did not find expected alphabetic or numeric character "
            "(while scanning an alias at line 1, column 4)",
            1,
            5,
        ),
    ],
    "python": [
        (
            "a: [1, 2\n",
            "YAML syntax error: expected ',' or ']', but got '<stream end>' "
            "(while parsing a flow sequence at line 1, column 4)",
            2,
            1,
        ),
        ("a: b: c\n", "YAML syntax error: mapping values are not allowed here", 1, 5),
        (
            "a:\n  b: 1\n c: 2\n",
            "YAML syntax error: expected <block end>, but found '<block mapping start>' "
            "(while parsing a block mapping at line 1, column 1)",
            3,
            2,
        ),
        (
            "a: @b\n",
            "YAML syntax error: found character '@' that cannot start any token",
            1,
            4,
        ),
        (
            "a: *\n",
            "YAML syntax error: expected alphabetic or numeric character, but found '\\n' "
            "(while scanning an alias at line 1, column 4)",
            1,
            5,
        ),
    ],
}


@pytest.mark.parametrize(
    ("name", "case"),
    [(name, case) for name, cases in SYNTAX_ERRORS.items() for case in cases],
    ids=lambda v: v if isinstance(v, str) else repr(v[0]),
)
def test_syntax_error_is_one_line_from_the_parser_at_the_problem(
    name: str, case: tuple[str, str, int, int]
) -> None:
    if name == "libyaml" and not HAS_LIBYAML:
        pytest.skip("PyYAML was built without libyaml")
    text, message, line, col = case
    with using(BACKENDS[name]):  # type: ignore[arg-type]
        assert error_of(text) == (message, line, col)


# --- documents ----------------------------------------------------------------------


@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize(
    ("text", "line", "col"),
    [
        ("a: 1\n---\nb: 2\n", 2, 1),
        ("---\na: 1\n...\n---\nb: 2\n", 4, 1),
        ("a: 1\n---\n", 2, 1),
        ("--- 1\n--- 2\n", 2, 1),
    ],
)
def test_second_document_is_an_error_at_its_start(text: str, line: int, col: int) -> None:
    assert error_of(text) == ("a profile holds one YAML document; found a second one", line, col)


@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize(
    "text",
    ["", b"", "\n\n", "# only a comment\n", "\ufeff", b"\xef\xbb\xbf", "---\n", "--- # c\n...\n"],
)
def test_empty_document_loads_as_none(text: str | bytes) -> None:
    assert load(text) is None


@pytest.mark.usefixtures("backend")
def test_explicit_null_document_is_a_node() -> None:
    assert load("~\n") == Node(None, Loc("p.yaml", 1, 1))
    assert load("--- !!null\n") == Node(None, Loc("p.yaml", 1, 5))


@pytest.mark.usefixtures("backend")
def test_document_markers_around_one_document_are_fine() -> None:
    assert value_of("%YAML 1.2\n---\na: 1\n...\n") == {"a": 1}


# --- never another exception ---------------------------------------------------------

# fmt: off
YAML_TOKENS = [
    "a", "b", "1", "0x1F", "true", "no", "~", " ", "  ", "\n", "\t", ": ", ":", "- ", "-",
    "[", "]", "{", "}", ", ", "&a ", "&b ", "*a", "*b", "<<: ", "!!int ", "!!str ", "! ",
    "!x ", "!!python/object:os.system ", "? ", "|\n  ", ">-\n ", '"', "'", "#", "---\n",
    "...\n", "%YAML 1.2\n", "\\", "é", "\ufeff", "\x00", "\r\n",
]
# fmt: on
YAMLISH = st.lists(st.sampled_from(YAML_TOKENS), max_size=40).map("".join)


def assert_loads_or_yaml_error(text: str | bytes) -> None:
    for name, loader in BACKENDS.items():
        if loader is None:
            continue
        error: YamlError | None = None
        with using(loader):
            try:
                result = load_yaml(text, "h.yaml", max_alias_nodes=50, max_depth=8)
            except YamlError as e:
                error = e
        if error is not None:
            assert error.loc.file == "h.yaml"
            assert error.loc.line >= 1
            assert error.loc.col >= 1
            assert "\n" not in error.message, (name, error.message)
        else:
            assert result is None or isinstance(result, Node)
            if result is not None:
                result.plain()


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_loads_or_raises_yaml_error(text: str) -> None:
    assert_loads_or_yaml_error(text)


@settings(max_examples=300, deadline=None)
@given(st.binary())
def test_any_bytes_load_or_raise_yaml_error(data: bytes) -> None:
    assert_loads_or_yaml_error(data)


@settings(max_examples=1000, deadline=None)
@given(YAMLISH)
def test_any_yaml_like_text_loads_or_raises_yaml_error(text: str) -> None:
    assert_loads_or_yaml_error(text)
