"""The asset/resource graph of a profile, as Mermaid, DOT or SVG.

Nodes are the assets and the resources of the selected profile (each resource
labelled with its type there); edges go from what is needed to what needs it: an
upstream asset to its downstream asset, a resource to the asset that takes it, a
resource to the resource whose config refers to it.

SVG is drawn by Graphviz's ``dot`` when it is installed (Debian's ``graphviz``),
else by the small layered layout here, which needs nothing: either way the
result is a standalone SVG with no external reference.
"""

from __future__ import annotations

import graphlib
import html
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Literal

from envres._catalog import Catalog
from envres._resolved import ResolvedProfile

__all__ = ["Graph", "build", "quote_dot", "to_dot", "to_mermaid", "to_svg"]

NodeKind = Literal["asset", "resource"]


@dataclass(frozen=True)
class Node:
    id: str
    kind: NodeKind
    name: str
    type_name: str = ""  # a resource's type in the profile


@dataclass(frozen=True)
class Graph:
    """What ``envres graph`` draws for one profile."""

    profile: str
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)  # (needed, needing)


def build(catalog: Catalog | None, profile: ResolvedProfile) -> Graph:
    graph = Graph(profile.name)
    for key, res in profile.resources.items():
        graph.nodes[f"r_{key}"] = Node(f"r_{key}", "resource", key, res.type_name)
    for key, res in profile.resources.items():
        for dep in res.deps:
            if dep in profile.resources:
                graph.edges.append((f"r_{dep}", f"r_{key}"))
    if catalog is not None:
        for name in catalog.assets:
            graph.nodes[f"a_{name}"] = Node(f"a_{name}", "asset", name)
        for name in catalog.assets:
            for up in catalog.upstream[name]:
                graph.edges.append((f"a_{up}", f"a_{name}"))
            for param in catalog.resource_params[name]:
                if param in profile.resources:
                    graph.edges.append((f"r_{param}", f"a_{name}"))
    return graph


# -- text formats ------------------------------------------------------------------------
#
# Names reach these formats from asset names (letters, digits, `_`, `-`, `.`, see
# envres._assets.NAME_RULE), resource keys (identifiers), profile names and type names;
# each writer quotes and escapes whatever it is given all the same, so that no name can
# end its string and add an attribute, a node or an edge.

_MERMAID_PLAIN = re.compile(r"[A-Za-z0-9_]+")

#: Characters a Mermaid label shows through an entity code: its quote and entity sign,
#: markup (Mermaid renders labels as HTML), a Markdown string's backtick, line ends.
_MERMAID_ENTITIES = {c: f"#{ord(c)};" for c in '"#&<>`\\\n\r'}


def to_mermaid(graph: Graph) -> str:
    """A Mermaid flowchart, as GitHub renders in a ```mermaid block.

    A node's id is ``a_NAME`` or ``r_KEY`` when the name is plain ASCII (letters,
    digits, ``_``), which keeps the source readable; any other name gets ``n`` and the
    node's number. Labels are quoted, with every character Mermaid would read as
    syntax or markup written as an entity code (``#34;``).
    """
    ids = {
        node.id: node.id if _MERMAID_PLAIN.fullmatch(node.id) else f"n{i}"
        for i, node in enumerate(graph.nodes.values())
    }
    lines = ["flowchart LR"]
    for node in graph.nodes.values():
        label = _quote_mermaid(node.name)
        if node.kind == "resource":
            lines.append(
                f'    {ids[node.id]}[("{label}<br/><i>{_quote_mermaid(node.type_name)}</i>")]'
            )
        else:
            lines.append(f'    {ids[node.id]}["{label}"]')
    lines.extend(f"    {ids[a]} --> {ids[b]}" for a, b in graph.edges)
    lines.append("    classDef resource fill:#e8f0fe,stroke:#3b7dd8")
    resources = [ids[n.id] for n in graph.nodes.values() if n.kind == "resource"]
    if resources:
        lines.append(f"    class {','.join(resources)} resource")
    return "\n".join(lines)


def _quote_mermaid(text: str) -> str:
    return "".join(_MERMAID_ENTITIES.get(c, c) for c in text)


def to_dot(graph: Graph) -> str:
    """Graphviz DOT: ``envres graph --format dot | dot -Tpng > graph.png``.

    Every id and label is a quoted string; see :func:`quote_dot`.
    """
    lines = [
        f"digraph {quote_dot(graph.profile)} {{",
        "    rankdir=LR;",
        '    node [fontname="Helvetica", fontsize=11];',
    ]
    for node in graph.nodes.values():
        if node.kind == "resource":
            label = quote_dot(node.name, "\n", f"({node.type_name})")
            lines.append(
                f"    {quote_dot(node.id)} [label={label}, shape=cylinder, "
                'style=filled, fillcolor="#e8f0fe"];'
            )
        else:
            lines.append(f"    {quote_dot(node.id)} [label={quote_dot(node.name)}, shape=box];")
    lines.extend(f"    {quote_dot(a)} -> {quote_dot(b)};" for a, b in graph.edges)
    lines.append("}")
    return "\n".join(lines)


