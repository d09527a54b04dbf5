"""Malformed and hostile profiles: each fails with one clear line and the right exit code.

Every row of :data:`CASES` writes some files into a fresh project, runs one command
in-process and checks the exact exit code, the exact stderr (every line, or the first
line), the exact stdout (empty for every failure), that no traceback is printed, and
that the command returns quickly (no hang on alias bombs, deep nesting or huge files).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import BASE, DEFINITIONS, Cli, make_project

# The standard definitions plus a resource type whose validator raises things pydantic
# does not turn into validation errors (KeyError, RuntimeError).
HOSTILE_DEFINITIONS = DEFINITIONS.replace(
    "defs = envres.Definitions(",
    """
from pydantic import field_validator


class Picky(envres.Resource):
    name: str = "ok"

    @field_validator("name")
    @classmethod
    def _check(cls, value: str) -> str:
        if value == "key":
            raise KeyError("no such thing")
        if value == "runtime":
            raise RuntimeError("validator exploded\\nwith a second line")
        if value == "value":
            raise ValueError("must not be 'value'")
        return value


defs = envres.Definitions(""",
).replace('"slack": slack,', '"slack": slack,\n        "picky": Picky,')

# Definitions with no assets, so that a profile with no resources is valid.
BARE_DEFINITIONS = """
import envres
from pipeline import Cache

defs = envres.Definitions(assets=[], resource_types={"cache": Cache})
"""

DEV = "profiles/dev.yaml"
VALID_DEV = "profile 'dev' is valid (2 resources, 2 assets)\n"
ONE = "1 problem in profile 'dev'"
# BASE without its first line ("resources:"), to put keys above it.
RESOURCES = BASE.split("\n", 1)[1]


def with_path(value: str) -> str:
    """BASE with the warehouse path replaced by ``value`` (written as YAML)."""
    return BASE.replace("${WAREHOUSE_PATH:-data/dev.duckdb}", value)


def with_type(type_text: str) -> str:
    return BASE.replace("type: duckdb", f"type: {type_text}")


def with_config(*lines: str) -> str:
    return BASE.replace(
        "      path: ${WAREHOUSE_PATH:-data/dev.duckdb}\n", "".join(f"      {x}\n" for x in lines)
    )


def picky(name: str) -> str:
    return BASE + f"  checker:\n    type: picky\n    config:\n      name: {name}\n"


def alias_bomb() -> str:
    text = 'x-a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    previous = "a"
    for name in "bcdefghi":
        text += f"x-{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]\n"
        previous = name
    return text + BASE


@dataclass(frozen=True)
class Case:
    id: str
    files: Mapping[str, str | bytes | None]  # None makes a directory
    code: int
    err: tuple[str, ...] | None = None  # every stderr line, exactly
    first: str | None = None  # the first stderr line, exactly
    first_re: str | None = None  # the first stderr line, as a regular expression
    out: str | None = ""  # stdout exactly (None: not checked here, see out_has)
    out_has: tuple[str, ...] = ()  # lines stdout must contain
    args: tuple[str, ...] = ("validate",)
    env: Mapping[str, str] = field(default_factory=dict)


def problem(*lines: str) -> tuple[str, ...]:
    """The stderr of a profile with exactly these problems."""
    n = len(lines)
    return (*lines, f"{n} problem{'s' if n != 1 else ''} in profile 'dev'")


#: The last line of `validate` when only unset variables stop a profile.
_HINT = (
    "hint: --allow-missing-env checks structure and types without them (unset variables "
    "become warnings)"
)


CASES: list[Case] = [
    # --- YAML syntax ---------------------------------------------------------------------
    Case(
        "unclosed-quote",
        {DEV: 'resources:\n  warehouse:\n    type: "duckdb\n'},
        1,
        problem(
            "profiles/dev.yaml:4:1: E101 YAML syntax error: found unexpected end of stream "
            "(while scanning a quoted scalar at line 3, column 11)"
        ),
    ),
    Case(
        "unclosed-flow-mapping",
        {DEV: "resources:\n  warehouse: {type: duckdb\n  notifier:\n    type: console\n"},
        1,
        problem(
            "profiles/dev.yaml:3:11: E101 YAML syntax error: did not find expected ',' or '}' "
            "(while parsing a flow mapping at line 2, column 14)"
        ),
    ),
    Case(
        "unclosed-flow-sequence",
        {DEV: "extends: [base\n" + BASE},
        1,
        problem(
            "profiles/dev.yaml:2:10: E101 YAML syntax error: did not find expected ',' or ']' "
            "(while parsing a flow sequence at line 1, column 10)"
        ),
    ),
    Case(
        "bad-indentation",
        {DEV: "resources:\n  warehouse:\n    type: duckdb\n   config: {}\n"},
        1,
        problem(
            "profiles/dev.yaml:4:4: E101 YAML syntax error: did not find expected key "
            "(while parsing a block mapping at line 2, column 3)"
        ),
    ),
    Case(
        "tab-indentation",
        {DEV: "resources:\n\twarehouse:\n\t\ttype: duckdb\n"},
        1,
        problem(
            "profiles/dev.yaml:2:1: E101 YAML syntax error: found character '\\t' "
            "that cannot start any token (indent with spaces: YAML does not allow tabs)"
        ),
    ),
    Case(
        "stray-colon-in-a-value",
        {DEV: "resources:\n  warehouse:\n    type: duckdb: x\n"},
        1,
        problem(
            "profiles/dev.yaml:3:17: E101 YAML syntax error: mapping values are not allowed "
            "in this context"
        ),
    ),
    Case(
        "stray-colon-two-keys-on-one-line",
        {DEV: "resources:\n  warehouse: type: duckdb\n"},
        1,
        problem(
            "profiles/dev.yaml:2:18: E101 YAML syntax error: mapping values are not allowed "
            "in this context"
        ),
    ),
    Case(
        "non-utf8-bytes",
        {DEV: b'resources:\n  warehouse:\n    type: duckdb\n    config: {path: "caf\xe9"}\n'},
        1,
        problem("profiles/dev.yaml:4:24: E101 file is not valid UTF-8 (byte 0xe9 at offset 64)"),
    ),
    Case(
        "nul-byte",
        {DEV: BASE + 'x-note: "a\x00b"\n'},
        1,
        problem("profiles/dev.yaml:8:11: E101 character U+0000 is not allowed in a YAML file"),
    ),
    Case("utf8-bom-is-accepted", {DEV: b"\xef\xbb\xbf" + BASE.encode()}, 0, (), out=VALID_DEV),
    # --- duplicate keys ------------------------------------------------------------------
    Case(
        "duplicate-top-level-key",
        {DEV: BASE + "resources: {}\n"},
        1,
        problem("profiles/dev.yaml:8:1: E102 duplicate key 'resources' (first written at line 1)"),
    ),
    Case(
        "duplicate-resource-key",
        {DEV: BASE + "  warehouse:\n    type: duckdb\n"},
        1,
        problem("profiles/dev.yaml:8:3: E102 duplicate key 'warehouse' (first written at line 2)"),
    ),
    Case(
        "duplicate-config-field",
        {DEV: with_config("path: a.db", "read_only: true", "path: b.db")},
        1,
        problem("profiles/dev.yaml:7:7: E102 duplicate key 'path' (first written at line 5)"),
    ),
    Case(
        "duplicate-key-inside-a-list-item",
        {DEV: BASE + "x-hosts:\n  - name: a\n    port: 1\n    name: b\n"},
        1,
        problem("profiles/dev.yaml:11:5: E102 duplicate key 'name' (first written at line 9)"),
    ),
    Case(
        "duplicate-merge-key",
        {DEV: "x-a: &a {type: duckdb}\nresources:\n  warehouse:\n    <<: *a\n    <<: *a\n"},
        1,
        problem("profiles/dev.yaml:5:5: E102 duplicate key '<<' (first written at line 4)"),
    ),
    # --- anchors, aliases, merge keys ----------------------------------------------------
    Case(
        "anchor-and-merge-key-are-valid",
        {
            DEV: "x-warehouse: &wh\n  type: duckdb\n  config: {path: a.db}\n"
            "resources:\n  warehouse:\n    <<: *wh\n  notifier:\n    type: console\n"
        },
        0,
        (),
        out=VALID_DEV,
    ),
    Case(
        "merge-of-a-list-of-anchors-is-valid",
        {
            DEV: "x-a: &a {type: duckdb}\nx-b: &b {config: {path: p.db}}\nresources:\n"
            "  warehouse:\n    <<: [*a, *b]\n  notifier:\n    type: console\n"
        },
        0,
        (),
        args=("show",),
        out=None,
        out_has=("    type: duckdb", "      path: p.db"),
    ),
    Case(
        "merge-of-a-scalar-is-an-error",
        {
            DEV: "x-a: &a duckdb\nresources:\n  warehouse:\n    <<: *a\n"
            "  notifier:\n    type: console\n"
        },
        1,
        problem(
            "profiles/dev.yaml:4:9: E101 merge key '<<' takes a mapping or a list of mappings; "
            "got a string"
        ),
    ),
    Case(
        "alias-bomb-fails-fast",
        {DEV: alias_bomb()},
        1,
        problem(
            "profiles/dev.yaml:5:10: E101 too many alias expansions (more than 10000 nodes); "
            "the file looks like an alias bomb"
        ),
    ),
    Case(
        "recursive-alias",
        {DEV: "x-a: &a [*a]\n" + BASE},
        1,
        problem(
            "profiles/dev.yaml:1:10: E101 alias '*a' is inside the value it refers to "
            "(a recursive alias)"
        ),
    ),
    Case(
        "undefined-alias",
        {DEV: "resources:\n  warehouse: *nope\n"},
        1,
        problem(
            "profiles/dev.yaml:2:14: E101 alias '*nope' refers to no anchor; "
            "write '&nope' on a value before it"
        ),
    ),
    # --- size and depth ------------------------------------------------------------------
    Case(
        "deep-flow-nesting",
        {DEV: "x-deep: " + "[" * 50_000 + "]" * 50_000 + "\n" + BASE},
        1,
        problem("profiles/dev.yaml:1:108: E101 nesting deeper than 100 levels"),
    ),
    Case(
        "deep-block-nesting",
        {DEV: "x-deep:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 300)) + BASE},
        1,
        problem("profiles/dev.yaml:101:201: E101 nesting deeper than 100 levels"),
    ),
    Case(
        "five-megabytes-of-comments-are-fine",
        {DEV: BASE + ("# " + "x" * 98 + "\n") * 50_000},
        0,
        (),
        out=VALID_DEV,
    ),
    Case(
        "twenty-thousand-resources-are-fine",
        {DEV: BASE + "".join(f"  cache_{i}:\n    type: cache\n" for i in range(20_000))},
        0,
        (),
        out="profile 'dev' is valid (20002 resources, 2 assets)\n",
    ),
    # --- tags and document shape -----------------------------------------------------------
    Case(
        "python-object-apply-tag",
        {DEV: "resources:\n  warehouse: !!python/object/apply:os.system ['echo PWNED']\n"},
        1,
        problem(
            "profiles/dev.yaml:2:14: E101 unsupported tag '!!python/object/apply:os.system'; "
            "profiles hold plain data only"
        ),
    ),
    Case(
        "python-name-tag",
        {DEV: "resources:\n  warehouse:\n    type: !!python/name:os.system\n"},
        1,
        problem(
            "profiles/dev.yaml:3:11: E101 unsupported tag '!!python/name:os.system'; "
            "profiles hold plain data only"
        ),
    ),
    Case(
        "custom-tag",
        {DEV: "resources:\n  warehouse:\n    type: !duck duckdb\n"},
        1,
        problem(
            "profiles/dev.yaml:3:11: E101 unsupported tag '!duck'; profiles hold plain data only"
        ),
    ),
    Case(
        "two-documents",
        {DEV: BASE + "---\n" + BASE},
        1,
        problem(
            "profiles/dev.yaml:8:1: E101 a profile holds one YAML document; found a second one"
        ),
    ),
    Case(
        "top-level-list",
        {DEV: "- resources\n"},
        1,
        problem(
            "profiles/dev.yaml:1:1: E201 a profile is a mapping with 'resources:'; found a list"
        ),
    ),
    Case(
        "top-level-scalar",
        {DEV: "hello\n"},
        1,
        problem(
            "profiles/dev.yaml:1:1: E201 a profile is a mapping with 'resources:'; "
            "found the string 'hello'"
        ),
    ),
    Case(
        "top-level-huge-scalar-is-not-echoed",
        {DEV: "x" * 100_000 + "\n"},
        1,
        first_re=r"profiles/dev\.yaml:1:1: E201 a profile is a mapping with 'resources:'; found "
        r".{0,80}",
    ),
    Case(
        "unknown-top-level-key-near-miss",
        {DEV: BASE + "resource: {}\n"},
        1,
        problem(
            "profiles/dev.yaml:8:1: E201 unknown top-level key 'resource'; did you mean "
            "'resources'? "
            "(allowed: extends, env_files, resources, and x-* for anchors)"
        ),
    ),
    Case(
        "unknown-top-level-key-far-miss",
        {DEV: BASE + "version: 2\n"},
        1,
        problem(
            "profiles/dev.yaml:8:1: E201 unknown top-level key 'version' "
            "(allowed: extends, env_files, resources, and x-* for anchors)"
        ),
    ),
    # --- extends and profile names -----------------------------------------------------------
    Case(
        "extends-itself",
        {DEV: "extends: dev\n" + BASE},
        1,
        problem("profiles/dev.yaml:1:10: E203 extends: cycle: dev -> dev"),
    ),
    Case(
        "extends-cycle-of-three",
        {
            DEV: "extends: a\n" + BASE,
            "profiles/a.yaml": "extends: b\n",
            "profiles/b.yaml": "extends: dev\n",
        },
        1,
        problem("profiles/b.yaml:1:10: E203 extends: cycle: dev -> a -> b -> dev"),
    ),
    Case(
        "extends-missing-profile-near-miss",
        {DEV: "extends: bsae\nresources:\n" + RESOURCES, "profiles/base.yaml": BASE},
        1,
        problem(
            "profiles/dev.yaml:1:10: E202 extends: profile 'bsae' does not exist; did you mean "
            "'base'?"
        ),
    ),
    Case(
        "extends-missing-profile-far-miss",
        {DEV: "extends: zzz\n" + BASE},
        1,
        problem("profiles/dev.yaml:1:10: E202 extends: profile 'zzz' does not exist"),
    ),
    Case(
        "extends-a-relative-path",
        {DEV: "extends: ../outside\n" + BASE, "outside.yaml": BASE},
        1,
        problem(
            "profiles/dev.yaml:1:10: E202 extends: '../outside' is not a profile name: "
            "use letters, digits, '-', '_' and '.', not a path"
        ),
    ),
    Case(
        "extends-an-absolute-path",
        {DEV: "extends: /etc/passwd\n" + BASE},
        1,
        problem(
            "profiles/dev.yaml:1:10: E202 extends: '/etc/passwd' is not a profile name: "
            "use letters, digits, '-', '_' and '.', not a path"
        ),
    ),
    Case(
        "extends-not-a-name",
        {DEV: "extends: [1]\n" + BASE},
        1,
        problem(
            "profiles/dev.yaml:1:11: E201 extends takes a name or a list of names; found the "
            "number 1"
        ),
    ),
    Case(
        "profile-flag-with-a-path",
        {DEV: BASE, "outside.yaml": BASE},
        1,
        (
            "envres: E204 '../outside' is not a profile name: use letters, digits, '-', '_' and "
            "'.', "
            "not a path",
        ),
        args=("validate", "--profile", "../outside"),
    ),
    Case(
        "profile-variable-with-an-absolute-path",
        {DEV: BASE},
        1,
        (
            "envres: E204 '/etc/passwd' is not a profile name: use letters, digits, '-', '_' and "
            "'.', "
            "not a path",
        ),
        env={"ENVRES_PROFILE": "/etc/passwd"},
    ),
    Case(
        "selecting-a-partial",
        {DEV: BASE, "profiles/_common.yaml": BASE},
        1,
        (
            "envres: E204 profile '_common' is a partial (its name starts with '_'): other "
            "profiles "
            "can extend it, but it cannot be selected",
        ),
        args=("validate", "--profile", "_common"),
    ),
    Case(
        "profile-file-that-is-a-directory",
        {DEV: None},
        1,
        first_re=r".*profiles/dev\.yaml\b.*\bdirectory\b.*",
    ),
    Case(
        "empty-profile-file-is-valid",
        {DEV: "", "bare.py": BARE_DEFINITIONS},
        0,
        (),
        out="profile 'dev' is valid (0 resources, 0 assets)\n",
        args=("validate", "--definitions", "bare:defs"),
    ),
    Case(
        "empty-profile-file-lacks-what-assets-need",
        {DEV: "# nothing yet\n"},
        1,
        (
            "profiles/dev.yaml:1:1: E501 profile 'dev' is empty, but the assets need warehouse, "
            "notifier: define them under 'resources:'",
            "1 problem in profile 'dev'",
        ),
    ),
    Case(
        "resources-null-is-valid",
        {DEV: "resources: null\n", "bare.py": BARE_DEFINITIONS},
        0,
        (),
        out="profile 'dev' is valid (0 resources, 0 assets)\n",
        args=("validate", "--definitions", "bare:defs"),
    ),
    Case(
        "resources-a-list",
        {DEV: "resources: [warehouse]\n"},
        1,
        problem(
            "profiles/dev.yaml:1:12: E201 resources: must be a mapping of resource keys; found a "
            "list"
        ),
    ),
    Case(
        "resource-key-not-an-identifier",
        {DEV: BASE.replace("  warehouse:", "  my-warehouse:")},
        1,
        problem(
            "profiles/dev.yaml:2:3: E201 resources: resource key 'my-warehouse' must be a Python "
            "identifier (assets receive it by parameter name)"
        ),
    ),
    Case(
        "resource-key-an-integer",
        {DEV: "resources:\n  1: {type: cache}\n"},
        1,
        problem(
            'profiles/dev.yaml:2:3: E101 mapping keys must be strings; got int 1 (quote it: "1")'
        ),
    ),
    Case(
        "resource-entry-a-string",
        {DEV: BASE.replace("  notifier:\n    type: console\n", "  notifier: console\n")},
        1,
        problem(
            "profiles/dev.yaml:6:13: E201 resources.notifier: expected a mapping with 'type:' and "
            "'config:'; found the string 'console'"
        ),
    ),
    Case(
        "resource-entry-a-huge-string-is-not-echoed",
        {DEV: "resources:\n  warehouse: " + "y" * 5000 + "\n"},
        1,
        first_re=r"profiles/dev\.yaml:2:14: E201 resources\.warehouse: expected a mapping with "
        r"'type:' and 'config:'; found .{0,80}",
    ),
    Case(
        "resource-entry-unknown-key",
        {DEV: BASE.replace("    config:", "    confg:")},
        1,
        problem(
            "profiles/dev.yaml:4:5: E201 resources.warehouse: unknown key 'confg'; "
            "did you mean 'config'? (allowed: type, config)"
        ),
    ),
    Case(
        "type-missing",
        {DEV: BASE.replace("    type: duckdb\n", "")},
        1,
        problem(
            "profiles/dev.yaml:2:3: E302 resources.warehouse: no type: add `type:` "
            "(a short name, an entry point or 'package.module:Class')"
        ),
    ),
    Case(
        "type-not-a-string",
        {DEV: with_type("1")},
        1,
        problem(
            "profiles/dev.yaml:3:11: E201 resources.warehouse.type: type must be a string "
            "(a short name, an entry point or 'package.module:Class'); found the number 1"
        ),
    ),
    # --- resource types ------------------------------------------------------------------
    Case(
        "unknown-type-near-miss",
        {DEV: with_type("duckbd")},
        1,
        problem(
            "profiles/dev.yaml:3:11: E301 resources.warehouse.type: unknown resource type "
            "'duckbd'; "
            "did you mean 'duckdb'? "
            "(known types: cache, console, duckdb, picky, postgres, report, slack)"
        ),
    ),
    Case(
        "unknown-type-far-miss",
        {DEV: with_type("mongodb")},
        1,
        problem(
            "profiles/dev.yaml:3:11: E301 resources.warehouse.type: unknown resource type "
            "'mongodb' "
            "(known types: cache, console, duckdb, picky, postgres, report, slack); a type is a "
            "short name from Definitions(resource_types=...), a plugin's entry point, or "
            "'package.module:Class'"
        ),
    ),
    Case(
        "import-path-whose-module-raises",
        {DEV: with_type("'broken:Thing'"), "broken.py": "raise RuntimeError('boom\\nline 2')\n"},
        1,
        problem(
            "profiles/dev.yaml:3:11: E301 resources.warehouse.type: cannot import type "
            "'broken:Thing': importing it raised RuntimeError: boom"
        ),
    ),
    Case(
        "import-path-whose-module-does-not-exist",
        {DEV: with_type("'nosuch.mod:Thing'")},
        1,
        problem(
            "profiles/dev.yaml:3:11: E301 resources.warehouse.type: cannot import type "
            "'nosuch.mod:Thing': no module named 'nosuch'"
        ),
    ),
    Case(
        "import-path-whose-attribute-is-missing",
        {DEV: with_type("'pipeline:Nope'")},
        1,
        problem(
            "profiles/dev.yaml:3:11: E301 resources.warehouse.type: cannot import type "
            "'pipeline:Nope': module 'pipeline' has no 'Nope'"
        ),
    ),
    Case(
        "import-path-to-a-function-that-is-not-a-resource",
        {DEV: with_type("'pipeline:log'")},
        1,
        # One statement, no memory address: "type 'pipeline:log' is not a resource type:
        # a function; subclass envres.Resource or decorate ... with @envres.resource".
        first_re=r"(?!.*\b0x[0-9a-f]+)(?!.*is not a resource type.*is not a resource type)"
        r"profiles/dev\.yaml:3:11: E301 resources\.warehouse\.type: type 'pipeline:log' "
        r"(is|is an? [\w ]+,) not a resource type.*@envres\.resource.*",
    ),
    Case(
        "import-path-to-a-class-that-is-not-a-resource",
        {DEV: with_type("'os:PathLike'")},
        1,
        first_re=r"(?!.*is not a resource type.*is not a resource type)"
        r"profiles/dev\.yaml:3:11: E301 resources\.warehouse\.type: type 'os:PathLike' "
        r"(is|is an? [\w ]+,) not a resource type.*@envres\.resource.*",
    ),
    Case(
        "import-path-without-module-or-class",
        {DEV: with_type("':'")},
        1,
        problem(
            "profiles/dev.yaml:3:11: E301 resources.warehouse.type: type ':' is not an import path "
            "of the form 'package.module:Class'"
        ),
    ),
    # --- config --------------------------------------------------------------------------
    Case(
        "unknown-config-field",
        {DEV: with_config("pathh: x.db")},
        1,
        problem(
            "profiles/dev.yaml:5:7: E303 resources.warehouse.config.pathh: unknown field 'pathh'; "
            "did you mean 'path'? (fields: path, read_only)"
        ),
    ),
    Case(
        "config-field-of-the-wrong-type",
        {DEV: with_config("read_only: maybe")},
        1,
        problem(
            "profiles/dev.yaml:5:18: E303 resources.warehouse.config.read_only: "
            "input should be a valid boolean (got 'maybe')"
        ),
    ),
    Case(
        "config-field-a-list-instead-of-a-string",
        {DEV: with_config("path: [a, b]")},
        1,
        problem(
            "profiles/dev.yaml:5:13: E303 resources.warehouse.config.path: "
            "input should be a valid string"
        ),
    ),
    Case(
        "config-missing-a-required-field",
        {
            DEV: BASE.replace("type: duckdb", "type: postgres").replace(
                "path: ${WAREHOUSE_PATH:-data/dev.duckdb}", "dsn: postgresql://x"
            )
        },
        1,
        problem(
            "profiles/dev.yaml:4:5: E303 resources.warehouse.config.password: "
            "missing required field 'password'"
        ),
    ),
    Case(
        "config-not-a-mapping",
        {
            DEV: BASE.replace(
                "    config:\n      path: ${WAREHOUSE_PATH:-data/dev.duckdb}", "    config: [1]"
            )
        },
        1,
        problem(
            "profiles/dev.yaml:4:13: E201 resources.warehouse.config: "
            "config must be a mapping of field names to values; found a list"
        ),
    ),
    Case(
        "integer-too-long-to-read",
        {DEV: BASE + "  cache:\n    type: cache\n    config: {size: " + "9" * 5000 + "}\n"},
        1,
        problem("profiles/dev.yaml:10:20: E101 integer with 5000 digits is too long to read"),
    ),
    Case(
        "validator-raising-keyerror",
        {DEV: picky("key")},
        1,
        problem(
            "profiles/dev.yaml:10:5: E303 resources.checker.config: validating the config of type "
            "'picky' raised KeyError: 'no such thing'"
        ),
    ),
    Case(
        "validator-raising-a-two-line-runtimeerror",
        {DEV: picky("runtime")},
        1,
        problem(
            "profiles/dev.yaml:10:5: E303 resources.checker.config: validating the config of type "
            "'picky' raised RuntimeError: validator exploded"
        ),
    ),
    Case(
        "validator-raising-valueerror",
        {DEV: picky("value")},
        1,
        problem(
            "profiles/dev.yaml:11:13: E303 resources.checker.config.name: "
            "value error, must not be 'value' (got 'value')"
        ),
    ),
    # --- interpolation -------------------------------------------------------------------
    Case(
        "unset-variable",
        {DEV: with_path("${NOPE}")},
        1,
        (
            *problem(
                "profiles/dev.yaml:5:13: E401 resources.warehouse.config.path: "
                "environment variable NOPE is not set"
            ),
            _HINT,
        ),
    ),
    Case(
        "required-variable-with-a-message",
        {DEV: with_path("${NOPE:?set NOPE to the database file}")},
        1,
        (
            *problem(
                "profiles/dev.yaml:5:13: E401 resources.warehouse.config.path: "
                "environment variable NOPE is not set: set NOPE to the database file"
            ),
            _HINT,
        ),
    ),
    Case(
        "empty-braces",
        {DEV: with_path("x${}y")},
        1,
        problem(
            "profiles/dev.yaml:5:13: E402 resources.warehouse.config.path: invalid interpolation "
            '"${}": '
            'expected a variable name after "${" (letters, digits and _, not starting with a digit)'
        ),
    ),
    Case(
        "variable-name-starting-with-a-digit",
        {DEV: with_path("${1A}")},
        1,
        problem(
            "profiles/dev.yaml:5:13: E402 resources.warehouse.config.path: invalid interpolation "
            '"${1A}": expected a variable name after "${" '
            "(letters, digits and _, not starting with a digit)"
        ),
    ),
    Case(
        "unterminated-braces",
        {DEV: with_path("'${A'")},
        1,
        problem(
            "profiles/dev.yaml:5:13: E402 resources.warehouse.config.path: invalid interpolation "
            '"${A": '
            'unterminated "${", missing "}"'
        ),
    ),
    Case(
        "unknown-operator",
        {DEV: with_path("'${A!x}'")},
        1,
        problem(
            "profiles/dev.yaml:5:13: E402 resources.warehouse.config.path: invalid interpolation "
            '"${A!x}": unexpected "!" after the variable name A; expected "}" or one of '
            '":-", "-", ":?", "?", ":+", "+"'
        ),
    ),
    # --- templates -----------------------------------------------------------------------
    Case(
        "template-undefined-name",
        {DEV: with_path("'{{ nope }}'")},
        1,
        problem(
            "profiles/dev.yaml:5:13: E403 resources.warehouse.config.path: "
            "template error: 'nope' is undefined"
        ),
    ),
    Case(
        "template-syntax-error",
        {DEV: with_path("'{{ 1 + }}'")},
        1,
        problem(
            "profiles/dev.yaml:5:13: E403 resources.warehouse.config.path: "
            "template syntax error on line 1: unexpected 'end of print statement'"
        ),
    ),
    Case(
        "template-sandbox-refuses-mro",
        {DEV: with_path("\"{{ ''.__class__.__mro__ }}\"")},
        1,
        problem(
            "profiles/dev.yaml:5:13: E403 resources.warehouse.config.path: template refused by the "
            "sandbox: access to attribute '__class__' of 'str' object is unsafe."
        ),
    ),
    Case(
        "template-sandbox-refuses-cycler-globals",
        {DEV: with_path("'{{ cycler.__init__.__globals__ }}'")},
        1,
        problem(
            "profiles/dev.yaml:5:13: E403 resources.warehouse.config.path: template refused by the "
            "sandbox: access to attribute '__init__' of 'StrictUndefined' object is unsafe."
        ),
    ),
    Case(
        "template-sandbox-refuses-env-function-globals",
        {DEV: with_path("'{{ env.__globals__ }}'")},
        1,
        problem(
            "profiles/dev.yaml:5:13: E403 resources.warehouse.config.path: template refused by the "
            "sandbox: access to attribute '__globals__' of 'function' object is unsafe."
        ),
    ),
    Case(
        "template-include-has-no-loader",
        {DEV: with_path("\"{% include '/etc/passwd' %}\"")},
        1,
        problem(
            "profiles/dev.yaml:5:13: E403 resources.warehouse.config.path: "
            "template error: TypeError: no loader for this environment specified"
        ),
    ),
    Case(
        "template-huge-repeat-fails-fast",
        {DEV: with_path("\"{{ 'x' * 100000000 }}\"")},
        1,
        problem(
            "profiles/dev.yaml:5:13: E403 resources.warehouse.config.path: template refused by the "
            "sandbox: repeating a sequence would be larger than 1000000 characters"
        ),
    ),
    # --- values from the environment are never scanned again ------------------------------
    Case(
        "env-value-holding-interpolation-stays-literal",
        {DEV: with_path("${WP}")},
        0,
        (),
        args=("show",),
        env={"WP": "${OTHER}", "OTHER": "expanded"},
        out=None,
        out_has=("      path: ${OTHER}",),
    ),
    Case(
        "env-value-holding-a-template-stays-literal",
        {DEV: with_path("${WP}")},
        0,
        (),
        args=("show",),
        env={"WP": "{{ 7*7 }}"},
        out=None,
        out_has=("      path: '{{ 7*7 }}'",),
    ),
    Case(
        "env-value-read-by-a-template-stays-literal",
        {DEV: with_path("\"{{ env('WP') }}-{{ profile }}-${WP}\"")},
        0,
        (),
        args=("show",),
        env={"WP": "{{ 7*7 }}${OTHER}", "OTHER": "expanded"},
        out=None,
        out_has=("      path: '{{ 7*7 }}${OTHER}-dev-{{ 7*7 }}${OTHER}'",),
    ),
    Case(
        "env-file-value-stays-literal",
        {
            DEV: "env_files: [.env.dev]\n" + with_path("${WP}"),
            "profiles/.env.dev": "WP='{{ 7*7 }}${OTHER}'\n",
        },
        0,
        (),
        args=("show",),
        env={"OTHER": "expanded"},
        out=None,
        out_has=("      path: '{{ 7*7 }}${OTHER}'",),
    ),
    # --- env files -----------------------------------------------------------------------
    Case(
        "env-file-missing",
        {DEV: "env_files: [.env.missing]\n" + BASE},
        1,
        problem(
            "profiles/dev.yaml:1:13: E105 env_files: env file profiles/.env.missing does not exist"
        ),
    ),
    Case(
        "env-file-not-utf8",
        {DEV: "env_files: [.env.bad]\n" + BASE, "profiles/.env.bad": b"A=1\nB=caf\xe9\n"},
        1,
        problem("profiles/.env.bad:2:1: E105 env file is not valid UTF-8"),
    ),
    Case(
        "env-file-malformed-line",
        {
            DEV: "env_files: [.env.bad]\n" + BASE,
            "profiles/.env.bad": "A=1\nthis is not a line\nB=2\n",
        },
        1,
        problem(
            "profiles/.env.bad:2:1: E105 cannot parse this line of the env file: expected "
            "NAME=value (the line is not shown, as it may hold a secret)"
        ),
    ),
    Case(
        "env-file-that-is-a-directory",
        {DEV: "env_files: [sub]\n" + BASE, "profiles/sub": None},
        1,
        problem(
            "profiles/dev.yaml:1:13: E105 env_files: env file profiles/sub cannot be read: "
            "it is a directory"
        ),
    ),
    Case(
        "env-file-outside-the-profiles-folder-is-relative-to-the-file",
        {
            DEV: "env_files: [../.env.shared]\n" + with_path("${WP}"),
            ".env.shared": "WP=shared.db\n",
        },
        0,
        (),
        args=("show",),
        out=None,
        out_has=("      path: shared.db",),
    ),
    Case(
        "env-file-outside-the-project-names-the-path-it-tried",
        {DEV: "env_files: [../../nope.env]\n" + BASE},
        1,
        problem(
            "profiles/dev.yaml:1:13: E105 env_files: env file profiles/../../nope.env does not "
            "exist"
        ),
    ),
]


def _write(root: Path, files: Mapping[str, str | bytes | None]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            path.mkdir()
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_hostile_profile_gives_exact_exit_code_and_one_line_errors(
    envres_cli: Cli, tmp_path: Path, case: Case
) -> None:
    project = make_project(tmp_path / "proj", profiles={}, definitions=HOSTILE_DEFINITIONS)
    _write(project.root, case.files)
    result = envres_cli(*case.args, cwd=project.root, env=case.env)
    assert "Traceback" not in result.err
    assert result.code == case.code, result
    if case.err is not None:
        assert result.err_lines == list(case.err)
    if case.first is not None:
        assert result.err_lines[:1] == [case.first]
    if case.first_re is not None:
        assert result.err_lines, result
        assert re.fullmatch(case.first_re, result.err_lines[0]), result.err_lines[0][:300]
    if case.out is not None:
        assert result.out == case.out
    out_lines = result.out.splitlines()
    for line in case.out_has:
        assert line in out_lines, result.out


def test_the_table_has_at_least_forty_rows_with_unique_ids() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) >= 40
    assert len(set(ids)) == len(ids)


def test_alias_bomb_is_refused_at_the_alias_limit(envres_cli: Cli, tmp_path: Path) -> None:
    # The bomb expands to 10**9 values; the loader stops once aliases have produced
    # 10,000 of them, long before the tree is built (speed is the benchmark's business).
    project = make_project(tmp_path / "proj", profiles={"dev.yaml": alias_bomb()})
    result = envres_cli("validate", cwd=project.root)
    assert result.code == 1
    assert "alias bomb" in result.err_lines[0]
    assert "10000" in result.err_lines[0] or "10,000" in result.err_lines[0]


def test_unsafe_tag_never_runs_its_code(envres_cli: Cli, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    profile = (
        "resources:\n  warehouse: !!python/object/apply:os.system "
        f"['touch {marker}']\n  notifier: !!python/object/apply:builtins.exec "
        f"[\"open('{marker}', 'w')\"]\n"
    )
    project = make_project(tmp_path / "proj", profiles={"dev.yaml": profile})
    for command in ("validate", "show", "env", "run", "profiles"):
        result = envres_cli(command, cwd=project.root)
        assert result.code == 1, result
        assert "unsupported tag '!!python/object/apply:os.system'" in result.err
    assert not marker.exists()


@pytest.mark.parametrize("command", ["show", "env", "run", "profiles", "validate --all"])
def test_every_command_reports_a_broken_profile_the_same_way(
    envres_cli: Cli, tmp_path: Path, command: str
) -> None:
    project = make_project(tmp_path / "proj", profiles={"dev.yaml": "resources: [\n"})
    result = envres_cli(*command.split(), cwd=project.root)
    assert result.code == 1
    assert "Traceback" not in result.err
    assert result.err_lines[0] == (
        "profiles/dev.yaml:2:1: E101 YAML syntax error: did not find expected node content"
    )


def test_debug_shows_a_traceback_for_a_broken_profile_and_still_the_one_line_error(
    envres_cli: Cli, tmp_path: Path
) -> None:
    project = make_project(tmp_path / "proj", profiles={"dev.yaml": "resources: [\n"})
    result = envres_cli("validate", "--debug", cwd=project.root)
    assert result.code == 1
    assert result.out == ""
    assert result.err_lines[0] == "Traceback (most recent call last):"
    assert result.err_lines[-2:] == [
        "profiles/dev.yaml:2:1: E101 YAML syntax error: did not find expected node content",
        ONE,
    ]
