"""The start-up shortcuts give what the slow paths give (issue 22).

Two shortcuts keep heavy imports off the common start-up, and each must be exact:

- a template that only names ``profile`` / ``project_dir`` is rendered without
  Jinja2: compared with Jinja2 itself, configured as envres's sandbox is;
- settings whose ``ENVRES_*`` variables are all plain values are laid over each
  other without pydantic-settings: compared with pydantic-settings' layering
  (envres._settings_env, which ``load_settings`` uses for list and table variables).

tests/test_startup_imports.py checks that the shortcuts are taken.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import ValidationError

from envres import ProfileError, TemplateError
from envres._settings import Settings, load_settings
from envres._settings_env import layered
from envres._template import render

# -- templates ----------------------------------------------------------------------------

#: Pieces that make templates the shortcut takes, ones it must leave to Jinja2, and
#: ones that are not valid templates at all.
FRAGMENTS = [
    "{{ profile }}",
    "{{profile}}",
    "{{  project_dir }}",
    "{{ project_dir}}",
    "{{- profile }}",
    "{{ profile -}}",
    "{{ profile|upper }}",
    "{{ other }}",
    "{# note #}",
    "{% if true %}x{% endif %}",
    "{",
    "}",
    "{{",
    "}}",
    "{%",
    "#}",
    " ",
    "\n",
    "\r\n",
    "\t",
    "out/",
    "-",
    "é",
]

JINJA = ImmutableSandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
)


def _jinja(text: str, profile: str, project_dir: str) -> str:
    return JINJA.from_string(text).render(profile=profile, project_dir=project_dir)


@settings(max_examples=400, deadline=None)
@given(
    text=st.lists(st.sampled_from(FRAGMENTS), max_size=8).map("".join),
    profile=st.text(max_size=6),
    project_dir=st.text(max_size=6),
)
@example(text="out/{{ profile }}\n", profile="dev", project_dir="/p")
@example(text="{{{ profile }}", profile="dev", project_dir="/p")
@example(text="{{ profile }}}", profile="dev", project_dir="/p")
@example(text="a\r\n{{ profile }}", profile="dev", project_dir="/p")
def test_a_template_renders_as_jinja2_renders_it(text: str, profile: str, project_dir: str) -> None:
    try:
        expected = _jinja(text, profile, project_dir)
    except Exception:
        with pytest.raises(TemplateError):
            render(text, env={}, profile=profile, project_dir=project_dir)
        return
    assert render(text, env={}, profile=profile, project_dir=project_dir) == expected


# -- settings ---------------------------------------------------------------------------------

PLAIN_VALUES = st.sampled_from(["", "0", "1", "true", "no", "2.5", "-1", "abc", "prod", "a/b"])
ENV_NAMES = st.sampled_from(
    [
        "ENVRES_PROFILE",
        "ENVRES_profile",
        "ENVRES_DEFAULT_PROFILE",
        "ENVRES_DEFINITIONS",
        "ENVRES_PROFILES_DIR",
        "ENVRES_SOURCE_TIMEOUT",
        "ENVRES_ALLOW_MISSING_ENV",
        "ENVRES_UNRELATED",
    ]
)
TABLES = st.fixed_dictionaries(
    {},
    optional={
        "definitions": st.sampled_from(["shop.definitions:defs", "a:b"]),
        "profiles_dir": st.sampled_from(["profiles", "conf/p"]),
        "default_profile": st.one_of(st.sampled_from(["dev", "staging"]), st.integers(0, 3)),
        "secret_names": st.lists(st.sampled_from(["TOKEN", "PIN"]), max_size=2),
        "allowed_imports": st.lists(st.sampled_from(["shop", "os"]), max_size=2),
        "source_timeout": st.one_of(st.sampled_from([0.5, 3.0, -1.0]), st.just("x")),
        "secret_sources": st.dictionaries(
            st.sampled_from(["vault", "9bad"]), st.sampled_from(["m:f", "nocolon"]), max_size=2
        ),
        "rules": st.lists(
            st.fixed_dictionaries(
                {"profiles": st.just(["prod"])},
                optional={"literal_secrets": st.sampled_from(["warning", "off", "loud"])},
            ),
            max_size=2,
        ),
    },
)
FLAGS = st.fixed_dictionaries(
    {
        "profile": st.none() | st.sampled_from(["dev", "prod"]),
        "profiles_dir": st.none() | st.just("elsewhere"),
        "definitions": st.none() | st.just("x.y:defs"),
    }
)


def _toml(table: dict[str, Any]) -> str:
    # JSON's strings, numbers, arrays of them and of inline tables are TOML too.
    def value(v: Any) -> str:
        if isinstance(v, dict):
            return "{" + ", ".join(f"{json.dumps(k)} = {value(x)}" for k, x in v.items()) + "}"
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(v)

    return "[tool.envres]\n" + "".join(f"{k} = {value(v)}\n" for k, v in table.items())


def _outcome(build: Any) -> tuple[str, Any]:
    try:
        return "ok", dict(build())
    except ProfileError as exc:
        return "error", exc.problems[0].message
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        return "error", f"envres setting '{field}': {err['msg']}"


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    table=TABLES,
    env=st.dictionaries(ENV_NAMES, PLAIN_VALUES, max_size=4),
    flags=FLAGS,
)
def test_plain_settings_are_laid_as_pydantic_settings_lays_them(
    tmp_path: Path, table: dict[str, Any], env: dict[str, str], flags: dict[str, str | None]
) -> None:
    (tmp_path / "pyproject.toml").write_text(_toml(table))
    given_ = {k: v for k, v in flags.items() if v is not None} | {"project": tmp_path}

    ours = _outcome(lambda: load_settings(project=tmp_path, environ=env, **flags))
    theirs = _outcome(lambda: layered(Settings, given_, env, table))
    assert ours == theirs


def test_a_list_in_an_envres_variable_is_decoded_by_pydantic_settings(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(_toml({"secret_names": ["PIN"]}))
    loaded = load_settings(project=tmp_path, environ={"ENVRES_SECRET_NAMES": '["TOKEN"]'})
    assert loaded.secret_names == ("TOKEN",)
    assert type(loaded) is Settings


@pytest.mark.parametrize(
    ("flag", "environ", "table"),
    [
        (None, {}, ""),
        (None, {}, 'profiles_dir = "conf/profiles"\n'),
        (None, {"ENVRES_PROFILES_DIR": "from-env"}, 'profiles_dir = "conf/profiles"\n'),
        (None, {"envres_profiles_dir": "not-read"}, ""),
        (None, {"ENVRES_profiles_dir": "mixed-case"}, ""),
        ("from-flag", {"ENVRES_PROFILES_DIR": "from-env"}, 'profiles_dir = "conf"\n'),
        (None, {"ENVRES_PROFILES_DIR": ""}, 'profiles_dir = "conf"\n'),
        (None, {"ENVRES_PROFILES_DIR": "/abs/profiles"}, ""),
    ],
)
@pytest.mark.parametrize("given_project", [True, False])
def test_completion_finds_the_profiles_folder_the_settings_find(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    flag: str | None,
    environ: dict[str, str],
    table: str,
    given_project: bool,
) -> None:
    from envres._locate import profiles_folder

    root = tmp_path / "proj"
    (root / "sub").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[tool.envres]\n" + table)
    monkeypatch.chdir(root / "sub")  # found from a subfolder when not given
    project = root if given_project else None
    quick = profiles_folder(project=project, environ=environ, profiles_dir=flag)
    full = load_settings(project=project, environ=environ, profiles_dir=flag).profiles_path
    assert quick == full
