"""`envres assets` and `envres graph`: what the assets take, and the picture of a profile.

Run on the repository's own project (the shop example) in process, and on a small
project with a resource reference, so every kind of edge shows.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import envres
from envres._assets import NAME_RULE
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


# -- names: what the rules allow is drawn as written; whatever a graph holds stays text ------

#: Names a graph writer may be given. The rules let only the first few reach it (asset
#: names: letters, digits, `_`, `-`, `.`; keys: identifiers); the rest try to end a
#: string, add an attribute (a link), or a node and an edge.
HOSTILE_NAMES = [
    "raw.orders",
    "daily-revenue",
    "ümsatz_€",
    "a b",
    'q"uote',
    "br[ack]et {x}",
    "back\\slash",
    "tail\\",
    'x", URL="javascript:alert(1)", label="y',
    'e];\n"z" -> "y',
    "<b>&amp;</b>",
    "\\N \\G \\l",
    "`md` #35; %% c",
]


def hostile_graph() -> _graph.Graph:
    graph = _graph.Graph('prof"ile ];')
    graph.nodes["r_wh"] = _graph.Node("r_wh", "resource", "wh", 'pkg.mod:Cls"];x')
    for name in HOSTILE_NAMES:
        graph.nodes[f"a_{name}"] = _graph.Node(f"a_{name}", "asset", name)
        graph.edges.append(("r_wh", f"a_{name}"))
    return graph


def dot_to_svg(text: str) -> ET.Element:
    dot = shutil.which("dot")
    assert dot is not None, "Debian's graphviz is installed by .ci/run"
    rendered = subprocess.run(
        [dot, "-Tsvg"], input=text, capture_output=True, text=True, check=False, timeout=60
    )
    assert rendered.returncode == 0, rendered.stderr
    assert rendered.stderr == ""  # no syntax warning either
    return ET.fromstring(rendered.stdout[rendered.stdout.index("<svg") :])


def svg_nodes(root: ET.Element) -> dict[str, list[str]]:
    """Each node's id (its title) and the lines of its label, as Graphviz drew them."""
    return {
        str(g.findtext(f"{SVG}title")): [str(t.text) for t in g.iter(f"{SVG}text")]
        for g in root.iter(f"{SVG}g")
        if g.get("class") == "node"
    }


def test_dot_quotes_every_name_so_graphviz_draws_each_as_written_and_nothing_more() -> None:
    graph = hostile_graph()

    root = dot_to_svg(_graph.to_dot(graph))

    drawn = svg_nodes(root)
    assert len(drawn) == len(HOSTILE_NAMES) + 1  # no node added by a name
    assert len([g for g in root.iter(f"{SVG}g") if g.get("class") == "edge"]) == len(graph.edges)
    labels = sorted(lines[0] for lines in drawn.values())
    shown = [n.replace("\n", "\\x0a") for n in HOSTILE_NAMES]  # a line end, as its escape
    assert labels == sorted(["wh", *shown])
    assert ["wh", '(pkg.mod:Cls"];x)'] in drawn.values()
    # No name became an attribute: no link, no tooltip, no label other than its own.
    assert not [e for e in root.iter() if e.tag == f"{SVG}a" or "javascript" in str(e.attrib)]


def test_dot_escapes_in_one_place_what_would_end_the_string() -> None:
    assert _graph.quote_dot('a"b\\c') == '"a\\"b\\\\c"'
    assert _graph.quote_dot("tail\\") == '"tail\\\\"'
    assert _graph.quote_dot("x", "\n", "y") == '"x\\ny"'
    assert _graph.quote_dot("x\ny\x7f") == '"x\\\\x0ay\\\\x7f"'


MERMAID_NODE = re.compile(r'    (?P<id>\w+)(?:\["(?P<a>[^"]*)"\]|\[\("(?P<r>[^"]*)"\)\])')
MERMAID_EDGE = re.compile(r"    (\w+) --> (\w+)")


def mermaid_text(label: str) -> str:
    return re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), label)


def test_mermaid_ids_are_plain_and_labels_hold_no_syntax() -> None:
    graph = hostile_graph()

    lines = _graph.to_mermaid(graph).splitlines()

    nodes = [m for line in lines if (m := MERMAID_NODE.fullmatch(line))]
    edges = [m for line in lines if (m := MERMAID_EDGE.fullmatch(line))]
    assert len(nodes) == len(graph.nodes) and len(edges) == len(graph.edges)
    ids = [m["id"] for m in nodes]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"r_[A-Za-z0-9_]+|a_[A-Za-z0-9_]+|n\d+", i) for i in ids), ids
    assert {a for m in edges for a in m.groups()} <= set(ids)
    assets = [m["a"] for m in nodes if m["a"] is not None]
    for label in assets:
        assert not set(label) & set('"<>&`\\\n'), label
    assert [mermaid_text(label) for label in assets] == HOSTILE_NAMES
    (resource,) = [m["r"] for m in nodes if m["r"] is not None]
    assert resource == "wh<br/><i>pkg.mod:Cls#34;];x</i>"


