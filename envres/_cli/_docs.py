"""``envres docs``: a static HTML site of the profiles, to publish from CI.

The site works offline from ``file://``: no server, no network, nothing fetched;
the CSS and the one small script are inline, and a Content-Security-Policy says
so to the browser. Pages:

- ``index.html``: the matrix of resource keys (rows) by selectable profiles
  (columns), each cell the key's type in that profile, marked inherited,
  overridden, defined there, or absent; the graph of the default profile; and a
  form that compares two profiles as ``envres diff`` does (every pair is computed
  here, by the same function, and embedded in the page as JSON);
- ``profile-NAME.html``: each resource with its type and its config, each value
  with where it came from (as ``envres show --explain``), the variables the
  profile reads (as ``envres env``), and the profile's graph.

Secrets: values come only from the masked data of :mod:`envres._cli._render`
(``explain``, ``env_rows``, the diff's ``plan``), every string put in a page goes
through the redactor of every profile of the site, and then through
``html.escape``.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import html
import json
import operator
import os
import stat
import urllib.parse
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from envres._catalog import Catalog
from envres._cli._graph import build, to_svg
from envres._cli._plan import plan, plan_lines
from envres._cli._render import env_rows, explain, scalar
from envres._errors import UsageError
from envres._resolved import ResolvedProfile
from envres._secrets import Redactor
from envres._values import NOT_SET

__all__ = [
    "MANIFEST",
    "Site",
    "SiteProfile",
    "Status",
    "index_html",
    "page_name",
    "previous_files",
    "profile_html",
    "script_json",
    "site",
    "status_of",
    "write_site",
]

#: How a resource key stands in a profile (a cell of the matrix).
Status = Literal["inherited", "overridden", "defined", "absent"]


@dataclass(frozen=True)
class SiteProfile:
    """A selectable profile, resolved, and the resource keys the profiles it extends define."""

    profile: ResolvedProfile
    parent_keys: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Site:
    """Everything the pages are made of. Build it with :func:`site`."""

    profiles: tuple[SiteProfile, ...]
    keys: tuple[str, ...]  # every resource key of any profile, in order of first appearance
    default: str | None  # the profile whose graph the index shows
    redactor: Redactor  # the secrets of every profile of the site
    graphs: dict[str, str] = field(default_factory=dict)  # profile name -> inline SVG
    title: str = "envres profiles"
    # Profiles that did not validate: name -> their problems, one line each (masked).
    invalid: tuple[tuple[str, tuple[str, ...]], ...] = ()


def site(
    profiles: Sequence[SiteProfile],
    catalog: Catalog | None,
    default: str | None,
    *,
    title: str = "envres profiles",
    invalid: Sequence[tuple[str, Sequence[str]]] = (),
) -> Site:
    """The site of ``profiles``; the index draws ``default`` (else the first profile).

    ``invalid`` lists the profiles that did not validate, each with its problems:
    the index marks them invalid and lists the problems.
    """
    redactor = functools.reduce(operator.or_, (sp.profile.redactor for sp in profiles), Redactor())
    keys = tuple(dict.fromkeys(k for sp in profiles for k in sp.profile.resources))
    names = [sp.profile.name for sp in profiles]
    graphs = {sp.profile.name: to_svg(build(catalog, sp.profile)) for sp in profiles}
    chosen = default if default in names else (names[0] if names else None)
    failed = tuple((name, tuple(problems)) for name, problems in invalid)
    return Site(tuple(profiles), keys, chosen, redactor, graphs, title, failed)


def page_name(profile: str) -> str:
    """The file name of a profile's page."""
    return f"profile-{profile}.html"


def status_of(sp: SiteProfile, key: str) -> Status:
    """Whether ``key`` is inherited, overridden or defined in the profile's own file, or absent.

    A key is the profile's own when its entry was written in the profile's file
    (its type, its config, or both): overridden if a profile it extends has the
    key too, else defined there. Otherwise it came unchanged from a parent.
    """
    res = sp.profile.resources.get(key)
    if res is None:
        return "absent"
    if res.key_loc.file != sp.profile.merged.file.display:
        return "inherited"
    return "overridden" if key in sp.parent_keys else "defined"


