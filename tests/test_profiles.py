"""Profile files: discovery, structure, extends and the merge rules (pure, no environment)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envres import ProfileError, ProfileNotFoundError
from envres._profiles import Entry, MergedProfile, discover, load_merged, merge_config
from envres._yaml import load_yaml


def _files(tmp_path: Path, profiles: dict[str, str]) -> dict[str, object]:
    for name, text in profiles.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return discover(tmp_path, lambda p: f"profiles/{p.name}")  # type: ignore[return-value]


def _load(tmp_path: Path, profiles: dict[str, str], name: str) -> MergedProfile:
    files = _files(tmp_path, profiles)
    return load_merged(name, files, Path.read_bytes)  # type: ignore[arg-type]


def _plain(merged: MergedProfile) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, entry in merged.resources.items():
        out[key] = {
            "type": entry.type.value if entry.type else None,
            "config": entry.config.plain() if entry.config else None,
        }
    return out


def _errors(tmp_path: Path, profiles: dict[str, str], name: str) -> list[str]:
    with pytest.raises(ProfileError) as info:
        _load(tmp_path, profiles, name)
    return [str(p) for p in info.value.problems]


BASE = """\
resources:
  warehouse:
    type: duckdb
    config:
      path: a.duckdb
      options: {threads: 4, memory: 1GB}
  notifier:
    type: console
"""


def test_child_with_same_type_deep_merges_config(tmp_path: Path) -> None:
    child = """\
extends: base
resources:
  warehouse:
    type: duckdb
    config:
      options: {threads: 8}
"""
    merged = _load(tmp_path, {"base.yaml": BASE, "dev.yaml": child}, "dev")
    assert _plain(merged)["warehouse"] == {
        "type": "duckdb",
        "config": {"path": "a.duckdb", "options": {"threads": 8, "memory": "1GB"}},
    }


def test_child_without_type_deep_merges_over_parent(tmp_path: Path) -> None:
    child = "extends: base\nresources:\n  warehouse:\n    config:\n      path: b.duckdb\n"
    merged = _load(tmp_path, {"base.yaml": BASE, "dev.yaml": child}, "dev")
    assert _plain(merged)["warehouse"] == {
        "type": "duckdb",
        "config": {"path": "b.duckdb", "options": {"threads": 4, "memory": "1GB"}},
    }


def test_child_with_different_type_replaces_the_entry(tmp_path: Path) -> None:
    child = """\
extends: base
resources:
  warehouse:
    type: postgres
    config:
      dsn: postgresql://x
