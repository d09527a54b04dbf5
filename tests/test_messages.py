"""Messages a newcomer meets in everyday use: each says what is wrong and what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import BASE, Cli, Project, make_project, run_real, text_line

NEEDS_TOKEN = """\
resources:
  warehouse:
    type: duckdb
    config:
      path: ${API_TOKEN}
  notifier:
    type: console
"""


@pytest.fixture
def needs_token(tmp_path: Path) -> Project:
    return make_project(tmp_path / "proj", {"dev.yaml": BASE, "prod.yaml": NEEDS_TOKEN})


@pytest.mark.parametrize(
    ("command", "hint"),
    [
        ("show", "hint: --allow-missing-env shows the profile with unset variables as <not set>"),
        (
            "check",
            "hint: --allow-missing-env checks the resources that need none of them (the others "
            "fail, saying which)",
        ),
        (
            "validate",
            "hint: --allow-missing-env checks structure and types without them (unset variables "
            "become warnings)",
        ),
    ],
)
def test_an_unset_variable_stops_show_check_and_validate_with_a_hint(
    envres_cli: Cli, needs_token: Project, command: str, hint: str
) -> None:
    result = envres_cli(command, "-p", "prod", cwd=needs_token.root)
    assert result.code == 1
    assert result.err_lines == [
        "profiles/prod.yaml:5:13: E401 resources.warehouse.config.path: environment variable "
        "API_TOKEN is not set",
        "1 problem in profile 'prod'",
        hint,
    ]


def test_other_problems_get_no_hint(envres_cli: Cli, needs_token: Project) -> None:
    needs_token.profile("prod.yaml", "resources:\n  warehouse:\n    type: nosuch\n")
    result = envres_cli("show", "-p", "prod", cwd=needs_token.root)
    assert result.code == 1
    assert "--allow-missing-env" not in result.err


def test_check_with_allow_missing_env_checks_what_needs_no_unset_variable(
    envres_cli: Cli, needs_token: Project
) -> None:
    result = envres_cli("check", "-p", "prod", "--allow-missing-env", cwd=needs_token.root)
    assert result.code == 3
    rows = {line.split()[0]: line.split()[2] for line in result.out.splitlines()[1:]}
    assert rows == {"warehouse": "FAILED", "notifier": "ok"}
    assert "environment variable API_TOKEN is not set" in result.out


@pytest.mark.parametrize(
    ("env_file", "process", "suggestion"),
    [
        ("API_TOKN=x\n", {}, "; did you mean API_TOKN (set in .env)?"),
        ("", {"API_TOKE": "x"}, "; did you mean API_TOKE (set in the environment)?"),
        ("NOTHING_LIKE_IT=x\n", {}, ""),
    ],
)
def test_an_unset_variable_gets_a_did_you_mean_from_the_names_that_are_set(
    envres_cli: Cli,
    needs_token: Project,
    env_file: str,
    process: dict[str, str],
    suggestion: str,
) -> None:
    (needs_token.root / ".env").write_text(env_file)
    result = envres_cli("validate", "-p", "prod", cwd=needs_token.root, env=process)
    assert result.err_lines[0] == (
        "profiles/prod.yaml:5:13: E401 resources.warehouse.config.path: environment variable "
        f"API_TOKEN is not set{suggestion}"
    )


def test_env_says_which_lower_sources_a_value_shadows(envres_cli: Cli, tmp_path: Path) -> None:
    prod = "env_files: [prod.env]\n" + BASE.replace("${WAREHOUSE_PATH:-data/dev.duckdb}", "${DB}")
    project = make_project(tmp_path / "proj", {"prod.yaml": prod})
    project.write("profiles/prod.env", "DB=from-prod-env\n")
    project.write(".env", "DB=from-dotenv\n")
    listed = envres_cli("env", "-p", "prod", cwd=project.root)
    row = next(line for line in listed.out.splitlines() if line.startswith("DB "))
    assert "set (profiles/prod.env, over .env)" in row
    assert "from-prod-env" in row
    overridden = envres_cli("env", "-p", "prod", cwd=project.root, env={"DB": "from-process"})
    row = next(line for line in overridden.out.splitlines() if line.startswith("DB "))
    assert "set (environment, over profiles/prod.env, over .env)" in row


UNLISTED = """
from __future__ import annotations