# -- building blocks ---------------------------------------------------------------------


def _text(s: Site, text: str) -> str:
    """Any text for a page: every secret masked, then escaped for HTML (and attributes)."""
    return html.escape(s.redactor.redact(text), quote=True)


def _href(s: Site, profile: str, anchor: str = "") -> str:
    target = urllib.parse.quote(page_name(s.redactor.redact(profile)))
    return _text(s, target + (f"#{anchor}" if anchor else ""))


def _status_note(sp: SiteProfile, key: str, status: Status) -> str:
    res = sp.profile.resources.get(key)
    if res is None:
        removed = sp.profile.merged.removed.get(key)
        return f"removed at {removed.file}:{removed.line}" if removed else "not in this profile"
    where = f"{res.key_loc.file}:{res.key_loc.line}"
    if status == "inherited":
        return f"inherited from {where}"
    if status == "overridden":
        return f"overridden at {where}"
    return f"defined at {where}"


_CSS = """
:root { color-scheme: light; --fg: #1d2330; --muted: #5b6472; --line: #d9dee7;
  --inherited: #f3f5f8; --overridden: #fff1d6; --defined: #e4efff; --absent: #fafafa; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
  color: var(--fg); background: #fff; }
header { background: #1d2330; color: #fff; padding: 14px 28px; }
header a { color: #cfe0ff; }
header h1 { margin: 0; font-size: 20px; }
header nav { margin-top: 6px; font-size: 13px; }
header nav a { margin-right: 12px; }
main { padding: 8px 28px 40px; max-width: 1200px; }
h2 { margin-top: 32px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { margin-bottom: 6px; }
code, pre, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace;
  font-size: 13px; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid var(--line); padding: 5px 10px; text-align: left;
  vertical-align: top; }
thead th { background: #eef1f6; }
.muted { color: var(--muted); }
#matrix td { min-width: 110px; }
#matrix td a { color: inherit; text-decoration: none; }
#matrix td a:hover { text-decoration: underline; }
td.inherited, .badge.inherited { background: var(--inherited); color: var(--muted);
  font-style: italic; }
td.overridden, .badge.overridden { background: var(--overridden); font-weight: 600; }
td.defined, .badge.defined { background: var(--defined); }
td.absent, .badge.absent { background: var(--absent); color: #a0a6b0; }
td.absent::before { content: "\\2014"; }
td.inherited a::after, .badge.inherited::after { content: " \\2191"; }
td.overridden a::after, .badge.overridden::after { content: " \\270E"; }
ul.legend { list-style: none; padding: 0; font-size: 13px; }
ul.legend li { margin: 3px 0; }
ul.legend .badge { min-width: 90px; text-align: center; margin-right: 6px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
.badge { display: inline-block; padding: 0 8px; border: 1px solid var(--line);
  border-radius: 10px; font-size: 12px; }
.graph { overflow: auto; border: 1px solid var(--line); padding: 8px; max-height: 640px; }
.graph svg { max-width: 100%; height: auto; }
form.compare select { font: inherit; padding: 2px 6px; margin: 0 6px; }
#compare-result { background: #f6f8fa; border: 1px solid var(--line); padding: 10px;
  white-space: pre-wrap; min-height: 3em; }
#compare-result .added { color: #116329; }
#compare-result .removed { color: #a40e26; }
#compare-result .changed { color: #8a4600; }
#compare-result .head { color: var(--muted); }
td.origin { color: var(--muted); }
td.value { white-space: pre-wrap; word-break: break-all; }
section.resource { margin-bottom: 18px; }
"""