"""
    merged = _load(tmp_path, {"base.yaml": BASE, "prod.yaml": child}, "prod")
    assert _plain(merged)["warehouse"] == {"type": "postgres", "config": {"dsn": "postgresql://x"}}


def test_null_entry_removes_the_inherited_key(tmp_path: Path) -> None:
    child = "extends: base\nresources:\n  notifier: null\n"
    merged = _load(tmp_path, {"base.yaml": BASE, "dev.yaml": child}, "dev")
    assert list(merged.resources) == ["warehouse"]


def test_lists_in_config_are_replaced_not_concatenated(tmp_path: Path) -> None:
    base = "resources:\n  w:\n    type: t\n    config:\n      hosts: [a, b]\n"
    child = "extends: base\nresources:\n  w:\n    config:\n      hosts: [c]\n"
    merged = _load(tmp_path, {"base.yaml": base, "dev.yaml": child}, "dev")
    assert _plain(merged)["w"] == {"type": "t", "config": {"hosts": ["c"]}}


def test_extends_list_later_parent_wins_and_child_wins_over_both(tmp_path: Path) -> None:
    a = "resources:\n  w:\n    type: t\n    config: {x: a, y: a, z: a}\n"
    b = "resources:\n  w:\n    type: t\n    config: {y: b, z: b}\n"
    child = "extends: [a, b]\nresources:\n  w:\n    config: {z: child}\n"
    merged = _load(tmp_path, {"a.yaml": a, "b.yaml": b, "c.yaml": child}, "c")
    assert _plain(merged)["w"]["config"] == {"x": "a", "y": "b", "z": "child"}  # type: ignore[index]
    assert merged.chain == ("a", "b", "c")
    assert merged.extends == ("a", "b")


def test_inherited_value_keeps_the_file_and_line_that_wrote_it(tmp_path: Path) -> None:
    child = "extends: base\nresources:\n  warehouse:\n    config:\n      path: b.duckdb\n"
    merged = _load(tmp_path, {"base.yaml": BASE, "dev.yaml": child}, "dev")
    config = merged.resources["warehouse"].config
    assert config is not None and isinstance(config.value, dict)
    assert str(config.value["path"].loc) == "profiles/dev.yaml:5:13"
    options = config.value["options"].value
    assert isinstance(options, dict)
    assert str(options["threads"].loc) == "profiles/base.yaml:6:26"


def test_extends_cycle_is_reported_with_the_cycle(tmp_path: Path) -> None:
    errors = _errors(
        tmp_path,
        {"a.yaml": "extends: b\n", "b.yaml": "extends: c\n", "c.yaml": "extends: a\n"},
        "a",
    )
    assert errors == ["profiles/c.yaml:1:10: E203 extends: cycle: a -> b -> c -> a"]


def test_profile_extending_itself_is_a_cycle(tmp_path: Path) -> None:
    errors = _errors(tmp_path, {"a.yaml": "extends: a\n"}, "a")
    assert errors == ["profiles/a.yaml:1:10: E203 extends: cycle: a -> a"]


def test_extends_of_missing_profile_suggests_a_near_name(tmp_path: Path) -> None:
    errors = _errors(tmp_path, {"base.yaml": BASE, "dev.yaml": "extends: bsae\n"}, "dev")
    assert errors == [
        "profiles/dev.yaml:1:10: E202 extends: profile 'bsae' does not exist; did you mean 'base'?"
    ]


def test_extends_cannot_name_a_path(tmp_path: Path) -> None:
    errors = _errors(tmp_path, {"dev.yaml": "extends: ../../etc/passwd\n"}, "dev")
    assert errors == [
        "profiles/dev.yaml:1:10: E202 extends: '../../etc/passwd' is not a profile name: use "
        "letters, digits, '-', '_' and '.', not a path"
    ]


def test_selecting_a_path_as_profile_name_is_refused(tmp_path: Path) -> None:
    files = _files(tmp_path, {"dev.yaml": BASE})
    with pytest.raises(ProfileNotFoundError) as info:
        load_merged("../dev", files, Path.read_bytes)  # type: ignore[arg-type]
    assert "is not a profile name" in str(info.value)


def test_unknown_profile_lists_the_existing_ones(tmp_path: Path) -> None:
    files = _files(tmp_path, {"dev.yaml": BASE, "prod.yaml": BASE, "_common.yaml": BASE})
    with pytest.raises(ProfileNotFoundError) as info:
        load_merged("prd", files, Path.read_bytes)  # type: ignore[arg-type]
    assert info.value.problems[0].message == (
        "profile 'prd' does not exist; did you mean 'prod'? (profiles: dev, prod)"
    )


def test_partial_cannot_be_selected_but_can_be_extended(tmp_path: Path) -> None:
    profiles = {"_common.yaml": BASE, "dev.yaml": "extends: _common\n"}
    merged = _load(tmp_path, profiles, "dev")
    assert list(merged.resources) == ["warehouse", "notifier"]
    files = _files(tmp_path, profiles)
    with pytest.raises(ProfileNotFoundError) as info:
        load_merged("_common", files, Path.read_bytes)  # type: ignore[arg-type]
    assert "is a partial" in str(info.value)


def test_yaml_and_yml_for_the_same_name_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "dev.yaml").write_text(BASE)
    (tmp_path / "dev.yml").write_text(BASE)
    with pytest.raises(ProfileError) as info:
        discover(tmp_path, lambda p: f"profiles/{p.name}")
    assert "profile 'dev' has two files" in str(info.value)


def test_yml_extension_is_a_profile(tmp_path: Path) -> None:
    merged = _load(tmp_path, {"dev.yml": BASE}, "dev")
    assert merged.file.display == "profiles/dev.yml"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "resource:\n  a: {type: t}\n",
            "profiles/dev.yaml:1:1: E201 unknown top-level key 'resource'; did you mean "
            "'resources'? (allowed: extends, env_files, resources, and x-* for anchors)",
        ),
        (
            "- a\n- b\n",
            "profiles/dev.yaml:1:1: E201 a profile is a mapping with 'resources:'; found a list",
        ),
        (
            "resources: [a]\n",
            "profiles/dev.yaml:1:12: E201 resources: must be a mapping of resource keys; found a "
            "list",
        ),
        (
            "resources:\n  my-db: {type: t}\n",
            "profiles/dev.yaml:2:3: E201 resources: resource key 'my-db' must be a Python "
            "identifier "
            "(assets receive it by parameter name)",
        ),
        (
            "resources:\n  db: duckdb\n",
            "profiles/dev.yaml:2:7: E201 resources.db: expected a mapping with 'type:' and "
            "'config:'; "
            "found the string 'duckdb'",
        ),
        (
            "resources:\n  db:\n    type: duckdb\n    cofig: {}\n",
            "profiles/dev.yaml:4:5: E201 resources.db: unknown key 'cofig'; did you mean 'config'? "
            "(allowed: type, config)",
        ),
        (
            "resources:\n  db:\n    type: 5\n",
            "profiles/dev.yaml:3:11: E201 resources.db.type: type must be a string (a short name, "
            "an "
            "entry point or 'package.module:Class'); found the number 5",
        ),
        (
            "resources:\n  db:\n    type: t\n    config: [1]\n",
            "profiles/dev.yaml:4:13: E201 resources.db.config: config must be a mapping of field "
            "names to values; found a list",
        ),
        (
            "extends: {a: 1}\n",
            "profiles/dev.yaml:1:10: E201 extends takes a name or a list of names; found a mapping",
        ),
    ],
)
def test_malformed_structure_is_reported_at_its_line(
    tmp_path: Path, text: str, expected: str
) -> None:
    assert _errors(tmp_path, {"dev.yaml": text}, "dev") == [expected]


def test_x_keys_hold_anchors_and_are_ignored(tmp_path: Path) -> None:
    text = """\
