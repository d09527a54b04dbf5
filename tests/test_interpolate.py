"""Behaviour of ``${VAR}`` interpolation (envres._interpolate)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envres._errors import InterpolationError, MissingVariableError
from envres._interpolate import (
    MAX_DEPTH,
    Interpolated,
    Segment,
    VarUse,
    interpolate,
)

UNSET: dict[str, str] = {}
EMPTY = {"V": ""}
SET = {"V": "x"}
STATE_NAMES = {id(UNSET): "unset", id(EMPTY): "empty", id(SET): "set"}

# --- every operator in every state ---------------------------------------------------------

# (expression, env, expected value, VarUse.is_set, VarUse.default_used)
OPERATOR_TABLE = [
    ("${V}", EMPTY, "", True, False),
    ("${V}", SET, "x", True, False),
    ("${V:-d}", UNSET, "d", False, True),
    ("${V:-d}", EMPTY, "d", True, True),
    ("${V:-d}", SET, "x", True, False),
    ("${V-d}", UNSET, "d", False, True),
    ("${V-d}", EMPTY, "", True, False),
    ("${V-d}", SET, "x", True, False),
    ("${V:?m}", SET, "x", True, False),
    ("${V?m}", EMPTY, "", True, False),
    ("${V?m}", SET, "x", True, False),
    ("${V:+a}", UNSET, "", False, False),
    ("${V:+a}", EMPTY, "", True, False),
    ("${V:+a}", SET, "a", True, True),
    ("${V+a}", UNSET, "", False, False),
    ("${V+a}", EMPTY, "a", True, True),
    ("${V+a}", SET, "a", True, True),
    # empty default / alternative text
    ("${V:-}", UNSET, "", False, True),
    ("${V-}", UNSET, "", False, True),
    ("${V:+}", SET, "", True, True),
]


@pytest.mark.parametrize(
    ("text", "env", "expected", "is_set", "default_used"),
    OPERATOR_TABLE,
    ids=[f"{text}-{STATE_NAMES[id(env)]}" for text, env, *_ in OPERATOR_TABLE],
)
def test_operator_gives_value_and_records_use_per_env_state(
    text: str, env: dict[str, str], expected: str, is_set: bool, default_used: bool
) -> None:
    result = interpolate(text, env)
    assert result.value == expected
    assert result.uses == (VarUse("V", text, is_set, default_used),)
    assert result.segments == (Segment(expected, True),)
    assert not result.is_literal


# (expression, env, message)
MISSING_TABLE = [
    ("${V}", UNSET, "environment variable V is not set"),
    ("${V:?m}", UNSET, "environment variable V is not set: m"),
    ("${V:?m}", EMPTY, "environment variable V is empty: m"),
    ("${V?m}", UNSET, "environment variable V is not set: m"),
    ("${V:?}", UNSET, "environment variable V is not set"),
    ("${V:?}", EMPTY, "environment variable V is empty"),
    ("${V?}", UNSET, "environment variable V is not set"),
    ("${V:?   }", UNSET, "environment variable V is not set"),
    ("${V:? set V to the db }", UNSET, "environment variable V is not set: set V to the db"),
]


@pytest.mark.parametrize(("text", "env", "message"), MISSING_TABLE)
def test_required_variable_raises_missing_variable_error_with_exact_message(
    text: str, env: dict[str, str], message: str
) -> None:
    with pytest.raises(MissingVariableError) as info:
        interpolate("ab" + text, env)
    assert str(info.value) == message
    assert info.value.message == message
    assert info.value.variable == "V"
    assert info.value.offset == 2


def test_missing_variable_error_is_an_interpolation_error_and_value_error() -> None:
    with pytest.raises(MissingVariableError) as info:
        interpolate("${V}", {})
    assert isinstance(info.value, InterpolationError)
    assert isinstance(info.value, ValueError)


# --- nesting and laziness ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "x"),
        ({"B": ""}, "x"),
        ({"B": "b"}, "b"),
        ({"A": "", "B": "b"}, "b"),
        ({"A": "a", "B": "b"}, "a"),
    ],
)
def test_nested_default_is_used_when_outer_variable_is_unset_or_empty(
    env: dict[str, str], expected: str
) -> None:
    assert interpolate("${A:-${B:-x}}", env).value == expected


def test_nested_uses_are_recorded_in_lookup_order_with_the_outermost_expression() -> None:
    text = "${A:-${B:-x}}"
    result = interpolate(text, {"B": ""})
    assert result.uses == (VarUse("A", text, False, True), VarUse("B", text, True, True))


def test_default_mixing_text_and_nested_expressions_gives_one_substituted_segment() -> None:
    result = interpolate("<${A:-pre-${B}-post}>", {"B": "b"})
    assert result.segments == (
        Segment("<", False),
        Segment("pre-b-post", True),
        Segment(">", False),
    )


def test_unused_default_is_not_evaluated_so_its_unset_variable_raises_nothing() -> None:
    result = interpolate("${A:-${C}}", {"A": "a"})
    assert result.value == "a"
    assert [use.name for use in result.uses] == ["A"]


def test_unused_alternative_is_not_evaluated() -> None:
    assert interpolate("${A:+${C}}", {}).value == ""
    assert interpolate("${A+${C}}", {}).value == ""


def test_used_alternative_evaluates_its_nested_expression() -> None:
    result = interpolate("${A:+${B}}", {"A": "1", "B": "b"})
    assert result.value == "b"
    assert [(u.name, u.default_used) for u in result.uses] == [("A", True), ("B", False)]


def test_message_of_a_satisfied_requirement_is_not_evaluated() -> None:
    assert interpolate("${A:?${C}}", {"A": "a"}).value == "a"


def test_unset_variable_inside_a_used_default_raises_with_its_own_offset() -> None:
    with pytest.raises(MissingVariableError) as info:
        interpolate("${A:-${B}}", {})
    assert str(info.value) == "environment variable B is not set"
    assert info.value.variable == "B"
    assert info.value.offset == 5


def test_error_message_is_interpolated_when_the_requirement_fails() -> None:
    with pytest.raises(MissingVariableError, match=r"^environment variable A is not set: set it$"):
        interpolate("${A:?set ${B:-it}}", {})


def test_error_message_that_cannot_be_interpolated_is_shown_as_written() -> None:
    with pytest.raises(MissingVariableError) as info:
        interpolate("${A:?ask ${B} for it}", {})
    assert str(info.value) == "environment variable A is not set: ask ${B} for it"
    assert info.value.variable == "A"


def test_nesting_up_to_max_depth_is_accepted() -> None:
    text = "${A:-" * MAX_DEPTH + "x" + "}" * MAX_DEPTH
    assert interpolate(text, {}).value == "x"


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5000])
def test_nesting_deeper_than_max_depth_is_an_interpolation_error(depth: int) -> None:
    text = "${A:-" * depth + "x" + "}" * depth
    with pytest.raises(InterpolationError, match=r"nested more than 32 levels deep$") as info:
        interpolate(text, {})
    assert info.value.offset == 5 * MAX_DEPTH


def test_deeply_nested_escaped_braces_are_counted_not_recursed_into() -> None:
    text = "${A:-" + "$${" * 5000 + "}" * 5001
    assert interpolate(text, {}).value == "${" * 5000 + "}" * 5000


# --- $$, literal $ and operator precedence -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$$", "$"),
        ("$$$$", "$$"),
        ("pa$$word", "pa$word"),
        ("$${V}", "${V}"),
        ("$$$${V}", "$${V}"),
        ("^ab$", "^ab$"),
        ("pa$word", "pa$word"),
        ("$5", "$5"),
        ("trailing $", "trailing $"),
        ("$", "$"),
        ("$V", "$V"),
        ("$HOME/x", "$HOME/x"),
        ("$ {V}", "$ {V}"),
        ("{V}", "{V}"),
        ("}{", "}{"),
        ("$$$", "$$"),
    ],
)
def test_dollar_escapes_and_unbraced_dollars_are_literal(text: str, expected: str) -> None:
    result = interpolate(text, {"V": "no", "HOME": "no"})
    assert result.value == expected
    assert result.is_literal
    assert result.uses == ()
    assert result.segments == (Segment(expected, False),)


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("${V:-a?b}", UNSET, "a?b"),
        ("${V-a:?b}", UNSET, "a:?b"),
        ("${V:-a:+b}", EMPTY, "a:+b"),
        ("${V+a-b}", SET, "a-b"),
        ("${V:+a:-b}", SET, "a:-b"),
        ("${V?a}", SET, "x"),
        ("${V-:-}", UNSET, ":-"),
        ("${V:--}", UNSET, "-"),
    ],
)
def test_operator_written_first_applies(text: str, env: dict[str, str], expected: str) -> None:
    assert interpolate(text, env).value == expected


def test_operator_written_first_applies_to_error_messages() -> None:
    with pytest.raises(MissingVariableError, match=r"^environment variable V is not set: a:-b$"):
        interpolate("${V:?a:-b}", {})


def test_default_may_contain_literal_dollars_and_escapes() -> None:
    assert interpolate("${V:-a$b$$c$}", {}).value == "a$b$c$"


# --- closing brace (compose-go's rule) -----------------------------------------------------


def test_bare_braces_inside_a_default_are_balanced() -> None:
    result = interpolate("${A:-{x}}", {})
    assert result.value == "{x}"
    assert result.segments == (Segment("{x}", True),)
    assert result.uses == (VarUse("A", "${A:-{x}}", False, True),)


def test_a_set_variable_with_a_braced_default_leaves_no_stray_brace() -> None:
    assert interpolate('${JSON:-{"json":1}}', {"JSON": '{"json":2}'}).value == '{"json":2}'


def test_an_unclosed_bare_brace_leaves_the_expression_unterminated() -> None:
    with pytest.raises(InterpolationError, match=re.escape('unterminated "${", missing "}"')):
        interpolate("${A:-{x}", {})


def test_text_after_the_closing_brace_is_literal() -> None:
    assert interpolate("${A:-a}b}", {}).value == "ab}"


def test_closing_brace_of_a_nested_expression_does_not_end_the_outer_one() -> None:
    assert interpolate("${A:-${B:-x}y}", {}).value == "xy"


def test_escaped_brace_group_inside_a_default_keeps_its_closing_brace_literal() -> None:
    assert interpolate("${A:-$${x}y}", {}).value == "${x}y"
    assert interpolate("${A:-$${x:-${B}}}", {"B": "b"}).value == "${x:-b}"


def test_escaped_brace_group_at_top_level_is_plain_text() -> None:
    assert interpolate("$${x}}", {}).value == "${x}}"


# --- values from the environment are never rescanned ---------------------------------------


@pytest.mark.parametrize("value", ["${Y}", "$${Y}", "$$", "${Y:-z}", "{{ y }}", "${", "}"])
def test_value_from_env_is_inserted_verbatim(value: str) -> None:
    result = interpolate("${X}", {"X": value, "Y": "no"})
    assert result.value == value
    assert [u.name for u in result.uses] == ["X"]


def test_value_of_nested_variable_in_a_default_is_not_rescanned() -> None:
    assert interpolate("${A:-${B}}", {"B": "${C}"}).value == "${C}"


def test_value_substituted_for_a_default_is_not_rescanned() -> None:
    assert interpolate("${A:-x}", {"A": "${B:-y}"}).value == "${B:-y}"


def test_interpolate_reads_only_the_given_mapping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVRES_TEST_ONLY_IN_OS_ENVIRON", "1")
    with pytest.raises(MissingVariableError):
        interpolate("${ENVRES_TEST_ONLY_IN_OS_ENVIRON}", {})


# --- segments, uses, value, is_literal -----------------------------------------------------


def test_segments_alternate_literal_text_and_substituted_values() -> None:
    result = interpolate("a${X}b$$c${Y:-d}", {"X": "v"})
    assert result.segments == (
        Segment("a", False),
        Segment("v", True),
        Segment("b$c", False),
        Segment("d", True),
    )
    assert result.value == "avb$cd"
    assert result.uses == (VarUse("X", "${X}", True, False), VarUse("Y", "${Y:-d}", False, True))


def test_adjacent_expressions_give_adjacent_substituted_segments() -> None:
    result = interpolate("${A}${B}", {"A": "1", "B": "2"})
    assert result.segments == (Segment("1", True), Segment("2", True))


def test_expression_with_empty_result_keeps_an_empty_substituted_segment() -> None:
    result = interpolate("a${X}b", {"X": ""})
    assert result.segments == (Segment("a", False), Segment("", True), Segment("b", False))
    assert result.value == "ab"
    assert not result.is_literal


def test_empty_string_has_no_segments() -> None:
    result = interpolate("", {})
    assert result == Interpolated((), ())
    assert result.value == ""
    assert result.is_literal


def test_same_variable_used_twice_is_recorded_twice() -> None:
    result = interpolate("${A}/${A}", {"A": "a"})
    assert [u.name for u in result.uses] == ["A", "A"]


def test_result_types_are_immutable() -> None:
    result = interpolate("${A}", {"A": "a"})
    with pytest.raises(AttributeError):
        result.segments = ()  # type: ignore[misc]
    with pytest.raises(AttributeError):
        result.uses[0].name = "B"  # type: ignore[misc]


# --- syntax errors -------------------------------------------------------------------------

OPS_HINT = 'expected "}" or one of ":-", "-", ":?", "?", ":+", "+"'
NAME_HINT = 'expected a variable name after "${" (letters, digits and _, not starting with a digit)'


def unexpected(expr: str, char: str, name: str) -> str:
    return (
        f'invalid interpolation "{expr}": '
        f'unexpected "{char}" after the variable name {name}; {OPS_HINT}'
    )


def bad_name(expr: str) -> str:
    return f'invalid interpolation "{expr}": {NAME_HINT}'


def unterminated(expr: str) -> str:
    return f'invalid interpolation "{expr}": unterminated "${{", missing "}}"'


# (text, message, variable, offset)
SYNTAX_ERRORS = [
    ("x${VAR!x}", unexpected("${VAR!x}", "!", "VAR"), "VAR", 1),
    ("${VAR x}", unexpected("${VAR x}", " ", "VAR"), "VAR", 0),
    ("${VAR:x}", unexpected("${VAR:x}", ":", "VAR"), "VAR", 0),
    ("${VAR:}", unexpected("${VAR:}", ":", "VAR"), "VAR", 0),
    ("${1A}", bad_name("${1A}"), None, 0),
    ("${}", bad_name("${}"), None, 0),
    ("${ V}", bad_name("${ V}"), None, 0),
    ("${\u00c9}", bad_name("${\u00c9}"), None, 0),
    ("${-x}", bad_name("${-x}"), None, 0),
    ("ab${VAR", unterminated("${VAR"), "VAR", 2),
    ("${VAR:-x", unterminated("${VAR:-x"), "VAR", 0),
    ("${", unterminated("${"), None, 0),
    ("a${A:-${B}", unterminated("${A:-${B}"), "A", 1),
    ("${A:-$${x}", unterminated("${A:-$${x}"), "A", 0),
    ("${A:-$${x", unterminated("${A:-$${x"), "A", 0),
]


@pytest.mark.parametrize(("text", "message", "variable", "offset"), SYNTAX_ERRORS)
def test_malformed_expression_is_an_interpolation_error_with_exact_message(
    text: str, message: str, variable: str | None, offset: int
) -> None:
    with pytest.raises(InterpolationError) as info:
        interpolate(text, {"VAR": "v", "A": "a", "B": "b"})
    assert type(info.value) is InterpolationError
    assert str(info.value) == message
    assert info.value.variable == variable
    assert info.value.offset == offset


def test_syntax_error_in_an_unused_default_is_still_reported() -> None:
    with pytest.raises(InterpolationError, match=r'^invalid interpolation "\$\{B!\}"') as info:
        interpolate("${A:-${B!}}", {"A": "set"})
    assert info.value.offset == 5


def test_long_expression_is_shortened_in_the_error_message() -> None:
    text = "${A!" + "x" * 200 + "}"
    with pytest.raises(InterpolationError) as info:
        interpolate(text, {})
    quoted = str(info.value).split('"')[1]
    assert len(quoted) == 80
    assert quoted.endswith("...")


# --- properties ----------------------------------------------------------------------------

NAMES = ["A", "B", "X", "_v1"]
TOKENS = ["$", "{", "}", ":", "-", "?", "+", "$$", "${", "}}", " ", "x", *NAMES]
biased_text = st.one_of(
    st.text(max_size=30),
    st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=2)), max_size=25).map("".join),
)
envs = st.dictionaries(
    st.sampled_from(NAMES),
    st.one_of(st.text(max_size=5), st.sampled_from(["", "${A}", "$$", "}"])),
    max_size=4,
)


@given(text=st.text().filter(lambda t: "$" not in t), env=envs)
def test_text_without_dollar_is_returned_unchanged_as_one_literal_segment(
    text: str, env: dict[str, str]
) -> None:
    result = interpolate(text, env)
    assert result.value == text
    assert result.segments == ((Segment(text, False),) if text else ())
    assert result.uses == ()
    assert result.is_literal


@settings(deadline=None, max_examples=500)
@given(text=biased_text, env=envs)
def test_interpolate_returns_well_formed_result_or_raises_only_interpolation_error(
    text: str, env: dict[str, str]
) -> None:
    error: InterpolationError | None = None
    try:
        result = interpolate(text, env)
    except InterpolationError as exc:
        error = exc
    if error is not None:
        assert text[error.offset] == "$"
        return
    literal = [s for s in result.segments if not s.substituted]
    assert all(s.text for s in literal)
    for before, after in zip(result.segments, result.segments[1:], strict=False):
        assert before.substituted or after.substituted
    assert result.value == "".join(s.text for s in result.segments)
    assert result.is_literal == (not result.uses)
    for use in result.uses:
        assert use.expr in text
        assert use.is_set == (use.name in env)


@given(s=st.text(), env=envs)
def test_doubling_every_dollar_yields_the_original_text(s: str, env: dict[str, str]) -> None:
    result = interpolate(s.replace("$", "$$"), env)
    assert result.value == s
    assert result.is_literal


@given(v=st.text())
def test_env_value_is_never_rescanned(v: str) -> None:
    assert interpolate("${X}", {"X": v}).value == v
    assert interpolate("${A:-${X}}", {"X": v}).value == v