_COMPARE_JS = """
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("envres-diffs").textContent);
  const a = document.getElementById("compare-a");
  const b = document.getElementById("compare-b");
  const out = document.getElementById("compare-result");
  const kinds = { "~": "changed", "-": "removed", "+": "added" };
  function line(text, kind) {
    const span = document.createElement("span");
    span.className = kind;
    span.textContent = text + "\\n";
    out.appendChild(span);
  }
  function render() {
    out.textContent = "";
    const x = a.value;
    const y = b.value;
    const lines = x === y ? [] : ((data.diffs[x] || {})[y] || []);
    out.dataset.a = x;
    out.dataset.b = y;
    out.dataset.count = String(lines.length);
    if (lines.length === 0) {
      line("profiles '" + x + "' and '" + y + "' resolve the same", "same");
      return;
    }
    line("--- " + x, "head");
    line("+++ " + y, "head");
    for (const text of lines) {
      line(text, kinds[text.trim().charAt(0)] || "");
    }
  }
  a.addEventListener("change", render);
  b.addEventListener("change", render);
  render();
})();
"""


NONE = "'none'"


def _csp(scripts: Sequence[str]) -> str:
    """Nothing is loaded from anywhere; only the page's own style and script run."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(js.encode()).digest()).decode() + "'"
        for js in scripts
    )
    return (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src {hashes or NONE}; base-uri 'none'; form-action 'none'"
    )


def _page(s: Site, title: str, nav: str, body: str, scripts: Sequence[str] = ()) -> str:
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f'<meta http-equiv="Content-Security-Policy" content="{_text(s, _csp(scripts))}">',
            '<meta name="generator" content="envres docs">',
            '<link rel="icon" href="data:,">',
            f"<title>{_text(s, title)}</title>",
            f"<style>{_CSS}</style>",
            "</head>",
            "<body>",
            f"<header><h1>{_text(s, title)}</h1><nav>{nav}</nav></header>",
            f"<main>{body}</main>",
            *(f"<script>{js}</script>" for js in scripts),
            "</body>",
            "</html>",
            "",
        ]
    )


def _nav(s: Site) -> str:
    links = ['<a href="index.html">index</a>']
    links += [
        f'<a href="{_href(s, sp.profile.name)}">{_text(s, sp.profile.name)}</a>'
        for sp in s.profiles
    ]
    return "".join(links)


def _graph(s: Site, name: str) -> str:
    svg = s.graphs.get(name, "")
    # The SVG is markup (names and types escaped by its writer); secrets masked all the same.
    return f'<div class="graph" data-profile="{_text(s, name)}">{s.redactor.redact(svg)}</div>'


#: What JSON inside a ``<script>`` must not hold as itself: ``<`` (``</script>``, ``<!--``),
#: ``>`` and ``&`` (for good measure), and the two line separators JavaScript once
#: treated as line ends. Each becomes its ``\uXXXX`` escape, which JSON reads back as
#: the same character.
_SCRIPT_UNSAFE = str.maketrans({c: f"\\u{ord(c):04x}" for c in ("<", ">", "&", "\u2028", "\u2029")})


def script_json(data: object) -> str:
    r"""``data`` as JSON that can stand inside a ``<script>`` element and never end it.

    >>> print(script_json({"note": "</script><script>alert(1)</script>"}))
    {"note": "\u003c/script\u003e\u003cscript\u003ealert(1)\u003c/script\u003e"}
    """
    return json.dumps(data, ensure_ascii=False, sort_keys=True).translate(_SCRIPT_UNSAFE)


def _json_script(s: Site, element_id: str, data: object) -> str:
    """Data for the page's script, in a tag the HTML parser cannot leave early."""
    text = script_json(s.redactor.mask_data(data))
    return f'<script type="application/json" id="{_text(s, element_id)}">{text}</script>'


# -- index.html ----------------------------------------------------------------------------