x-conn: &conn
  host: db.internal
  port: 5432
resources:
  warehouse:
    type: postgres
    config:
      <<: *conn
      port: 6543
"""
    merged = _load(tmp_path, {"dev.yaml": text}, "dev")
    assert _plain(merged)["warehouse"]["config"] == {  # type: ignore[index]
        "host": "db.internal",
        "port": 6543,
    }


def test_every_structural_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = "resourcez: {}\nextends: [nope]\n"
    errors = _errors(tmp_path, {"dev.yaml": text}, "dev")
    assert len(errors) == 2
    assert errors[0].startswith("profiles/dev.yaml:1:1: E201 unknown top-level key 'resourcez'")
    assert errors[1] == "profiles/dev.yaml:2:11: E202 extends: profile 'nope' does not exist"


# -- merge laws (Hypothesis) -----------------------------------------------------------

# Keys p and q always hold scalars, r and s always mappings: profiles that agree on the
# shape of each field (a mapping replacing a scalar is not associative, by design).
_scalars = st.one_of(st.integers(-5, 5), st.sampled_from(["a", "b", "c"]), st.booleans())
_configs = st.deferred(
    lambda: st.fixed_dictionaries(
        {},
        optional={"p": _scalars, "q": _scalars, "r": _configs, "s": _configs},
    )
)


def _node(value: object) -> object:
    import yaml

    text = yaml.safe_dump({"c": value}, default_flow_style=False)
    root = load_yaml(text, "x.yaml")
    assert root is not None and isinstance(root.value, dict)
    return root.value["c"]


@settings(max_examples=150, deadline=None)
@given(_configs, _configs, _configs)
def test_config_merge_is_associative(a: dict, b: dict, c: dict) -> None:  # type: ignore[type-arg]
    na, nb, nc = _node(a), _node(b), _node(c)
    left = merge_config(merge_config(na, nb), nc)  # type: ignore[arg-type]
    right = merge_config(na, merge_config(nb, nc))  # type: ignore[arg-type]
    assert left is not None and right is not None
    assert left.plain() == right.plain()


@settings(max_examples=100, deadline=None)
@given(_configs)
def test_empty_child_is_the_identity_of_merge(a: dict) -> None:  # type: ignore[type-arg]
    na = _node(a)
    assert merge_config(na, None).plain() == a  # type: ignore[arg-type,union-attr]
    assert merge_config(na, _node({})).plain() == a  # type: ignore[arg-type,union-attr]
    assert merge_config(None, na).plain() == a  # type: ignore[arg-type,union-attr]


def test_entry_is_frozen() -> None:
    from dataclasses import FrozenInstanceError

    from envres._errors import Loc

    entry = Entry("k", Loc("f", 1, 1), None, None)
    with pytest.raises(FrozenInstanceError):
        entry.key = "other"  # type: ignore[misc]