from pydantic import SecretStr

import envres


class ApiClient(envres.Resource):
    token: SecretStr
    name: str = "api"


class Other(envres.Resource):
    pass


@envres.asset
def raw_users(api: ApiClient) -> int:
    return 1


@envres.asset
def users(raw_users: int, api: Other) -> int:
    return raw_users


defs = envres.Definitions(assets=[users], resource_types={"api": ApiClient, "other": Other})
"""


def _unlisted(tmp_path: Path, profile: str) -> Project:
    return make_project(tmp_path / "proj", {"dev.yaml": profile}, definitions=UNLISTED)


def test_an_asset_left_out_of_the_definitions_is_named_as_such_and_articles_fit(
    envres_cli: Cli, tmp_path: Path
) -> None:
    project = _unlisted(
        tmp_path, "resources:\n  api:\n    type: api\n    config:\n      token: t\n"
    )
    result = envres_cli("validate", cwd=project.root)
    assert result.err_lines == [
        "definitions: E501 asset 'users' (pipeline.py:23) takes 'raw_users', an asset that "
        "is missing from the definitions: add it to Definitions(assets=[...])",
        "profiles/dev.yaml:3:11: E503 resources.api.type: asset 'users' expects an Other for "
        "'api', but type 'api' is an ApiClient",
        "2 problems in profile 'dev'",
    ]


def test_an_unquoted_number_for_a_text_or_secret_field_says_to_quote_it(
    envres_cli: Cli, tmp_path: Path
) -> None:
    profile = "resources:\n  api:\n    type: other\n  x:\n    type: api\n    config:\n"
    project = _unlisted(tmp_path, profile + "      token: 12345\n      name: 42\n")
    result = envres_cli("validate", cwd=project.root)
    assert result.err_lines[:2] == [
        "profiles/dev.yaml:7:14: E303 resources.x.config.token: input should be a valid string "
        "(got '**********'); YAML reads it as a number: quote it to keep it text",
        "profiles/dev.yaml:8:13: E303 resources.x.config.name: input should be a valid string "
        "(got 42); YAML reads it as a number: quote it to keep it text",
    ]
    assert "12345" not in result.err


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("resources:\n  warehouse\n    type: duckdb\n", "profiles/dev.yaml:2:12"),
        (
            "resources:\n  warehouse:\n    type: duckdb\n    config\n      path: x\n",
            "profiles/dev.yaml:4:11",
        ),
        ("resources:\n  # a comment\n  warehouse\n\n    type: duckdb\n", "profiles/dev.yaml:3:12"),
    ],
)
def test_a_missing_colon_is_reported_at_the_key_that_lacks_it(
    envres_cli: Cli, tmp_path: Path, text: str, where: str
) -> None:
    project = make_project(tmp_path / "proj", {"dev.yaml": text})
    result = envres_cli("validate", cwd=project.root)
    assert result.err_lines[0] == (
        f"{where}: E101 YAML syntax error: ':' expected at the end of this key "
        "(a key needs a colon)"
    )


def test_a_broken_partial_is_reported_once_by_validate_all(envres_cli: Cli, tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "proj",
        {
            "_shared.yaml": "resources: [\n",
            "a.yaml": "extends: _shared\n",
            "b.yaml": "extends: _shared\n",
        },
    )
    result = envres_cli("validate", "--all", cwd=project.root)
    assert result.code == 1
    assert result.err_lines == [
        "profiles/_shared.yaml:2:1: E101 YAML syntax error: did not find expected node content",
        "1 problem in profile 'a'",
        "1 problem in profile 'b' (1 shown above)",
        "2 of 2 profiles invalid: a, b",
    ]


FAILING = """
from __future__ import annotations

from collections.abc import Iterator

import duckdb
from pydantic import SecretStr

import envres


class Db(envres.Resource):
    token: SecretStr

    def lifespan(self) -> Iterator[None]:
        self._conn = duckdb.connect(":memory:")
        self._conn.execute("create table raw_users(id int)")
        yield
        self._conn.close()