def _matrix(s: Site) -> str:
    head = ['<th scope="col">resource key</th>']
    for sp in s.profiles:
        name = sp.profile.name
        head.append(
            f'<th scope="col" data-profile="{_text(s, name)}">'
            f'<a href="{_href(s, name)}">{_text(s, name)}</a></th>'
        )
    rows = []
    for key in s.keys:
        cells = [f'<th scope="row" class="mono">{_text(s, key)}</th>']
        for sp in s.profiles:
            name = sp.profile.name
            status = status_of(sp, key)
            note = _status_note(sp, key, status)
            attrs = (
                f'data-key="{_text(s, key)}" data-profile="{_text(s, name)}" '
                f'data-status="{status}" class="{status}"'
            )
            res = sp.profile.resources.get(key)
            if res is None:
                cells.append(f'<td {attrs} title="{_text(s, note)}"></td>')
                continue
            cells.append(
                f'<td {attrs} title="{_text(s, f"{res.type_name}: {note}")}">'
                f'<a href="{_href(s, name, f"res-{key}")}">{_text(s, res.type_name)}</a></td>'
            )
        rows.append(f'<tr data-key="{_text(s, key)}">{"".join(cells)}</tr>')
    return (
        '<table id="matrix">'
        f"<thead><tr>{''.join(head)}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody>"
        "</table>"
        '<ul class="legend muted">'
        '<li><span class="badge inherited">inherited</span>from a profile it extends, '
        "unchanged</li>"
        '<li><span class="badge overridden">overridden</span>type or config written in the '
        "profile's own file, over a parent's</li>"
        '<li><span class="badge defined">defined</span>written in the profile\'s own file, '
        "no parent has it</li>"
        '<li><span class="badge absent">&#8212;</span>not in the profile</li></ul>'
        '<p class="muted">Each type links to the key on the profile\'s page.</p>'
    )


def _profiles_table(s: Site) -> str:
    rows = []
    for sp in s.profiles:
        p = sp.profile
        variables = env_rows(p)
        unset = sum(1 for v in variables if v.value is None)
        rows.append(
            f'<tr data-profile="{_text(s, p.name)}">'
            f'<td><a href="{_href(s, p.name)}">{_text(s, p.name)}</a></td>'
            f"<td>{_text(s, ', '.join(p.merged.extends) or '-')}</td>"
            f'<td class="mono">{_text(s, p.merged.file.display)}</td>'
            f"<td>{len(p.resources)}</td>"
            f"<td>{len(variables)} read, {unset} not set</td>"
            "</tr>"
        )
    return (
        '<table id="profiles"><thead><tr><th>profile</th><th>extends</th><th>file</th>'
        f"<th>resources</th><th>variables</th></tr></thead><tbody>{''.join(rows)}</tbody>"
        "</table>"
    )


def _plan_text(a: ResolvedProfile, b: ResolvedProfile) -> list[str]:
    """The lines of ``envres diff A B`` after its header; none when they resolve the same."""
    changes = plan(a, b)
    return plan_lines(changes) if changes else []


def _compare(s: Site) -> str:
    names = [sp.profile.name for sp in s.profiles]
    if not names:
        return "<p>no profiles to compare</p>"
    by_name = {sp.profile.name: sp.profile for sp in s.profiles}
    diffs = {a: {b: _plan_text(by_name[a], by_name[b]) for b in names if b != a} for a in names}
    first = s.default or names[0]
    second = next((n for n in names if n != first), first)

    def select(element_id: str, label: str, chosen: str) -> str:
        options = "".join(
            f'<option value="{_text(s, n)}"{" selected" if n == chosen else ""}>'
            f"{_text(s, n)}</option>"
            for n in names
        )
        return (
            f'<label>{label}<select id="{element_id}" name="{element_id}">{options}</select>'
            "</label>"
        )

    return (
        '<form class="compare" id="compare">'
        + select("compare-a", "from", first)
        + select("compare-b", "to", second)
        + "</form>"
        + '<p class="muted">What changes from one resolved profile to the other, as '
        "<code>envres diff A B</code> prints it (a secret only as <code>(changed)</code>).</p>"
        + '<pre id="compare-result" aria-live="polite"></pre>'
        + "<noscript><p>The comparison needs JavaScript.</p></noscript>"
        + _json_script(s, "envres-diffs", {"profiles": names, "diffs": diffs})
    )