# -- asset names ---------------------------------------------------------------------------

NAMED_ASSETS = """
import envres


class Store(envres.Resource):
    path: str = "x"


@envres.asset(name="raw.orders")
def raw_orders(warehouse: Store) -> int:
    return 1


@envres.asset(name="daily-revenue")
def revenue(warehouse: Store) -> int:
    print("daily-revenue ran")
    return 2


@envres.asset(name="ümsatz")
def umsatz(daily_total: int = 0) -> int:
    return 3


defs = envres.Definitions(assets=[raw_orders, revenue, umsatz], resource_types={"store": Store})
"""


@pytest.fixture
def named(tmp_path: Path) -> Project:
    return make_project(
        tmp_path / "proj",
        {"dev.yaml": "resources:\n  warehouse: {type: store}\n"},
        definitions=NAMED_ASSETS,
        module="named_assets",
    )


@pytest.mark.parametrize("use_graphviz", [True, False], ids=["graphviz", "built-in"])
def test_names_with_dots_dashes_and_letters_of_any_script_draw_in_every_format(
    envres_cli: Cli, named: Project, use_graphviz: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    dot = envres_cli("graph", "--format", "dot", cwd=named.root)
    drawn = svg_nodes(dot_to_svg(dot.out))
    mermaid = envres_cli("graph", cwd=named.root)
    if not use_graphviz:
        monkeypatch.setattr(_graph.shutil, "which", lambda name: None)
    svg = envres_cli("graph", "--format", "svg", cwd=named.root)

    assert (dot.code, mermaid.code, svg.code) == (0, 0, 0), dot.err + mermaid.err + svg.err
    assert drawn == {
        "r_warehouse": ["warehouse", "(store)"],
        "a_raw.orders": ["raw.orders"],
        "a_daily-revenue": ["daily-revenue"],
        "a_ümsatz": ["ümsatz"],
    }
    assert mermaid.out.splitlines()[1:5] == [
        '    r_warehouse[("warehouse<br/><i>store</i>")]',  # a plain name keeps its id
        '    n1["raw.orders"]',
        '    n2["daily-revenue"]',
        '    n3["ümsatz"]',
    ]
    assert "    r_warehouse --> n1" in mermaid.out.splitlines()
    root = ET.fromstring(svg.out)
    if use_graphviz:
        assert set(svg_nodes(root)) == set(drawn)
    else:
        names = [g.get("data-name") for g in root.iter(f"{SVG}g") if g.get("data-name")]
        assert sorted(names) == sorted(["warehouse", "raw.orders", "daily-revenue", "ümsatz"])


def test_run_selects_an_asset_by_a_name_with_a_dash(envres_cli: Cli, named: Project) -> None:
    result = envres_cli("run", "daily-revenue", cwd=named.root)

    assert result.code == 0, result.err
    assert "daily-revenue ran" in result.out


@pytest.mark.parametrize(
    "name", ["raw.orders", "daily-revenue", "ümsatz", "_x", "2024_q1", "a.b-c_d"]
)
def test_an_asset_name_of_letters_digits_underscores_dashes_and_dots_is_accepted(
    name: str,
) -> None:
    assert envres.asset(lambda: 0, name=name).name == name


@pytest.mark.parametrize(
    "name",
    ["", "-x", ".x", "a b", 'a"b', "a[0]", "a\\b", "a\nb", "a+", "@a", "a*", "a:b", "a,b", "a/b"],
)
def test_any_other_asset_name_is_a_definition_error_that_states_the_rule(name: str) -> None:
    with pytest.raises(envres.DefinitionError) as caught:
        envres.asset(lambda: 0, name=name)

    assert f"asset name {name!r} is not allowed: {NAME_RULE}" in str(caught.value)
    assert "test_graph_and_assets.py:" in str(caught.value)  # where the asset is defined


def test_a_lambda_needs_a_name() -> None:
    with pytest.raises(envres.DefinitionError, match="asset name '<lambda>' is not allowed"):
        envres.asset(lambda: 0)


def test_a_bad_asset_name_is_reported_with_the_file_and_line_of_its_decorator(
    envres_cli: Cli, named: Project
) -> None:
    source = NAMED_ASSETS.replace('name="ümsatz"', 'name="um satz"')
    named.write("named_assets.py", source)
    line = source.splitlines().index('@envres.asset(name="um satz")') + 1

    result = envres_cli("graph", cwd=named.root)

    assert (result.code, result.out) == (1, "")
    assert (
        f"named_assets.py:{line}: asset name 'um satz' is not allowed: letters, digits, '_', "
        "'-' and '.', starting with a letter, a digit or '_'"
    ) in result.err, result.err