@envres.asset
def users(db: Db) -> object:
    return db._conn.execute("select * from raw_user").fetchall()


@envres.asset
def leaky(db: Db) -> None:
    raise ValueError("first line\\nthe token was " + db.token.get_secret_value())


@envres.asset
def one_line(db: Db) -> None:
    raise ValueError("just this")


class Twice(envres.Resource):
    def lifespan(self) -> Iterator[None]:
        yield
        yield


@envres.asset
def untidy(twice: Twice) -> None:
    pass


@envres.asset
def frozen(db: Db) -> None:
    db.token = "changed"  # type: ignore[misc]
"""


# Run as real processes: DuckDB is a C extension, imported once per process (the
# in-process runner forgets the modules a project imported).
@pytest.fixture
def failing(tmp_path: Path) -> Project:
    defs = FAILING + (
        "\ndefs = envres.Definitions(assets=[users, leaky, one_line, frozen, untidy], "
        'resource_types={"db": Db, "twice": Twice})\n'
    )
    profile = (
        "resources:\n  db:\n    type: db\n    config:\n      token: s3cr3t-t0ken\n"
        "  twice:\n    type: twice\n"
    )
    return make_project(tmp_path / "proj", {"dev.yaml": profile}, definitions=defs)


def test_a_failing_asset_shows_its_whole_message_where_it_failed_and_how_to_see_more(
    failing: Project,
) -> None:
    result = run_real("run", "users", cwd=failing.root)
    at = f"pipeline.py:{text_line(FAILING, 'from raw_user')}"
    assert result.code == 3
    lines = result.err_lines
    assert lines[0].startswith(f"run failed: asset 'users' failed: {at}: CatalogException: ")
    assert '  Did you mean "raw_users"?' in lines
    assert "  LINE 1: select * from raw_user" in lines
    assert lines[-1] == "(run with --debug for the traceback)"
    # The progress line names the same place, on one line.
    failed = [line for line in result.out.splitlines() if "FAILED" in line]
    assert len(failed) == 1
    assert f"  {at}: CatalogException: " in failed[0]


def test_the_rest_of_a_message_is_masked_and_a_one_line_message_still_says_where(
    failing: Project,
) -> None:
    leaky = run_real("run", "leaky", cwd=failing.root)
    assert leaky.err_lines == [
        f"run failed: asset 'leaky' failed: pipeline.py:{text_line(FAILING, 'first line')}: "
        "ValueError: first line",
        "  the token was **********",
        "(run with --debug for the traceback)",
    ]
    one = run_real("run", "one_line", cwd=failing.root)
    assert one.err_lines == [
        f"run failed: asset 'one_line' failed: pipeline.py:{text_line(FAILING, 'just this')}: "
        "ValueError: just this",
        "(run with --debug for the traceback)",
    ]


def test_a_pydantic_error_in_user_code_shows_its_cause_and_debug_shows_the_traceback(
    failing: Project,
) -> None:
    frozen = run_real("run", "frozen", cwd=failing.root)
    debug = run_real("run", "frozen", "--debug", cwd=failing.root)

    at = f"pipeline.py:{text_line(FAILING, 'db.token = ')}"
    assert frozen.err_lines[0] == (
        f"run failed: asset 'frozen' failed: {at}: ValidationError: 1 validation error for Db"
    )
    assert "    Instance is frozen" in [line[:22] for line in frozen.err_lines]
    assert frozen.err_lines[-1] == "(run with --debug for the traceback)"
    assert "Traceback" not in frozen.err
    assert "Traceback (most recent call last)" in debug.err
    assert "(run with --debug for the traceback)" not in debug.err
    assert "s3cr3t-t0ken" not in frozen.err + frozen.out + debug.err + debug.out


def test_a_failure_of_envres_itself_names_no_place_and_gives_no_hint(
    failing: Project,
) -> None:
    # envres raises this itself, once the user's generator is done: no line of the
    # user's code to show, and a traceback would show only envres.
    result = run_real("run", "untidy", cwd=failing.root)

    assert result.code == 3
    assert result.err_lines == [
        "run failed: teardown of resource 'twice' failed: DefinitionError: "
        "lifespan yielded more than once; it must yield exactly once"
    ]