def index_html(s: Site) -> str:
    """The index page: profiles, the matrix, the comparison form, the default profile's graph."""
    if s.profiles:
        graph = (
            f"<h2 id=\"graph\">Assets and resources of profile '{_text(s, s.default or '')}'</h2>"
            f"{_graph(s, s.default or '')}"
        )
        body = (
            '<p class="muted">Values as resolved in the environment that built this site; '
            "secrets are masked.</p>"
            '<h2 id="profiles-heading">Profiles</h2>'
            f"{_profiles_table(s)}"
            '<h2 id="matrix-heading">Resource keys by profile</h2>'
            f"{_matrix(s)}"
            '<h2 id="compare-heading">Compare two profiles</h2>'
            f"{_compare(s)}"
            f"{graph}"
        )
        scripts: tuple[str, ...] = (_COMPARE_JS,)
    else:
        body = ("" if s.invalid else "<p>no profiles</p>") + _matrix(s)
        scripts = ()
    return _page(s, s.title, _nav(s), _invalid(s) + body, scripts)


def _invalid(s: Site) -> str:
    """The profiles that did not validate, each marked invalid with its problems."""
    if not s.invalid:
        return ""
    sections = "".join(
        f'<section class="invalid" data-profile="{_text(s, name)}" data-status="invalid">'
        f"<h3>{_text(s, name)} (invalid)</h3>"
        f'<ul class="mono">{"".join(f"<li>{_text(s, line)}</li>" for line in problems)}</ul>'
        "</section>"
        for name, problems in s.invalid
    )
    return (
        '<h2 id="invalid-heading">Invalid profiles</h2>'
        '<p class="muted">These profiles did not validate: their problems are listed here, '
        "and they have no page until they are fixed (<code>envres validate --all</code>).</p>"
        f"{sections}"
    )


# -- profile-NAME.html -----------------------------------------------------------------------


def _resources(s: Site, sp: SiteProfile) -> str:
    out = []
    for res in explain(sp.profile):
        status = status_of(sp, res.key)
        note = _status_note(sp, res.key, status)
        type_where = f' <span class="muted mono">{_text(s, res.type_where)}</span>'
        rows = "".join(
            f'<tr data-field="{_text(s, v.name)}"><th scope="row" class="mono">'
            f"{_text(s, v.name)}</th>"
            f'<td class="value mono">{_text(s, scalar(v.value))}</td>'
            f'<td class="origin mono">{_text(s, v.origin)}</td></tr>'
            for v in res.config
        )
        table = (
            '<table class="config"><thead><tr><th>field</th><th>value</th>'
            f"<th>where it came from</th></tr></thead><tbody>{rows}</tbody></table>"
            if rows
            else '<p class="muted">no config</p>'
        )
        out.append(
            f'<section class="resource" id="res-{_text(s, res.key)}" '
            f'data-key="{_text(s, res.key)}" data-status="{status}">'
            f'<h3 class="mono">{_text(s, res.key)}</h3>'
            f'<p>type <code class="type">{_text(s, res.type_name)}</code>{type_where} '
            f'<span class="badge {status}">{status}</span> '
            f'<span class="muted">{_text(s, note)}</span></p>'
            f"{table}</section>"
        )
    removed = sp.profile.merged.removed
    if removed:
        items = "".join(
            f'<li><code>{_text(s, key)}</code> removed at <span class="mono">'
            f"{_text(s, f'{loc.file}:{loc.line}')}</span></li>"
            for key, loc in removed.items()
        )
        out.append(f"<h3>Removed keys</h3><ul>{items}</ul>")
    return "".join(out) or "<p>no resources</p>"


