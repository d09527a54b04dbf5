"""Hostile input beyond the profile table: odd files, misbehaving imports, odd annotations.

The contract checked here, case by case: bad input gets one clear error line (plus
the count line) naming the file, and the line where there is one; exit code 1 for
an invalid profile, definitions or project, 2 for command-line usage, never 70 (a
bug in envres); nothing written, lost or leaked; no traceback; no hang (a FIFO is
never opened); no unbounded memory (``/dev/zero`` is never read to its end).

Anything that could block is run in a real process with a timeout, so a hang fails
one test instead of stopping the suite; anything that could eat memory is run in a
real process with a bounded address space.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.conftest import BASE, DEFINITIONS, Cli, Project, Result, make_project, run_real

DEV = "profiles/dev.yaml"
ONE = "1 problem in profile 'dev'"
VALID_DEV = "profile 'dev' is valid (2 resources, 2 assets)\n"
#: A validate takes well under a second; a FIFO opened for reading blocks forever.
PROMPT = 20
#: For cases that hang today: long enough for a slow start, short enough for the suite.
SHORT = 10
MIB = 2**20


def proj(
    tmp_path: Path,
    profiles: Mapping[str, str] | None = None,
    definitions: str | None = DEFINITIONS,
    module: str = "pipeline",
) -> Project:
    """A project in ``tmp_path/proj``: the standard definitions and ``dev`` profile by default."""
    return make_project(tmp_path / "proj", profiles, definitions, module)


def assert_problem(result: Result, *lines: str, code: int = 1) -> None:
    """Exactly these stderr lines, nothing on stdout, no traceback, this exit code."""
    assert "Traceback" not in result.err, result.err
    assert (result.code, result.out) == (code, ""), result
    assert result.err_lines == list(lines), result.err


def one_problem(result: Result) -> tuple[str, str]:
    """Exit 1, nothing on stdout, no traceback, and two stderr lines: the problem and the
    count under it, which it returns."""
    assert "Traceback" not in result.err, result.err
    assert (result.code, result.out) == (1, ""), result
    assert len(result.err_lines) == 2, result.err
    first, second = result.err_lines
    return first, second


def add_setting(project: Project, line: str) -> None:
    pyproject = project.root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + line + "\n")


def snapshot(root: Path) -> dict[str, tuple[object, ...]]:
    """Every entry under ``root``: kind, bytes, mode and mtime; FIFOs are never opened."""
    found: dict[str, tuple[object, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            st = os.lstat(path)
            rel = str(path.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                found[rel] = ("link", os.readlink(path))
            elif stat.S_ISREG(st.st_mode):
                found[rel] = ("file", path.read_bytes(), st.st_mode, st.st_mtime_ns)
            else:
                found[rel] = ("other", st.st_mode, st.st_mtime_ns)
    return found


#: Runs ``python -m envres`` with its address space capped (the first argument, in bytes).
_BOUNDED = (
    "import resource, runpy, sys\n"
    "limit = int(sys.argv.pop(1))\n"
    "resource.setrlimit(resource.RLIMIT_AS, (limit, limit))\n"
    "runpy.run_module('envres', run_name='__main__', alter_sys=True)\n"
)


def run_bounded(*args: str, cwd: Path, memory: int = 768 * MIB, timeout: float = PROMPT) -> Result:
    """``run_real`` in a process that cannot grow past ``memory`` bytes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENVRES_")}
    proc = subprocess.run(
        [sys.executable, "-c", _BOUNDED, str(memory), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


# == 1. Files that are not regular files =================================================


def test_env_file_that_is_a_fifo_fails_promptly_naming_the_env_file(tmp_path: Path) -> None:
    project = proj(tmp_path, profiles={"dev.yaml": "env_files: [.env.pipe]\n" + BASE})
    os.mkfifo(project.root / "profiles" / ".env.pipe")
    result = run_real("validate", cwd=project.root, timeout=PROMPT)
    assert_problem(
        result,
        "profiles/dev.yaml:1:13: E105 env_files: env file profiles/.env.pipe cannot be read: "
        "it is not a regular file",
        ONE,
    )


def test_profile_file_that_is_a_fifo_fails_promptly_and_other_profiles_still_validate(
    tmp_path: Path,
) -> None:
    project = proj(tmp_path)
    os.mkfifo(project.root / "profiles" / "stage.yaml")
    one = run_real("validate", "--profile", "stage", cwd=project.root, timeout=PROMPT)
    assert_problem(
        one,
        "profiles/stage.yaml:1:1: E103 cannot read the file: it is not a regular file",
        "1 problem in profile 'stage'",
    )
    every = run_real("validate", "--all", cwd=project.root, timeout=PROMPT)
    assert every.code == 1
    assert every.out == VALID_DEV
    assert every.err_lines == [
        "profiles/stage.yaml:1:1: E103 cannot read the file: it is not a regular file",
        "1 problem in profile 'stage'",
        "1 of 2 profiles invalid: stage",
    ]


def test_env_file_symlinked_to_dev_zero_is_refused_before_any_read(
    envres_cli: Cli, tmp_path: Path
) -> None:
    project = proj(tmp_path, profiles={"dev.yaml": "env_files: [.env.zero]\n" + BASE})
    (project.root / "profiles" / ".env.zero").symlink_to("/dev/zero")
    result = envres_cli("validate", cwd=project.root)
    # "not a regular file", not "larger than 16 MiB": refused by its kind, never opened.
    assert_problem(
        result,
        "profiles/dev.yaml:1:13: E105 env_files: env file profiles/.env.zero cannot be read: "
        "it is not a regular file",
        ONE,
    )


def test_env_file_path_holding_a_nul_is_an_invalid_profile_not_an_internal_error(
    envres_cli: Cli, tmp_path: Path
) -> None:
    # The YAML escape "\0" is a NUL character in the loaded string.
    project = proj(tmp_path, profiles={"dev.yaml": 'env_files: ["a\\0b"]\n' + BASE})
    result = envres_cli("validate", cwd=project.root)
    first, last = one_problem(result)
    assert first == (
        "profiles/dev.yaml:1:13: E105 env_files: an env file's path cannot hold a NUL character"
    ), first
    assert last == ONE


def test_env_file_of_17_mib_is_refused_by_its_size(envres_cli: Cli, tmp_path: Path) -> None:
    project = proj(tmp_path, profiles={"dev.yaml": "env_files: [.env.big]\n" + BASE})
    with open(project.root / "profiles" / ".env.big", "wb") as fh:
        fh.truncate(17 * MIB)  # sparse: no disk, no time
    result = envres_cli("validate", cwd=project.root)
    assert_problem(
        result,
        "profiles/dev.yaml:1:13: E105 env_files: env file profiles/.env.big cannot be read: "
        "it is larger than 16 MiB",
        ONE,
    )


def test_profile_file_of_17_mib_is_refused_by_its_size(envres_cli: Cli, tmp_path: Path) -> None:
    project = proj(tmp_path)
    with open(project.root / DEV, "r+b") as fh:
        fh.truncate(17 * MIB)
    result = envres_cli("validate", cwd=project.root)
    assert_problem(
        result, "profiles/dev.yaml:1:1: E103 cannot read the file: it is larger than 16 MiB", ONE
    )


def test_pyproject_that_is_a_fifo_fails_promptly_naming_it(tmp_path: Path) -> None:
    project = proj(tmp_path)
    (project.root / "pyproject.toml").unlink()
    os.mkfifo(project.root / "pyproject.toml")
    result = run_real("validate", "--definitions", "pipeline:defs", cwd=project.root, timeout=SHORT)
    problem, _ = one_problem(result)
    assert problem.startswith("pyproject.toml:"), result.err
    assert "not a regular file" in problem, result.err


def test_pyproject_symlinked_to_dev_zero_fails_in_bounded_memory(tmp_path: Path) -> None:
    project = proj(tmp_path)
    (project.root / "pyproject.toml").unlink()
    (project.root / "pyproject.toml").symlink_to("/dev/zero")
    result = run_bounded("validate", "--definitions", "pipeline:defs", cwd=project.root)
    problem, _ = one_problem(result)
    assert problem.startswith("pyproject.toml:"), result.err
    assert "not a regular file" in problem, result.err


def test_profiles_dir_holding_a_nul_in_pyproject_is_an_invalid_project(
    envres_cli: Cli, tmp_path: Path
) -> None:
    project = proj(tmp_path)
    add_setting(project, 'profiles_dir = "a\\u0000b"')  # a TOML escape: a real NUL
    result = envres_cli("validate", cwd=project.root)
    assert "Traceback" not in result.err
    assert (result.code, result.out) == (1, ""), result
    assert len(result.err_lines) == 1, result.err
    assert "profiles folder" in result.err_lines[0], result.err


# == 2. `type: "module:attr"` and the definitions module: import hygiene ==================


@pytest.mark.parametrize(
    ("type_name", "message"),
    [
        ("this:x", "cannot import type 'this:x': module 'this' has no 'x'"),
        (
            "this:s",
            "type 'this:s' is a str, not a resource type: subclass envres.Resource or "
            "decorate a generator function with @envres.resource",
        ),
    ],
    ids=["missing-attribute", "not-a-resource-type"],
)
def test_the_zen_of_python_goes_to_stderr_and_stdout_stays_clean(
    tmp_path: Path, type_name: str, message: str
) -> None:
    profile = BASE.replace("type: duckdb", f"type: '{type_name}'")
    project = proj(tmp_path, profiles={"dev.yaml": profile})
    # A real process: `this` prints only on its first import.
    result = run_real("show", "--format", "json", cwd=project.root, timeout=PROMPT)
    assert (result.code, result.out) == (1, ""), result
    assert "Traceback" not in result.err
    assert result.err_lines[0] == "The Zen of Python, by Tim Peters"
    assert "Beautiful is better than ugly." in result.err_lines
    assert result.err_lines[-2:] == [
        f"profiles/dev.yaml:3:11: E301 resources.warehouse.type: {message}",
        ONE,
    ]


NOISY_TYPE = """
from pipeline import Warehouse

print("noisy type module imported")


class Loud(Warehouse):
    path: str = "loud.db"
"""


def test_prints_at_import_keep_show_json_parseable(envres_cli: Cli, tmp_path: Path) -> None:
    noisy_defs = DEFINITIONS + '\nprint("noisy definitions imported")\n'
    profile = BASE.replace("type: duckdb", "type: 'noisy:Loud'").replace(
        "      path: ${WAREHOUSE_PATH:-data/dev.duckdb}\n", ""
    )
    project = proj(tmp_path, profiles={"dev.yaml": profile}, definitions=noisy_defs)
    project.write("noisy.py", NOISY_TYPE)
    result = envres_cli("show", "--format", "json", cwd=project.root)
    assert result.code == 0, result
    assert json.loads(result.out)["resources"]["warehouse"] == {
        "type": "noisy:Loud",
        "config": {"path": "loud.db"},
    }
    assert result.err_lines == ["noisy definitions imported", "noisy type module imported"]


ARGPARSE_USAGE = [
    "usage: boom [-h] --region REGION",
    "boom: error: the following arguments are required: --region",
]

#: (module source, its own stderr lines, the one-line reason envres gives)
MISBEHAVING = {
    "sys-exit-with-a-message": (
        'import sys\n\nsys.exit("cannot start: no licence")\n',
        [],
        "SystemExit: cannot start: no licence",
    ),
    "argparse-prints-usage-and-exits-2": (
        "import argparse\n\n"
        'parser = argparse.ArgumentParser(prog="boom")\n'
        'parser.add_argument("--region", required=True)\n'
        "parser.parse_args()\n",
        ARGPARSE_USAGE,
        "SystemExit: 2",
    ),
    "custom-baseexception": (
        "class Halt(BaseException):\n    pass\n\n\n"
        'raise Halt("stopped here\\nand a second line")\n',
        [],
        "Halt: stopped here",
    ),
    "keyerror": ('CONFIG = {}\nregion = CONFIG["region"]\n', [], "KeyError: 'region'"),
}


@pytest.mark.parametrize("case", list(MISBEHAVING))
def test_type_module_misbehaving_at_import_is_one_line_exit_1(
    envres_cli: Cli, tmp_path: Path, case: str
) -> None:
    source, own_lines, reason = MISBEHAVING[case]
    profile = BASE.replace("type: duckdb", "type: 'boom:Thing'")
    project = proj(tmp_path, profiles={"dev.yaml": profile})
    project.write("boom.py", source)
    result = envres_cli("show", "--format", "json", cwd=project.root)
    assert_problem(
        result,
        *own_lines,
        f"profiles/dev.yaml:3:11: E301 resources.warehouse.type: cannot import type 'boom:Thing': "
        f"importing it raised {reason}",
        ONE,
    )


@pytest.mark.parametrize("case", list(MISBEHAVING))
def test_definitions_module_misbehaving_at_import_is_one_line_exit_1(
    envres_cli: Cli, tmp_path: Path, case: str
) -> None:
    source, own_lines, reason = MISBEHAVING[case]
    project = proj(tmp_path, definitions=source, module="boom")
    for command in (("validate",), ("show", "--format", "json")):
        result = envres_cli(*command, cwd=project.root)
        assert_problem(
            result, *own_lines, f"definitions: E504 importing 'boom' raised {reason}", "1 problem"
        )


# == 3. [tool.envres] allowed_imports ======================================================


def _marker_module(marker: Path) -> str:
    return (
        "from pathlib import Path\n\n"
        "from pipeline import Warehouse\n\n"
        f"Path({str(marker)!r}).write_text('imported')\n\n\n"
        "class Db(Warehouse):\n"
        '    path: str = ":memory:"\n'
    )


def _import_project(tmp_path: Path, allowed: str) -> Project:
    project = proj(tmp_path)
    add_setting(project, f"allowed_imports = {allowed}")
    project.write("myco/__init__.py", "")
    project.write("myco/resources/__init__.py", "")
    project.write("myco/resources/db.py", _marker_module(tmp_path / "db.imported"))
    project.write("evil.py", _marker_module(tmp_path / "evil.imported"))
    project.write("myco/resources_evil.py", _marker_module(tmp_path / "resources_evil.imported"))
    return project


def _with_type(project: Project, type_name: str) -> None:
    project.profile("dev.yaml", BASE.replace("type: duckdb", f"type: '{type_name}'"))


def test_allowed_imports_admits_modules_under_the_listed_package(
    envres_cli: Cli, tmp_path: Path
) -> None:
    project = _import_project(tmp_path, '["myco.resources"]')
    _with_type(project, "myco.resources.db:Db")
    result = envres_cli("validate", cwd=project.root)
    assert (result.code, result.out, result.err) == (0, VALID_DEV, "")
    assert (tmp_path / "db.imported").read_text() == "imported"


@pytest.mark.parametrize(
    ("type_name", "module"),
    [("os:system", "os"), ("evil:Db", "evil"), ("myco.resources_evil:Db", "myco.resources_evil")],
    ids=["os-system", "a-module-of-the-project", "a-sibling-sharing-the-prefix"],
)
def test_allowed_imports_refuses_other_modules_without_importing_them(
    envres_cli: Cli, tmp_path: Path, type_name: str, module: str
) -> None:
    project = _import_project(tmp_path, '["myco.resources"]')
    _with_type(project, type_name)
    result = envres_cli("validate", cwd=project.root)
    assert_problem(
        result,
        f"profiles/dev.yaml:3:11: E301 resources.warehouse.type: type '{type_name}' is not "
        f"allowed: "
        f"module '{module}' is not in [tool.envres] allowed_imports (myco.resources)",
        ONE,
    )
    # evil.py and myco/resources_evil.py would each have written a marker when imported.
    assert list(tmp_path.glob("*.imported")) == []


def test_allowed_imports_empty_refuses_every_import_path_but_short_names_work(
    envres_cli: Cli, tmp_path: Path
) -> None:
    project = _import_project(tmp_path, "[]")
    for type_name in ("myco.resources.db:Db", "evil:Db", "os:system"):
        _with_type(project, type_name)
        result = envres_cli("validate", cwd=project.root)
        assert_problem(
            result,
            f"profiles/dev.yaml:3:11: E301 resources.warehouse.type: type '{type_name}' is not "
            "allowed: import paths are turned off in this project "
            "([tool.envres] allowed_imports = [])",
            ONE,
        )
    assert list(tmp_path.glob("*.imported")) == []
    project.profile("dev.yaml", BASE)
    result = envres_cli("validate", cwd=project.root)
    assert (result.code, result.out, result.err) == (0, VALID_DEV, "")


def test_unknown_key_in_tool_envres_gets_a_did_you_mean(envres_cli: Cli, tmp_path: Path) -> None:
    project = proj(tmp_path)
    add_setting(project, 'allowed_import = ["myco"]')
    result = envres_cli("validate", cwd=project.root)
    problem, count = one_problem(result)
    where = re.match(r"pyproject\.toml:\d+:\d+: ", problem)
    assert where is not None, problem
    assert problem[where.end() :] == (
        "E601 unknown key 'allowed_import' in [tool.envres]; did you mean 'allowed_imports'? "
        "(allowed: definitions, profiles_dir, default_profile, secret_names, allowed_imports, "
        "rules, secret_sources, source_timeout)"
    )
    assert count == "1 problem"


# == 4. {resource: key} inside a list or a dict ============================================

NESTED = """
import envres
from pipeline import Cache, DuckDBWarehouse, Warehouse, log


class Tagged(envres.Resource):
    tags: list[str] = []


class Pool(envres.Resource):
    replicas: list[Warehouse] = []
    by_name: dict[str, Warehouse] = {}


@envres.asset
def pooled(pool: Pool, db: Warehouse) -> int:
    members = [*pool.replicas, *pool.by_name.values()]
    kinds = sorted({type(m).__name__ for m in members})
    same = all(m is db for m in members)
    live = all(getattr(m, "_open", False) for m in members)
    log(f"pooled {len(members)} members {kinds} same={same} live={live}")
    return len(members)


defs = envres.Definitions(
    assets=[pooled],
    resource_types={"duckdb": DuckDBWarehouse, "cache": Cache, "tagged": Tagged, "pool": Pool},
)
"""

POOL = """\
resources:
  db:
    type: duckdb
  cache:
    type: cache
  pool:
    type: pool
    config:
      replicas: [{resource: db}, {resource: db}]
      by_name: {main: {resource: db}}
"""


def _nested(tmp_path: Path, profile: str) -> Project:
    project = proj(tmp_path, profiles={"dev.yaml": profile})
    project.write("nested.py", NESTED)
    return project


@pytest.mark.parametrize(
    ("tags", "where"),
    [
        ("      tags: [ok, {resource: db}]\n", "14:18: E303 resources.x.config.tags.1"),
        (
            "      tags:\n        - ok\n        - resource: db\n",
            "16:11: E303 resources.x.config.tags.1",
        ),
    ],
    ids=["flow", "block"],
)
def test_resource_inside_a_list_of_strings_is_reported_at_the_item(
    envres_cli: Cli, tmp_path: Path, tags: str, where: str
) -> None:
    project = _nested(tmp_path, POOL + "  x:\n    type: tagged\n    config:\n" + tags)
    result = envres_cli("validate", "--definitions", "nested:defs", cwd=project.root)
    assert_problem(
        result,
        f"profiles/dev.yaml:{where}: input should be a valid string (got resource 'db')",
        ONE,
    )


def test_list_and_dict_of_warehouses_receive_the_live_instance(
    envres_cli: Cli, tmp_path: Path
) -> None:
    project = _nested(tmp_path, POOL)
    log = tmp_path / "log"
    validated = envres_cli("validate", "--definitions", "nested:defs", cwd=project.root)
    assert (validated.code, validated.out, validated.err) == (
        0,
        "profile 'dev' is valid (3 resources, 1 asset)\n",
        "",
    )
    ran = envres_cli(
        "run", "--definitions", "nested:defs", cwd=project.root, env={"ENVRES_TEST_LOG": str(log)}
    )
    assert (ran.code, ran.err) == (0, ""), ran
    assert log.read_text().splitlines() == [
        "setup warehouse duckdb :memory:",
        "pooled 3 members ['DuckDBWarehouse'] same=True live=True",
        "teardown warehouse",
    ]


def test_missing_key_inside_a_list_is_one_error_with_a_did_you_mean(
    envres_cli: Cli, tmp_path: Path
) -> None:
    profile = POOL.replace("[{resource: db}, {resource: db}]", "[{resource: db}, {resource: dbb}]")
    result = envres_cli(
        "validate", "--definitions", "nested:defs", cwd=_nested(tmp_path, profile).root
    )
    assert_problem(
        result,
        "profiles/dev.yaml:9:45: E502 resources.pool.config.replicas: refers to resource 'dbb', "
        "which the profile does not define; did you mean 'db'?",
        ONE,
    )


def test_wrong_resource_inside_a_list_and_a_dict_names_each_place(
    envres_cli: Cli, tmp_path: Path
) -> None:
    profile = POOL.replace("{resource: db}, {resource: db}", "{resource: db}, {resource: cache}")
    profile = profile.replace("{main: {resource: db}}", "{main: {resource: cache}}")
    result = envres_cli(
        "validate", "--definitions", "nested:defs", cwd=_nested(tmp_path, profile).root
    )
    assert_problem(
        result,
        "profiles/dev.yaml:9:34: E303 resources.pool.config.replicas.1: input should be a valid "
        "dictionary or instance of Warehouse (got resource 'cache')",
        "profiles/dev.yaml:10:23: E303 resources.pool.config.by_name.main: input should be a valid "
        "dictionary or instance of Warehouse (got resource 'cache')",
        "2 problems in profile 'dev'",
    )


# == 5. Annotations that are not plain classes =============================================

PROTOCOLS = """
import typing
from typing import Annotated, Any, Optional, Protocol, runtime_checkable

from pydantic import BaseModel

import envres
from pipeline import Cache, DuckDBWarehouse, Warehouse, log


class Queries(Protocol):
    def query(self, sql: str) -> str: ...


@runtime_checkable
class CanQuery(Protocol):
    def query(self, sql: str) -> str: ...


@runtime_checkable
class CanPublish(Protocol):
    def publish(self, topic: str) -> None: ...


@runtime_checkable
class HasPath(Protocol):
    path: str
"""

ASSET_MODULE = (
    PROTOCOLS
    + """

@envres.asset
def probe(warehouse: ANNOTATION) -> str:
    log(f"probe got {type(warehouse).__name__}")
    return warehouse.query("x")


defs = envres.Definitions(
    assets=[probe], resource_types={"duckdb": DuckDBWarehouse, "cache": Cache}
)
"""
)

ONE_WAREHOUSE = "resources:\n  warehouse:\n    type: duckdb\n"


def _annotated(tmp_path: Path, module: str, annotation: str, profile: str) -> Project:
    project = proj(tmp_path, profiles={"dev.yaml": profile})
    project.write("annotated.py", module.replace("ANNOTATION", annotation))
    return project


def _validate_then_run(envres_cli: Cli, root: Path, counts: str) -> list[str]:
    """`validate` then `run` of the annotated project, both clean; the run's log lines."""
    log = root / "log"
    validated = envres_cli("validate", "--definitions", "annotated:defs", cwd=root)
    assert (validated.code, validated.out, validated.err) == (
        0,
        f"profile 'dev' is valid ({counts})\n",
        "",
    )
    ran = envres_cli(
        "run", "--definitions", "annotated:defs", cwd=root, env={"ENVRES_TEST_LOG": str(log)}
    )
    assert (ran.code, ran.err) == (0, ""), ran
    return log.read_text().splitlines()


@pytest.mark.parametrize(
    "annotation",
    [
        "Any",
        "object",
        "Warehouse | None",
        "Optional[Warehouse]",
        'Annotated[Warehouse, "x"]',
        "Queries",
        "CanQuery",
        "HasPath",
        "list[str]",
        '"NoSuchName"',
    ],
    ids=[
        "Any",
        "object",
        "union-with-None",
        "Optional",
        "Annotated",
        "plain-Protocol",
        "runtime-Protocol-satisfied",
        "runtime-Protocol-with-data",
        "generic-alias",
        "unresolvable-string",
    ],
)
def test_asset_annotation_that_is_not_a_plain_class_validates_and_runs(
    envres_cli: Cli, tmp_path: Path, annotation: str
) -> None:
    project = _annotated(tmp_path, ASSET_MODULE, annotation, ONE_WAREHOUSE)
    log = _validate_then_run(envres_cli, project.root, "1 resource, 1 asset")
    assert "probe got DuckDBWarehouse" in log


@pytest.mark.parametrize(
    ("annotation", "described"),
    [
        ("CanPublish", "a CanPublish"),
        ('Annotated[Cache, "x"]', "a Cache"),
        ("Cache | None", "a Cache"),
    ],
    ids=["runtime-Protocol-not-satisfied", "Annotated-other-class", "union-of-other-class"],
)
def test_asset_annotation_real_mismatch_is_the_documented_error(
    envres_cli: Cli, tmp_path: Path, annotation: str, described: str
) -> None:
    project = _annotated(tmp_path, ASSET_MODULE, annotation, ONE_WAREHOUSE)
    result = envres_cli("validate", "--definitions", "annotated:defs", cwd=project.root)
    assert_problem(
        result,
        f"profiles/dev.yaml:3:11: E503 resources.warehouse.type: asset 'probe' expects {described} "
        "for 'warehouse', but type 'duckdb' is a DuckDBWarehouse",
        ONE,
    )


FIELD_MODULE = (
    PROTOCOLS
    + """

class User(envres.Resource):
    target: ANNOTATION


@envres.asset
def probe(user: User, warehouse: Warehouse) -> str:
    log(f"target is the live warehouse: {user.target is warehouse}")
    return "ok"


defs = envres.Definitions(
    assets=[probe], resource_types={"duckdb": DuckDBWarehouse, "user": User}
)
"""
)

USER = ONE_WAREHOUSE + "  user:\n    type: user\n    config:\n      target: {resource: warehouse}\n"


@pytest.mark.parametrize(
    "annotation",
    ["Any", "object", "Warehouse | None", 'Annotated[Warehouse, "x"]', "CanQuery"],
    ids=["Any", "object", "union-with-None", "Annotated", "runtime-Protocol-satisfied"],
)
def test_config_field_referring_to_a_resource_validates_and_receives_it(
    envres_cli: Cli, tmp_path: Path, annotation: str
) -> None:
    project = _annotated(tmp_path, FIELD_MODULE, annotation, USER)
    log = _validate_then_run(envres_cli, project.root, "2 resources, 1 asset")
    assert "target is the live warehouse: True" in log


def test_config_field_runtime_protocol_not_satisfied_is_the_documented_error(
    envres_cli: Cli, tmp_path: Path
) -> None:
    project = _annotated(tmp_path, FIELD_MODULE, "CanPublish", USER)
    result = envres_cli("validate", "--definitions", "annotated:defs", cwd=project.root)
    assert_problem(
        result,
        "profiles/dev.yaml:7:26: E502 resources.user.config.target: needs a CanPublish, but "
        "resource 'warehouse' is 'duckdb' (DuckDBWarehouse)",
        ONE,
    )


def test_config_field_list_of_str_given_a_resource_fails_at_validate_not_at_run(
    envres_cli: Cli, tmp_path: Path
) -> None:
    # As for [{resource: warehouse}] in a list[str] (section 4): validate must say so, with
    # the file and line, rather than pass and let the run fail in the resource's setup.
    project = _annotated(tmp_path, FIELD_MODULE, "list[str]", USER)
    result = envres_cli("validate", "--definitions", "annotated:defs", cwd=project.root)
    problem, count = one_problem(result)
    assert problem.startswith("profiles/dev.yaml:7:"), result.err
    assert "resources.user.config.target: " in problem
    assert problem.endswith("(got resource 'warehouse')"), result.err
    assert count == ONE


def test_config_field_plain_protocol_is_a_one_line_definitions_error(
    envres_cli: Cli, tmp_path: Path
) -> None:
    # pydantic cannot check isinstance() against a Protocol that is not runtime-checkable.
    project = _annotated(tmp_path, FIELD_MODULE, "Queries", USER)
    result = envres_cli("validate", "--definitions", "annotated:defs", cwd=project.root)
    problem, count = one_problem(result)
    assert problem.startswith("definitions: E504 importing 'annotated' raised SchemaError")
    assert count == "1 problem"


def test_optional_nested_config_model_is_valid(envres_cli: Cli, tmp_path: Path) -> None:
    module = (
        PROTOCOLS
        + """

class Options(BaseModel):
    timeout: int = 30


class Db(DuckDBWarehouse):
    # Not a secret-looking name: those are masked whole and never looked into.
    options: Options | None = None


@envres.asset
def probe(warehouse: Warehouse) -> str:
    return type(warehouse.options).__name__


defs = envres.Definitions(assets=[probe], resource_types={"db": Db})
"""
    )
    profile = "resources:\n  warehouse:\n    type: db\n    config:\n      options: {timeout: 5}\n"
    project = _annotated(tmp_path, module, "", profile)
    result = envres_cli("validate", "--definitions", "annotated:defs", cwd=project.root)
    assert (result.code, result.out, result.err) == (
        0,
        "profile 'dev' is valid (1 resource, 1 asset)\n",
        "",
    )


# == 6. Profile files whose names are not profile names ====================================

ODD_NAMES = ["prod eu.yaml", "prod.YAML", ".hidden.yaml", "stage.Yml"]
NOT_A_NAME = "is not a profile name: use letters, digits, '-', '_' and '.', not a path"
ODD_WARNINGS = [
    f"envres: warning: W106 profiles/.hidden.yaml is not read: '.hidden' {NOT_A_NAME}",
    f"envres: warning: W106 profiles/prod eu.yaml is not read: 'prod eu' {NOT_A_NAME}",
    "envres: warning: W106 profiles/prod.YAML is not read: profile files end in .yaml or .yml, "
    "in lower case",
    "envres: warning: W106 profiles/stage.Yml is not read: profile files end in .yaml or .yml, "
    "in lower case",
]


def test_each_oddly_named_profile_file_is_named_in_a_warning(
    envres_cli: Cli, tmp_path: Path
) -> None:
    project = proj(tmp_path)
    for name in ODD_NAMES:
        project.profile(name, BASE)
    listed = envres_cli("profiles", cwd=project.root)
    assert (listed.code, listed.err_lines) == (0, ODD_WARNINGS), listed
    assert listed.out == "PROFILE  EXTENDS  FILE\ndev      -        profiles/dev.yaml\n"
    every = envres_cli("validate", "--all", cwd=project.root)
    assert (every.code, every.out, every.err_lines) == (0, VALID_DEV, ODD_WARNINGS)


def test_dev_yml_next_to_dev_yaml_is_an_error(envres_cli: Cli, tmp_path: Path) -> None:
    project = proj(tmp_path)
    project.profile("dev.yml", BASE)
    for command in (("profiles",), ("validate", "--all"), ("validate",)):
        result = envres_cli(*command, cwd=project.root)
        assert_problem(
            result,
            "profiles/dev.yml:1:1: E104 profile 'dev' has two files, profiles/dev.yaml and "
            "profiles/dev.yml; keep one",
            "1 problem",
        )


def test_skipped_files_are_still_named_when_a_duplicate_stops_the_command(
    envres_cli: Cli, tmp_path: Path
) -> None:
    project = proj(tmp_path)
    project.profile("dev.yml", BASE)
    project.profile("prod eu.yaml", BASE)
    for command in (("profiles",), ("validate", "--all")):
        result = envres_cli(*command, cwd=project.root)
        assert (result.code, result.out) == (1, ""), result
        assert "Traceback" not in result.err
        assert sorted(result.err_lines) == sorted(
            [
                ODD_WARNINGS[1],
                "profiles/dev.yml:1:1: E104 profile 'dev' has two files, profiles/dev.yaml and "
                "profiles/dev.yml; keep one",
                "1 problem",
            ]
        ), result.err


def test_warning_for_a_file_name_holding_a_newline_stays_on_one_line(
    envres_cli: Cli, tmp_path: Path
) -> None:
    project = proj(tmp_path)
    project.profile("prod\nerror: forged.yaml", BASE)
    result = envres_cli("profiles", cwd=project.root)
    assert result.code == 0, result
    assert result.out == "PROFILE  EXTENDS  FILE\ndev      -        profiles/dev.yaml\n"
    assert len(result.err_lines) == 1, result.err
    assert result.err_lines[0].startswith("envres: warning: W106 profiles/prod"), result.err


# == 7. envres init ========================================================================


def _init(envres_cli: Cli, folder: Path) -> Result:
    before = snapshot(folder)
    result = envres_cli("init", cwd=folder)
    assert snapshot(folder) == before, "envres init changed the folder it refused"
    return result


def test_init_with_a_pyproject_directory_refuses_and_writes_nothing(
    envres_cli: Cli, tmp_path: Path
) -> None:
    (tmp_path / "pyproject.toml").mkdir()
    result = _init(envres_cli, tmp_path)
    assert_problem(
        result,
        "envres init: E602 pyproject.toml cannot be read: it is a directory",
        "1 problem",
    )


def test_init_with_an_existing_pipeline_py_refuses_and_writes_nothing(
    envres_cli: Cli, tmp_path: Path
) -> None:
    (tmp_path / "pipeline.py").write_text("print('my own pipeline')\n")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "mine"\n')  # appendable
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "notes.txt").write_text("keep me\n")
    result = _init(envres_cli, tmp_path)
    assert_problem(
        result,
        "envres init: E602 pipeline.py already exists; envres init never overwrites a file",
        "1 problem",
    )


def test_init_below_a_regular_file_is_a_one_line_error(envres_cli: Cli, tmp_path: Path) -> None:
    # What root cannot write either: a folder whose parent is a file.
    (tmp_path / "notes").write_text("a file, not a folder\n")
    before = snapshot(tmp_path)
    result = envres_cli("init", "--project", "notes/new", cwd=tmp_path)
    assert snapshot(tmp_path) == before
    problem, count = one_problem(result)
    assert problem.startswith("envres init: E602 notes"), result.err
    assert count == "1 problem"


def test_init_never_writes_through_a_dangling_pyproject_symlink(
    envres_cli: Cli, tmp_path: Path
) -> None:
    # The starter files refuse a symlink ("already exists"); pyproject.toml must too, or
    # init creates a file wherever the link points.
    folder, outside = tmp_path / "work", tmp_path / "outside"
    folder.mkdir()
    outside.mkdir()
    (folder / "pyproject.toml").symlink_to(outside / "pyproject.toml")
    before = snapshot(folder)
    result = envres_cli("init", cwd=folder)
    assert "Traceback" not in result.err
    assert (result.code, result.out) == (1, ""), result
    assert result.err_lines[0].startswith("envres init: E602 pyproject.toml"), result.err
    assert list(outside.iterdir()) == []
    assert snapshot(folder) == before


def test_init_with_a_fifo_pyproject_returns_promptly_and_writes_nothing(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pyproject.toml")
    before = snapshot(tmp_path)
    result = run_real("init", cwd=tmp_path, timeout=SHORT)
    problem, _ = one_problem(result)
    assert problem.startswith("envres init: E602 pyproject.toml"), result.err
    assert snapshot(tmp_path) == before


# == 8. Odd command-line input =============================================================


def test_profile_flag_climbing_out_of_the_folder_is_refused_unread(
    envres_cli: Cli, tmp_path: Path
) -> None:
    project = proj(tmp_path)
    project.write("dev.yaml", "resources: [\n")  # what ../dev would read: broken YAML
    result = envres_cli("validate", "--profile", "../dev", cwd=project.root)
    assert_problem(result, f"envres: E204 '../dev' {NOT_A_NAME}")


@pytest.mark.parametrize(
    ("given", "shown"), [("", "''"), ("dev\x00", "'dev\\x00'")], ids=["empty", "nul"]
)
def test_profile_flag_empty_or_with_a_nul_is_one_line_exit_1(
    envres_cli: Cli, tmp_path: Path, given: str, shown: str
) -> None:
    # click passes the NUL through unchanged (only in-process: an OS argv cannot hold one).
    result = envres_cli("validate", "--profile", given, cwd=proj(tmp_path).root)
    assert_problem(result, f"envres: E204 {shown} {NOT_A_NAME}")


def test_profile_flag_with_a_newline_is_still_a_one_line_error(
    envres_cli: Cli, tmp_path: Path
) -> None:
    result = envres_cli("validate", "--profile", "dev\nerror: forged", cwd=proj(tmp_path).root)
    assert "Traceback" not in result.err
    assert (result.code, result.out) == (1, ""), result
    assert len(result.err_lines) == 1, result.err
    assert result.err_lines[0].endswith(NOT_A_NAME), result.err


def test_project_flag_naming_a_file_is_a_usage_error(envres_cli: Cli, tmp_path: Path) -> None:
    project = proj(tmp_path)
    result = envres_cli("validate", "--project", "pyproject.toml", cwd=project.root)
    assert (result.code, result.out) == (2, ""), result
    assert "Traceback" not in result.err
    assert result.err_lines[-1] == (
        "Error: Invalid value for '--project': Directory 'pyproject.toml' is a file."
    )


@pytest.mark.parametrize(
    "args",
    [("validate", "--project"), ("validate", "--profiles-dir"), ("init", "--project")],
    ids=["validate-project", "validate-profiles-dir", "init-project"],
)
def test_folder_flag_holding_a_nul_is_a_usage_error(
    envres_cli: Cli, tmp_path: Path, args: tuple[str, str]
) -> None:
    result = envres_cli(*args, "a\x00b", cwd=proj(tmp_path).root)
    assert "Traceback" not in result.err
    assert (result.code, result.out) == (2, ""), result
    assert args[1] in result.err_lines[-1], result.err


def test_definitions_flag_without_a_colon_is_one_line_exit_1(
    envres_cli: Cli, tmp_path: Path
) -> None:
    result = envres_cli("validate", "--definitions", "pipeline", cwd=proj(tmp_path).root)
    assert_problem(
        result,
        "definitions: E504 definitions 'pipeline' must be of the form 'module:attribute'",
        "1 problem",
    )


@pytest.mark.parametrize(
    ("asset", "message"),
    [
        (
            "ordres",
            "unknown asset 'ordres'; did you mean 'orders'? (assets: daily_revenue, orders)",
        ),
        ("", "unknown asset '' (assets: daily_revenue, orders)"),
    ],
    ids=["near-miss", "empty"],
)
def test_run_unknown_asset_is_a_usage_error_before_the_profile_is_read(
    envres_cli: Cli, tmp_path: Path, asset: str, message: str
) -> None:
    log = tmp_path / "log"
    project = proj(tmp_path, profiles={"dev.yaml": "resources: [\n"})  # broken, never read
    result = envres_cli("run", asset, cwd=project.root, env={"ENVRES_TEST_LOG": str(log)})
    assert_problem(result, f"envres: {message}", code=2)
    assert not log.exists()


def test_run_jobs_0_is_a_usage_error_before_the_profile_is_read(
    envres_cli: Cli, tmp_path: Path
) -> None:
    project = proj(tmp_path, profiles={"dev.yaml": "resources: [\n"})
    result = envres_cli("run", "--jobs", "0", cwd=project.root)
    assert (result.code, result.out) == (2, ""), result
    assert "Traceback" not in result.err
    assert result.err_lines[-1] == (
        "Error: Invalid value for '--jobs' / '-j': 0 is not in the range x>=1."
    )
    assert "YAML" not in result.err


def test_diff_of_a_profile_with_itself_resolves_the_same(envres_cli: Cli, tmp_path: Path) -> None:
    result = envres_cli("diff", "dev", "dev", cwd=proj(tmp_path).root)
    assert (result.code, result.out, result.err) == (
        0,
        "profiles 'dev' and 'dev' resolve the same\n",
        "",
    )