def quote_dot(*parts: str) -> str:
    r"""``parts`` as one DOT quoted string, shown as written; a part ``"\n"`` breaks the line.

    Inside the quotes ``"`` and ``\`` are escaped (so a name cannot end the string,
    and Graphviz's ``\N``, ``\l``... never act on a name), ``&`` too (Graphviz reads
    entities such as ``&amp;`` in any string), and a line end or other control
    character in a name is shown as its escape, never as markup.

    >>> print(quote_dot('orders"];', "\n", "(duckdb)"))
    "orders\"];\n(duckdb)"
    """
    out = []
    for part in parts:
        if part == "\n":
            out.append("\\n")
            continue
        escaped = part.replace("\\", "\\\\").replace('"', '\\"').replace("&", "&amp;")
        out.append(_CONTROL.sub(lambda m: f"\\\\x{ord(m.group()):02x}", escaped))
    return '"' + "".join(out) + '"'


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


# -- SVG -------------------------------------------------------------------------------


def to_svg(graph: Graph, *, use_graphviz: bool = True) -> str:
    """A standalone SVG: Graphviz's layout when ``dot`` is on the PATH, else envres's own."""
    dot = shutil.which("dot") if use_graphviz else None
    if dot is not None:
        done = subprocess.run(
            [dot, "-Tsvg"],
            input=to_dot(graph),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode == 0 and "<svg" in done.stdout:
            return done.stdout[done.stdout.index("<svg") :]
    return _layered_svg(graph)


_NODE_W, _NODE_H, _GAP_X, _GAP_Y, _MARGIN = 170, 44, 70, 22, 20


def _layered_svg(graph: Graph) -> str:
    """Nodes in columns by depth (longest path from a source), edges as curves."""
    pos = _layout(graph)
    width = max((x for x, _ in pos.values()), default=_MARGIN) + _NODE_W + _MARGIN
    height = max((y for _, y in pos.values()), default=_MARGIN) + _NODE_H + _MARGIN
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="assets and resources of profile {html.escape(graph.profile)}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="8" markerHeight="8" orient="auto-start-reverse">'
        '<path d="M 0 0 L 10 5 L 0 10 z" fill="#666"/></marker></defs>',
    ]
    for a, b in graph.edges:
        (ax, ay), (bx, by) = pos[a], pos[b]
        x1, y1 = ax + _NODE_W, ay + _NODE_H / 2
        x2, y2 = bx, by + _NODE_H / 2
        mid = (x1 + x2) / 2
        parts.append(
            f'<path class="edge" d="M {x1} {y1} C {mid} {y1}, {mid} {y2}, {x2} {y2}" '
            'fill="none" stroke="#666" stroke-width="1.2" marker-end="url(#arrow)"/>'
        )
    for node_id, node in graph.nodes.items():
        parts.extend(_node_svg(node, *pos[node_id]))
    parts.append("</svg>")
    return "\n".join(parts)


def _layout(graph: Graph) -> dict[str, tuple[int, int]]:
    """Where each node's box starts: its column its depth, resources first in a column."""
    preds: dict[str, set[str]] = {n: set() for n in graph.nodes}
    for a, b in graph.edges:
        preds[b].add(a)
    layer: dict[str, int] = {}
    for node_id in graphlib.TopologicalSorter(preds).static_order():
        layer[node_id] = max((layer[p] + 1 for p in preds[node_id]), default=0)
    columns: dict[int, list[str]] = {}
    for node_id in sorted(graph.nodes, key=lambda n: (graph.nodes[n].kind != "resource", n)):
        columns.setdefault(layer[node_id], []).append(node_id)
    pos: dict[str, tuple[int, int]] = {}
    for col, ids in columns.items():
        for row, node_id in enumerate(ids):
            pos[node_id] = (
                _MARGIN + col * (_NODE_W + _GAP_X),
                _MARGIN + row * (_NODE_H + _GAP_Y),
            )
    return pos


def _node_svg(node: Node, x: int, y: int) -> list[str]:
    """One node's box at ``(x, y)``: its name, and a resource's type under it."""
    fill, stroke = ("#e8f0fe", "#3b7dd8") if node.kind == "resource" else ("#fff", "#444")
    parts = [
        f'<g class="node {node.kind}" data-name="{html.escape(node.name)}">'
        f'<rect x="{x}" y="{y}" width="{_NODE_W}" height="{_NODE_H}" rx="8" '
        f'fill="{fill}" stroke="{stroke}"/>'
    ]
    if node.kind == "resource":
        parts.append(
            f'<text x="{x + _NODE_W / 2}" y="{y + 18}" text-anchor="middle" '
            f'font-family="sans-serif" font-size="13">{html.escape(node.name)}</text>'
            f'<text x="{x + _NODE_W / 2}" y="{y + 35}" text-anchor="middle" '
            f'font-family="sans-serif" font-size="11" fill="#555">'
            f"{html.escape(node.type_name)}</text>"
        )
    else:
        parts.append(
            f'<text x="{x + _NODE_W / 2}" y="{y + 27}" text-anchor="middle" '
            f'font-family="sans-serif" font-size="13">{html.escape(node.name)}</text>'
        )
    parts.append("</g>")
    return parts