def _variables(s: Site, sp: SiteProfile) -> str:
    rows = env_rows(sp.profile)
    if not rows:
        return "<p>the profile reads no environment variables</p>"
    body = []
    for row in rows:
        value = NOT_SET if row.value is None else row.value
        state = "set" if row.value is not None else "unset"
        body.append(
            f'<tr data-var="{_text(s, row.name)}" data-state="{state}">'
            f'<th scope="row" class="mono">{_text(s, row.name)}</th>'
            f"<td>{_text(s, row.state)}</td>"
            f'<td class="value mono">{_text(s, value)}</td>'
            f'<td class="mono">{_text(s, ", ".join(row.defaults) or "-")}</td>'
            f'<td class="mono">{"<br>".join(_text(s, w) for w in row.used_at)}</td>'
            "</tr>"
        )
    return (
        '<table id="variables"><thead><tr><th>variable</th><th>state</th><th>value</th>'
        f"<th>default</th><th>used at</th></tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def profile_html(s: Site, sp: SiteProfile) -> str:
    """A profile's page: resources with the origin of each value, variables, graph."""
    p = sp.profile
    merged = p.merged
    facts = [
        f'<dt>file</dt><dd class="mono">{_text(s, merged.file.display)}</dd>',
        f"<dt>extends</dt><dd>{_text(s, ', '.join(merged.extends) or '-')}</dd>",
        f"<dt>merged</dt><dd>{_text(s, ' → '.join(merged.chain))}</dd>",
    ]
    if merged.env_files:
        files = ", ".join(ef.display for ef in merged.env_files)
        facts.append(f'<dt>env files</dt><dd class="mono">{_text(s, files)}</dd>')
    warnings = ""
    if p.warnings:
        items = "".join(f"<li>{_text(s, str(w))}</li>" for w in p.warnings)
        warnings = f'<h2 id="warnings">Warnings</h2><ul class="mono">{items}</ul>'
    body = (
        f'<dl class="facts">{"".join(facts)}</dl>'
        '<p class="muted">Values as resolved in the environment that built this site; '
        f"secrets are masked; <code>{_text(s, NOT_SET)}</code> is a variable that was not "
        "set.</p>"
        f'<h2 id="resources">Resources</h2>{_resources(s, sp)}'
        f"{warnings}"
        f'<h2 id="variables-heading">Variables</h2>{_variables(s, sp)}'
        f'<h2 id="graph">Assets and resources</h2>{_graph(s, p.name)}'
    )
    return _page(s, f"profile {p.name}", _nav(s), body)


# -- the folder --------------------------------------------------------------------------
#
# The folder may be anything the user points --out at, the project folder included, and a
# repository may hold a folder of that name already: envres writes only into a new or
# empty folder, or one whose manifest says envres wrote it, and then touches only the
# files it wrote. Every file is opened relative to the folder, never through a symbolic
# link, and replaced by a rename (a hard link to a file elsewhere is not written through).

#: The file in the folder that lists the files envres docs wrote there.
MANIFEST = ".envres-docs.json"
_GENERATOR = "envres docs"


def _ours(name: str) -> bool:
    """A name envres docs can have written: the index or a profile page, in the folder."""
    if "/" in name or "\0" in name:
        return False
    return name == "index.html" or (name.startswith("profile-") and name.endswith(".html"))


def _refuse(out_dir: Path, why: str) -> UsageError:
    return UsageError(f"--out {out_dir}: {why}")


def previous_files(out_dir: Path) -> frozenset[str]:
    """The files an earlier ``envres docs`` wrote into ``out_dir``: none for a new or empty folder.

    Raises :class:`UsageError` when envres may not write there: a path through a file
    (``afile/site``), a file, a symbolic link, or a folder with other things in it and
    no manifest. Creates nothing.
    """
    try:
        st = os.lstat(out_dir)
    except FileNotFoundError:
        return frozenset()
    except NotADirectoryError:
        parent = next(
            (p for p in reversed(out_dir.parents) if p.exists() and not p.is_dir()), out_dir
        )
        raise _refuse(out_dir, f"{parent} is a file, not a folder") from None
    except OSError as exc:
        raise _refuse(out_dir, exc.strerror or str(exc)) from None
    if stat.S_ISLNK(st.st_mode):
        raise _refuse(
            out_dir,
            "is a symbolic link; envres docs writes only into a real folder "
            f"(give the folder it points to: {out_dir.resolve()})",
        )
    if not stat.S_ISDIR(st.st_mode):
        raise _refuse(out_dir, "is a file, not a folder")
    try:
        entries = os.listdir(out_dir)
    except OSError as exc:
        raise _refuse(out_dir, exc.strerror or str(exc)) from None
    if not entries:
        return frozenset()
    if MANIFEST not in entries:
        raise _refuse(
            out_dir,
            f"the folder is not empty and envres docs did not write it (no {MANIFEST}); "
            "give a new or empty folder",
        )
    return _read_manifest(out_dir)


def _read_manifest(out_dir: Path) -> frozenset[str]:
    path = out_dir / MANIFEST
    not_ours = f"{MANIFEST} is not one envres docs wrote; delete the folder or give another --out"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        raise _refuse(out_dir, not_ours) from None
    try:
        with os.fdopen(fd, "rb") as fh:
            data = json.loads(fh.read(1_000_000))
    except (OSError, ValueError):
        raise _refuse(out_dir, not_ours) from None
    if not isinstance(data, dict) or data.get("generator") != _GENERATOR:
        raise _refuse(out_dir, not_ours)
    files = data.get("files")
    if not isinstance(files, list):
        raise _refuse(out_dir, not_ours)
    # A manifest edited by hand names at most pages of this folder.
    return frozenset(f for f in files if isinstance(f, str) and _ours(f))


def _write(dir_fd: int, name: str, text: str) -> None:
    """Write ``name`` in the folder as a new file, renamed over the old one."""
    tmp = f".{name}.{uuid.uuid4().hex[:12]}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(tmp, flags, 0o666, dir_fd=dir_fd)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise


def _manifest(names: Sequence[str]) -> str:
    return json.dumps({"generator": _GENERATOR, "files": sorted(names)}, indent=2) + "\n"


def write_site(out_dir: Path, s: Site) -> list[Path]:
    """Write the index and one page per profile into ``out_dir``; the files written.

    ``out_dir`` is created if missing. It must be new, empty, or hold the output of
    an earlier run (see :func:`previous_files`); a page of that run whose profile is
    gone is deleted, every other file is left alone. Raises :class:`UsageError`
    without writing anything when a page would replace a file envres did not write
    or a symbolic link.
    """
    previous = previous_files(out_dir)
    pages = [("index.html", index_html(s))]
    pages += [(page_name(sp.profile.name), profile_html(s, sp)) for sp in s.profiles]
    names = [name for name, _ in pages]
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        dir_fd = os.open(out_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise _refuse(out_dir, exc.strerror or str(exc)) from None
    try:
        for name in names:
            try:
                st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISLNK(st.st_mode):
                raise _refuse(out_dir, f"{name} is a symbolic link; envres docs writes no link")
            if name not in previous or not stat.S_ISREG(st.st_mode):
                raise _refuse(
                    out_dir,
                    f"{name} is there and envres docs did not write it; move it away",
                )
        # Listed before they are written: a run cut short leaves no page unaccounted for.
        _write(dir_fd, MANIFEST, _manifest(sorted(previous | set(names))))
        for name, text in pages:
            _write(dir_fd, name, text)
        # A profile deleted since the last run must not live on in its old page.
        for stale in sorted(previous - set(names)):
            with contextlib.suppress(FileNotFoundError):
                st = os.stat(stale, dir_fd=dir_fd, follow_symlinks=False)
                if stat.S_ISREG(st.st_mode):
                    os.unlink(stale, dir_fd=dir_fd)
        _write(dir_fd, MANIFEST, _manifest(names))
    finally:
        os.close(dir_fd)
    return [out_dir / name for name in names]
