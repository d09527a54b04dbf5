"""`envres assets` and `envres graph`: what the assets take, and the picture of a profile.

Run on the repository's own project (the shop example) in process, and on a small
project with a resource reference, so every kind of edge shows.
"""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from envres._cli import _graph
from tests.conftest import Cli, Project, make_project

ROOT = Path(__file__).resolve().parent.parent
SVG = "{http://www.w3.org/2000/svg}"

WITH_A_REFERENCE = """\
resources:
  warehouse: {type: duckdb, config: {path: x.db}}
  notifier: {type: console}
  reporter: {type: report, config: {warehouse: {resource: warehouse}}}
"""


def test_assets_lists_resources_upstream_and_where_each_is_defined(envres_cli: Cli) -> None:
    result = envres_cli("assets", cwd=ROOT)

    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].split() == ["ASSET", "RESOURCES", "UPSTREAM", "DEFINED", "AT"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert list(rows) == [
        "raw_orders",
        "raw_customers",
        "orders",
        "daily_revenue",
        "top_products",
        "report",
    ]
    source = (ROOT / "examples/shop/shop/definitions.py").read_text().splitlines()
    for name, line in rows.items():
        where = line.split()[-1]
        file, number = where.rsplit(":", 1)
        assert file == "examples/shop/shop/definitions.py"
        # file:line is the decorator's line; the def follows it
        assert source[int(number) - 1] == "@envres.asset"
        assert source[int(number)].startswith(f"def {name}(")
    assert "warehouse, notifier, report_dir" in rows["report"]
    assert "daily_revenue, top_products" in rows["report"]
    assert rows["raw_orders"].split()[2] == "-"  # no upstream


@pytest.fixture
def referencing(tmp_path: Path) -> Project:
    return make_project(tmp_path / "proj", {"dev.yaml": WITH_A_REFERENCE})


def test_graph_mermaid_has_each_node_once_with_resource_types_and_every_edge(
    envres_cli: Cli, referencing: Project
) -> None:
    result = envres_cli("graph", cwd=referencing.root)

    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == "flowchart LR"
    assert '    r_warehouse[("warehouse<br/><i>duckdb</i>")]' in lines
    assert '    r_reporter[("reporter<br/><i>report</i>")]' in lines
    assert '    a_orders["orders"]' in lines
    assert sorted(x.strip() for x in lines if "-->" in x) == sorted(
        [
            "r_warehouse --> r_reporter",  # reporter's config refers to warehouse
            "r_warehouse --> a_orders",
            "a_orders --> a_daily_revenue",
            "r_notifier --> a_daily_revenue",
        ]
    )


def test_graph_dot_is_accepted_by_graphviz(envres_cli: Cli, referencing: Project) -> None:
    dot = shutil.which("dot")
    assert dot is not None, "Debian's graphviz is installed by .ci/run"
    result = envres_cli("graph", "--format", "dot", cwd=referencing.root)

    rendered = subprocess.run(
        [dot, "-Tsvg"], input=result.out, capture_output=True, text=True, check=False
    )

    assert rendered.returncode == 0, rendered.stderr
    assert "<title>r_reporter&#45;&gt;a_" not in rendered.stdout  # reporter feeds no asset
    assert "<title>r_warehouse&#45;&gt;r_reporter</title>" in rendered.stdout


@pytest.mark.parametrize("use_graphviz", [True, False], ids=["graphviz", "built-in"])
def test_graph_svg_is_standalone_and_draws_every_node_and_edge(
    envres_cli: Cli, referencing: Project, use_graphviz: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not use_graphviz:
        monkeypatch.setattr(_graph.shutil, "which", lambda name: None)
    result = envres_cli("graph", "--format", "svg", cwd=referencing.root)

    assert result.code == 0, result.err
    root = ET.fromstring(result.out)
    assert root.tag == f"{SVG}svg"
    text = result.out
    assert "http://" not in text.replace("http://www.w3.org/", "")  # nothing to fetch
    if use_graphviz:
        titles = [t.text for t in root.iter(f"{SVG}title")]
        assert {"r_warehouse", "r_reporter", "a_orders", "a_daily_revenue"} <= set(titles)
        assert sum("&gt;" in (t or "") or "->" in (t or "") for t in titles) == 4
    else:
        nodes = [g for g in root.iter(f"{SVG}g") if "node" in g.get("class", "")]
        assert sorted(g.get("data-name") for g in nodes) == sorted(
            ["warehouse", "notifier", "reporter", "orders", "daily_revenue"]
        )
        assert len([p for p in root.iter(f"{SVG}path") if p.get("class") == "edge"]) == 4
        assert "duckdb" in text and "report" in text


def test_graph_of_a_profile_with_unset_secrets_still_draws(
    envres_cli: Cli,
) -> None:
    result = envres_cli("graph", "--profile", "prod", cwd=ROOT, env={})

    assert result.code == 0, result.err
    assert '    r_warehouse[("warehouse<br/><i>postgres</i>")]' in result.out.splitlines()
    assert '    r_notifier[("notifier<br/><i>webhook</i>")]' in result.out.splitlines()
