"""The interpolation grammar against compose-go's own suite, case by case.

Every ``Substitute`` case of compose-spec/compose-go ``template/template_test.go``
(commit e70e961, 2026-07-21) is a row below, with the environment of that file
(``FOO=first``, ``BAR=""``, ``JSON={"json":2}``). A row gives what compose-go
returns and, where envres deliberately differs, what envres returns and why; the
README lists those rows. Not ported: ``TestSubstituteWithCustomFunc`` and the two
``...ReplacementFunc`` tests, which exercise compose-go's Go hooks for custom
substitution functions (envres has none); their one default-``Substitute`` line is
ported.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from envres._errors import InterpolationError, MissingVariableError
from envres._interpolate import interpolate

DEFAULTS = {"FOO": "first", "BAR": "", "JSON": '{"json":2}'}

# Why envres differs, per kind of difference (PRODUCT.md §2).
UNBRACED = "only the braced form is interpolated: a `$` not followed by `{` or `$` is literal"
UNSET_IS_AN_ERROR = "`${VAR}` with VAR unset is an error, not an empty string with a warning"


@dataclass(frozen=True)
class Row:
    test: str  # the Go test the case comes from
    template: str
    compose: str | None  # compose-go's value; None when compose-go fails
    envres: str | None = None  # envres's value when it differs (None: same as compose)
    error: str | None = None  # envres fails with this message (compose-go too when compose is None)
    why: str = ""  # why envres differs
    env: tuple[tuple[str, str], ...] = tuple(DEFAULTS.items())

    @property
    def differs(self) -> bool:
        return bool(self.why)


ROWS = [
    Row("TestEscaped", "$${foo}", "${foo}"),
    Row("TestSubstituteNoMatch", "foo", "foo"),
    *(Row("TestUnescaped", t, t) for t in ("a $ string", "^REGEX$", "$}", "$")),
    *(
        Row("TestInvalid", t, None, error="invalid interpolation")
        for t in ("${", "${}", "${ }", "${ foo}", "${foo }", "${foo!}")
    ),
    Row("TestNonBraced", "$FOO-bar", "first-bar", envres="$FOO-bar", why=UNBRACED),
    Row(
        "TestNoValueNoDefault",
        "This ${missing} var",
        "This  var",
        error="environment variable missing is not set",
        why=UNSET_IS_AN_ERROR,
    ),
    Row("TestNoValueNoDefault", "This ${BAR} var", "This  var"),
    Row("TestValueNoDefault", "This $FOO var", "This first var", "This $FOO var", why=UNBRACED),
    Row("TestValueNoDefault", "This ${FOO} var", "This first var"),
    Row("TestNoValueWithDefault", "ok ${missing:-def}", "ok def"),
    Row("TestNoValueWithDefault", "ok ${missing-def}", "ok def"),
    Row("TestLazyDefaultDoesNotWarn", "${A:+${A},}B", "B"),
    Row(
        "TestLazyDefaultWarnsWhenUsed",
        "${A:-${B}}",
        "",
        error="environment variable B is not set",
        why=UNSET_IS_AN_ERROR,
    ),
    Row("TestLazyRequiredMessageDoesNotWarn", "${A?${B}}", "value", env=(("A", "value"),)),
    Row("TestEmptyValueWithSoftDefault", "ok ${BAR:-def}", "ok def"),
    Row("TestValueWithSoftDefault", "ok ${FOO:-def}", "ok first"),
    Row("TestEmptyValueWithHardDefault", "ok ${BAR-def}", "ok "),
    Row("TestPresentValueWithUnset", "ok ${UNSET_VAR:+presence_value}", "ok "),
    Row("TestPresentValueWithUnset2", "ok ${UNSET_VAR+presence_value}", "ok "),
    Row("TestPresentValueWithNonEmpty", "ok ${FOO:+presence_value}", "ok presence_value"),
    Row("TestPresentValueAndNonEmptyWithNonEmpty", "ok ${FOO+presence_value}", "ok presence_value"),
    Row("TestPresentValueWithSet", "ok ${BAR+presence_value}", "ok presence_value"),
    Row("TestPresentValueAndNotEmptyWithSet", "ok ${BAR:+presence_value}", "ok "),
    Row("TestNonAlphanumericDefault", "ok ${BAR:-/non:-alphanumeric}", "ok /non:-alphanumeric"),
    *(
        Row("TestInterpolationExternalInterference", t, v)
        for t, v in [
            ("-ok ${BAR:-defaultValue}", "-ok defaultValue"),
            ("+ok ${UNSET:-${BAR-defaultValue}}", "+ok "),
            ("-ok ${FOO:-defaultValue}", "-ok first"),
            (":-ok ${UNSET-defaultValue}", ":-ok defaultValue"),
            (":-ok ${BAR-defaultValue}", ":-ok "),
            (":?ok ${BAR-defaultValue}", ":?ok "),
            (":?ok ${BAR:-defaultValue}", ":?ok defaultValue"),
            (":+ok ${BAR:-defaultValue}", ":+ok defaultValue"),
            ("+ok ${BAR-defaultValue}", "+ok "),
            ("?ok ${BAR:-defaultValue}", "?ok defaultValue"),
        ]
    ),
    Row(
        "TestDefaultsWithNestedExpansion",
        "ok ${UNSET_VAR-$FOO}",
        "ok first",
        "ok $FOO",
        why=UNBRACED,
    ),
    Row("TestDefaultsWithNestedExpansion", "ok ${UNSET_VAR-${FOO}}", "ok first"),
    Row("TestDefaultsWithNestedExpansion", "ok ${UNSET_VAR-${FOO} ${FOO}}", "ok first first"),
    Row("TestDefaultsWithNestedExpansion", "ok ${BAR:-$FOO}", "ok first", "ok $FOO", why=UNBRACED),
    Row("TestDefaultsWithNestedExpansion", "ok ${BAR:-${FOO}}", "ok first"),
    Row("TestDefaultsWithNestedExpansion", "ok ${BAR:-${FOO} ${FOO}}", "ok first first"),
    Row("TestDefaultsWithNestedExpansion", "ok ${BAR+$FOO}", "ok first", "ok $FOO", why=UNBRACED),
    Row(
        "TestDefaultsWithNestedExpansion",
        "ok ${BAR+$FOO ${FOO:+second}}",
        "ok first second",
        "ok $FOO second",
        why=UNBRACED,
    ),
    *(
        Row("TestMandatoryVariableErrors", t, None, error=e)
        for t, e in [
            (
                "not ok ${UNSET_VAR:?Mandatory Variable Unset}",
                "environment variable UNSET_VAR is not set: Mandatory Variable Unset",
            ),
            (
                "not ok ${BAR:?Mandatory Variable Empty}",
                "environment variable BAR is empty: Mandatory Variable Empty",
            ),
            ("not ok ${UNSET_VAR:?}", "environment variable UNSET_VAR is not set"),
            (
                "not ok ${UNSET_VAR?Mandatory Variable Unset}",
                "environment variable UNSET_VAR is not set: Mandatory Variable Unset",
            ),
            ("not ok ${UNSET_VAR?}", "environment variable UNSET_VAR is not set"),
        ]
    ),
    *(
        Row("TestMandatoryVariableErrorsWithNestedExpansion", t, None, error=e)
        for t, e in [
            (
                "not ok ${UNSET_VAR:?Mandatory Variable ${FOO}}",
                "environment variable UNSET_VAR is not set: Mandatory Variable first",
            ),
            (
                "not ok ${UNSET_VAR?Mandatory Variable ${FOO}}",
                "environment variable UNSET_VAR is not set: Mandatory Variable first",
            ),
        ]
    ),
    Row("TestDefaultsForMandatoryVariables", "ok ${FOO:?err}", "ok first"),
    Row("TestDefaultsForMandatoryVariables", "ok ${FOO?err}", "ok first"),
    Row("TestDefaultsForMandatoryVariables", "ok ${BAR?err}", "ok "),
    Row("TestSubstituteWithReplacementFunc", "ok ${SUBDOMAIN:-redis}.${FOO:?}", "ok redis.first"),
    Row(
        "TestPrecedence",
        "${UNSET_VAR?bar-baz}",
        None,
        error="environment variable UNSET_VAR is not set: bar-baz",
    ),
    Row("TestPrecedence", "${UNSET_VAR-myerror?msg}", "myerror?msg"),
    Row("TestPrecedence", "${FOO?bar-baz}", "first"),
    Row("TestPrecedence", "${BAR:-default_value_for_empty_var}", "default_value_for_empty_var"),
    Row(
        "TestPrecedence",
        "${UNSET_VAR-default_value_for_unset_var}",
        "default_value_for_unset_var",
    ),
    Row("TestNoValueWithCurlyBracesDefault", 'ok ${missing:-{"json":1}}', 'ok {"json":1}'),
    Row("TestNoValueWithCurlyBracesDefault", 'ok ${missing-{"json":1}}', 'ok {"json":1}'),
    Row("TestValueWithCurlyBracesDefault", 'ok ${JSON:-{"json":1}}', 'ok {"json":2}'),
    Row("TestValueWithCurlyBracesDefault", 'ok ${JSON-{"json":1}}', 'ok {"json":2}'),
]


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.test}:{r.template}" for r in ROWS])
def test_compose_go_substitute_case(row: Row) -> None:
    env = dict(row.env)
    if row.error is not None:
        kind = MissingVariableError if "environment variable" in row.error else InterpolationError
        with pytest.raises(kind) as info:
            interpolate(row.template, env)
        assert row.error in str(info.value)
        assert row.differs or row.compose is None  # a failure envres shares, or one it explains
        return
    expected = row.envres if row.envres is not None else row.compose
    assert interpolate(row.template, env).value == expected
    assert row.differs == (row.envres is not None and row.envres != row.compose)


# TestSubstitutionFunctionChoice: which operator applies when several are written. It
# calls compose-go's internal chooser; here the choice is observed through its effect,
# with VARNAME unset and then empty, which tells the six operators apart.
CHOICES = [
    ("VARNAME:?val?ue", ":?"),
    ("VARNAME?val:?ue", "?"),
    ("VARNAME?va-lu+e:?e", "?"),
    ("VARNAME?va+lu-e:?e", "?"),
    ("VARNAME:-value", ":-"),
    ("VARNAME-va:-lu:?e", "-"),
    ("VARNAME-va+lu?e", "-"),
    ("VARNAME-va?lu+e", "-"),
    ("VARNAME:+va:?lu:-e", ":+"),
    ("VARNAME+va:+lue", "+"),
    ("VARNAME+va?lu-e", "+"),
    ("VARNAME+va-lu?e", "+"),
]


def _outcome(template: str, env: dict[str, str]) -> str:
    try:
        return interpolate(template, env).value
    except MissingVariableError:
        return "<error>"


@pytest.mark.parametrize(("body", "symbol"), CHOICES)
def test_compose_go_substitution_function_choice(body: str, symbol: str) -> None:
    arg = body[len("VARNAME") + len(symbol) :]
    expected_unset, expected_empty = {
        ":?": ("<error>", "<error>"),
        "?": ("<error>", ""),
        ":-": (arg, arg),
        "-": (arg, ""),
        ":+": ("", ""),
        "+": ("", arg),
    }[symbol]
    template = "${" + body + "}"
    assert _outcome(template, {}) == expected_unset
    assert _outcome(template, {"VARNAME": ""}) == expected_empty


def test_every_deliberate_difference_is_explained() -> None:
    differing = [r for r in ROWS if r.differs]
    assert {r.why for r in differing} == {UNBRACED, UNSET_IS_AN_ERROR}
    assert len(differing) == 8  # the rows the README lists
