"""Behaviour of sandboxed Jinja2 rendering (envres._template)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envres._errors import MissingVariableError, TemplateError
from envres._template import MAX_OUTPUT, render
from envres._values import resolve_string


def run(text: str, env: dict[str, str] | None = None, profile: str = "dev") -> str:
    return render(text, env=env or {}, profile=profile)


def error_of(text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(TemplateError) as info:
        run(text, env)
    message = str(info.value)
    assert info.value.message == message
    assert "\n" not in message
    return message


# --- which strings are templates -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ profile }}", "p"),
        ("a{{ 'b' }}", "ab"),
        ("{% if true %}y{% endif %}", "y"),
        ("{plain}", "{plain}"),
        ("{ {", "{ {"),
        ("x{#y", "x{#y"),
        ("", ""),
    ],
)
def test_only_strings_with_expression_or_statement_delimiters_are_rendered(
    text: str, expected: str
) -> None:
    assert resolve_string(text, {}, "p")[0] == expected


# --- env() and profile ---------------------------------------------------------------------


def test_env_returns_the_variable_value() -> None:
    assert run("#alerts-{{ env('TEAM') }}", {"TEAM": "ops"}) == "#alerts-ops"


def test_env_returns_default_when_variable_is_unset() -> None:
    assert run("#alerts-{{ env('TEAM', 'data') }}") == "#alerts-data"


def test_env_ignores_default_when_variable_is_set() -> None:
    assert run("{{ env('TEAM', 'data') }}", {"TEAM": "ops"}) == "ops"


def test_env_treats_empty_value_as_set() -> None:
    assert run("[{{ env('TEAM', 'data') }}]", {"TEAM": ""}) == "[]"


def test_env_accepts_keyword_default() -> None:
    assert run("{{ env(name='TEAM', default='d') }}") == "d"


def test_env_default_may_be_none_for_conditionals() -> None:
    text = "{% if env('DEBUG', none) is none %}off{% else %}on{% endif %}"
    assert run(text) == "off"
    assert run(text, {"DEBUG": "1"}) == "on"


def test_env_without_default_raises_the_missing_variable_error_of_interpolation() -> None:
    with pytest.raises(MissingVariableError) as info:
        run("{{ env('NOPE') }}")
    assert (str(info.value), info.value.variable) == (
        "environment variable NOPE is not set",
        "NOPE",
    )


def test_env_with_non_string_name_is_a_template_error() -> None:
    assert error_of("{{ env(1) }}") == "env() takes a variable name as a string, not int"


def test_env_reads_only_the_given_mapping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVRES_TEST_ONLY_IN_OS_ENVIRON", "1")
    with pytest.raises(MissingVariableError, match="ENVRES_TEST_ONLY_IN_OS_ENVIRON is not set"):
        run("{{ env('ENVRES_TEST_ONLY_IN_OS_ENVIRON') }}")


def test_variables_read_lists_each_name_once_in_first_use_order() -> None:
    read: list[str] = []
    text = "{{ env('B', '') }}{{ env('A') }}{{ env('B', '') }}"
    assert render(text, env={"A": "a"}, profile="dev", variables_read=read) == "a"
    assert read == ["B", "A"]


def test_variables_read_includes_the_missing_variable_that_failed() -> None:
    read: list[str] = []
    with pytest.raises(MissingVariableError):
        render("{{ env('A') }}{{ env('B') }}", env={"A": "a"}, profile="dev", variables_read=read)
    assert read == ["A", "B"]


def test_profile_variable_is_the_profile_name() -> None:
    assert run("db-{{ profile }}", profile="staging") == "db-staging"


def test_filters_remain_available() -> None:
    assert run("{{ env('T') | upper }}-{{ profile | replace('d', 'D') }}", {"T": "ops"}) == (
        "OPS-Dev"
    )


def test_trailing_newline_is_kept() -> None:
    assert run("{{ profile }}\n") == "dev\n"


def test_env_values_containing_template_syntax_are_not_rendered_again() -> None:
    assert run("{{ env('X') }}", {"X": "{{ profile }}"}) == "{{ profile }}"


def test_private_use_characters_survive_rendering_unchanged() -> None:
    marks = "\ue000\ue001\uf8fe\uf8ff"
    text = f"{marks}-{{{{ profile }}}}-{marks}{{{{ '{marks}' }}}}{{{{ '\ue000x' | upper }}}}"
    assert run(text) == f"{marks}-dev-{marks}{marks}\ue000X"


# --- strict undefined and minimal globals --------------------------------------------------


def test_undefined_name_is_an_error_not_an_empty_string() -> None:
    assert error_of("{{ foo }}") == "template error: 'foo' is undefined"


def test_undefined_attribute_is_an_error() -> None:
    assert error_of("{{ profile.nope }}") == (
        "template error: 'str object' has no attribute 'nope'"
    )


@pytest.mark.parametrize("name", ["range", "dict", "lipsum", "cycler", "joiner", "namespace"])
def test_default_jinja_globals_are_not_available(name: str) -> None:
    assert error_of(f"{{{{ {name}() }}}}") == f"template error: '{name}' is undefined"


def test_cycler_joiner_and_namespace_cannot_be_reached_through_self() -> None:
    assert error_of("{{ self.cycler }}").startswith("template error: ")


# --- the sandbox ---------------------------------------------------------------------------

SANDBOX = "template refused by the sandbox: "


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "{{ ''.__class__.__mro__ }}",
            "access to attribute '__class__' of 'str' object is unsafe.",
        ),
        (
            "{{ env.__globals__ }}",
            "access to attribute '__globals__' of 'function' object is unsafe.",
        ),
        ("{{ env.__code__ }}", "access to attribute '__code__' of 'function' object is unsafe."),
        (
            "{{ self.__dict__ }}",
            "access to attribute '__dict__' of 'TemplateReference' object is unsafe.",
        ),
        (
            "{{ self._TemplateReference__context }}",
            "access to attribute '_TemplateReference__context' of 'TemplateReference' object"
            " is unsafe.",
        ),
        (
            "{{ profile|attr('__class__') }}",
            "access to attribute '__class__' of 'str' object is unsafe.",
        ),
        (
            "{% set l = [] %}{{ l.append(1) }}",
            "access to attribute 'append' of 'list' object is unsafe.",
        ),
        ("{{ 'x' * 10**9 }}", f"repeating a sequence would be larger than {MAX_OUTPUT} characters"),
        ("{{ 10**9 * [0] }}", f"repeating a sequence would be larger than {MAX_OUTPUT} characters"),
        ("{{ 9 ** 99999 }}", "9 ** 99999 is too large a number"),
    ],
)
def test_sandbox_refuses_escapes_and_oversized_operations(text: str, message: str) -> None:
    assert error_of(text) == SANDBOX + message


def test_self_renders_harmlessly() -> None:
    assert run("{{ self }}") == "<TemplateReference None>"


def test_small_repetition_and_power_still_work() -> None:
    assert run("{{ 'ab' * 3 }} {{ 2 ** 10 }} {{ [1] * 2 }}") == "ababab 1024 [1, 1]"


# --- other failures ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{ }", "template syntax error on line 1: unexpected '}'"),
        (
            "{{ profile",
            "template syntax error on line 1: "
            "unexpected end of template, expected 'end of print statement'.",
        ),
        (
            "a\n{% if %}{% endif %}",
            "template syntax error on line 2: Expected an expression, got 'end of statement block'",
        ),
        ("{% endfor %}", "template syntax error on line 1: Encountered unknown tag 'endfor'."),
    ],
)
def test_syntax_error_reports_line_and_reason(text: str, message: str) -> None:
    assert error_of(text) == message


def test_runtime_error_in_a_multi_line_template_reports_its_line() -> None:
    assert error_of("a\nb\n{{ foo }}\n") == "template error on line 3: 'foo' is undefined"


def test_python_exception_while_rendering_becomes_template_error_with_its_type() -> None:
    assert error_of("{{ 1 / 0 }}") == "template error: ZeroDivisionError: division by zero"


def test_include_without_loader_is_a_template_error() -> None:
    assert error_of("{% include 'x.j2' %}") == (
        "template error: TypeError: no loader for this environment specified"
    )


def test_recursive_macro_is_a_template_error() -> None:
    text = "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"
    assert error_of(text) == "template error: recursion too deep"


def test_output_longer_than_the_bound_is_a_template_error() -> None:
    text = "{{ 'x' * 600000 }}{{ 'y' * 400001 }}"
    assert error_of(text) == f"template error: output is longer than {MAX_OUTPUT} characters"


def test_output_up_to_the_bound_is_allowed() -> None:
    text = "{{ 'x' * 600000 }}{{ 'y' * 400000 }}"
    assert len(run(text)) == MAX_OUTPUT


TEMPLATE_TOKENS = [
    *("{{", "}}", "{%", "%}", "{#", "#}", "(", ")", "'", ".", "|", "*", "**", " ", "x", "1"),
    *("env", "profile", "if", "for", "in", "endif", "endfor", "__class__"),
]


@settings(deadline=None, max_examples=300)
@given(
    text=st.lists(
        st.one_of(
            st.sampled_from(TEMPLATE_TOKENS),
            st.text(max_size=2),
        ),
        max_size=20,
    ).map("".join)
)
def test_render_returns_text_or_raises_only_template_error(text: str) -> None:
    try:
        result = run(text, {"x": "1"})
    except TemplateError as exc:
        message = str(exc)
    else:
        message = ""
        assert isinstance(result, str)
    assert "\n" not in message


# --- lazy import ---------------------------------------------------------------------------


def test_importing_the_template_module_does_not_import_jinja2() -> None:
    code = (
        "import sys, envres._template\n"
        "print('jinja2' in sys.modules)\n"
        # Only naming the profile: rendered without Jinja2 (tests/test_startup_paths.py).
        "envres._template.render('out/{{ profile }}', env={}, profile='p')\n"
        "print('jinja2' in sys.modules)\n"
        "envres._template.render('{{ profile | upper }}', env={}, profile='p')\n"
        "print('jinja2' in sys.modules)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert completed.stdout.split() == ["False", "False", "True"]


# --- what a template may allocate and compute ------------------------------------------------

# Work without allocation stops at the step budget, or at the time budget on a slow machine.
COMPUTE = ("more than 50000 steps", "longer than 0.5 s")

EXPENSIVE: list[tuple[str, str, str | tuple[str, ...]]] = [
    ("center-filter", "{{ 'x'|center(400000000) }}", "an argument of 400000000"),
    ("percent-width", "{{ '%400000000s' % 'x' }}", "a format field of width 400000000"),
    ("percent-star", "{{ '%*s' % (400000000, 'x') }}", "an argument of 400000000"),
    ("power-tower", "{{ ((2**4096)**4096)**64 }}", "is too large a number"),
    ("product-growth", "{{ (2**40000) * (2**40000) }}", "the result is too large a number"),
    ("str-method", "{{ 'x'.ljust(10**9) }}", "an argument of 1000000000"),
    ("format-method", "{{ '{:>999999999}'.format('x') }}", "a format field of width 999999999"),
    ("expandtabs", "{{ ('\\t' * 999999).expandtabs(999999) }}", "str.expandtabs()"),
    ("join-method", "{{ ('x' * 999999).join('y' * 999999) }}", "str.join()"),
    ("join-filter", "{{ ('y' * 999999)|join('x' * 999999) }}", "join"),
    ("indent-filter", "{{ ('\\n' * 999999)|indent(999999) }}", "indent"),
    ("replace-filter", "{{ ('a' * 999999)|replace('a', 'bb') }}", "replace"),
    (
        "tilde-doubling",
        "{% macro d(s, n) %}{{ d(s ~ s, n - 1) if n else s }}{% endmacro %}{{ d('x', 40) }}",
        "joining with ~",
    ),
    (
        "plus-doubling",
        "{% macro d(s, n) %}{{ d(s + s, n - 1) if n else s }}{% endmacro %}{{ d('x', 40) }}",
        "adding these",
    ),
    (
        "nested-loops",
        "{% for a in 'x' * 100000 %}{% for b in 'x' * 100000 %}{% endfor %}{% endfor %}",
        COMPUTE,
    ),
    (
        "exponential-macro",
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}"
        "{% endmacro %}{{ f(40) }}",
        COMPUTE,
    ),
]


@pytest.mark.parametrize(("text", "why"), [c[1:] for c in EXPENSIVE], ids=[c[0] for c in EXPENSIVE])
def test_a_template_that_would_allocate_or_compute_too_much_is_refused_by_a_bound(
    text: str, why: str | tuple[str, ...]
) -> None:
    # Each bound is checked before the work is done (sizes, argument values) or counted
    # as it goes (steps, 0.5 s): none of these allocates more than the output bound.
    message = error_of(text)
    assert message.startswith("template refused by the sandbox: ")
    assert any(reason in message for reason in ((why,) if isinstance(why, str) else why))


def test_ordinary_templates_stay_well_inside_the_budget() -> None:
    text = (
        "{% for part in ['a', 'b', 'c'] %}{{ part|upper }}-{{ loop.index }}"
        "{% if not loop.last %},{% endif %}{% endfor %}"
        "{{ env('HOST', 'db') ~ ':' ~ '%05d' % 5432 ~ ' ' ~ '{:>8}'.format(profile) }}"
    )
    assert run(text) == "A-1,B-2,C-3db:05432      dev"
