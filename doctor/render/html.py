"""The fleet matrix as one self-contained HTML page: sort, filter and read every cell's reasons in a browser.

The page is a single file with inline CSS and JS and no URL to load, so it
opens from file:// on a machine without network and can be mailed or archived.

Every string in a matrix came from some machine's report and is untrusted. Each
goes through `visible` (control characters as escapes) and then `html.escape`;
the script reads only DOM attributes and text and writes only with
textContent, never HTML. A Content-Security-Policy that allows only the hashes
of the page's own style and script is the second line: markup that slipped
through an escape could still not run or load anything.

The view lives in the URL fragment, so a sorted, filtered view can be shared:
  sort=N       sort by column N: 0 the tool name (A-Z), 1.. a machine column by status,
               ok < caveats < build < unknown < unsupported < absent
  dir=asc|desc the sort direction (default asc)
  q=TEXT       keep tools whose name or cell text contains TEXT (any case)
  status=S     keep tools where some machine column has status S; S=not-ok: any status but ok
e.g. matrix.html#sort=2&dir=desc&q=flash&status=unsupported. Clicks and typing update the fragment.
"""

from __future__ import annotations

import base64
import hashlib
import html
from typing import Iterable

from ..fleet.matrix import ABSENT, STATUSES, Cell, Column, Matrix
from .matrix import cell_reason, cell_summary, visible

TITLE = "aidoctor support matrix"
SEVERITY = (*STATUSES, ABSENT)  # the sort order of a machine column: best first
NOT_OK = "not-ok"  # the status filter's "not ok"; the script knows it too

_CSS = """
:root { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #202124; }
body { margin: 0 1.5rem 2rem; }
[hidden] { display: none !important; }
h1 { font-size: 1.4rem; margin: 1rem 0 0.2rem; }
h2 { font-size: 1.1rem; margin: 1.6rem 0 0.4rem; }
header p { margin: 0.1rem 0; }
.by { color: #5f6368; font-size: 0.85rem; }
.controls { display: flex; gap: 1.2rem; align-items: center; margin: 0.8rem 0; flex-wrap: wrap; }
.controls input { width: 18rem; }
.controls input, .controls select { font: inherit; padding: 0.15rem 0.3rem; }
#shown { color: #5f6368; }
.scroll { overflow: auto; width: fit-content; max-width: 100%; max-height: calc(100vh - 11rem);
  border: 1px solid #dadce0; }
.hint { color: #5f6368; font-size: 0.85rem; }
table { border-collapse: separate; border-spacing: 0; }
th, td { border-bottom: 1px solid #e8eaed; border-right: 1px solid #e8eaed; padding: 0; vertical-align: top;
  text-align: left; }
#matrix thead th { position: sticky; top: 0; z-index: 2; background: #f8f9fa; min-width: 9rem; max-width: 16rem; }
#matrix thead th:first-child { left: 0; z-index: 3; min-width: 8rem; }
#matrix tbody th { position: sticky; left: 0; z-index: 1; background: #fff; padding: 0.3rem 0.6rem;
  font-weight: 600; white-space: nowrap; }
#matrix button { display: block; width: 100%; border: 0; background: none; font: inherit; color: inherit;
  text-align: left; padding: 0.3rem 0.6rem; cursor: pointer; overflow-wrap: anywhere; }
#matrix button:focus-visible { outline: 2px solid #1a73e8; outline-offset: -2px; }
.num { color: #5f6368; }
.title { font-weight: 600; }
.kind { display: block; color: #5f6368; font-weight: 400; font-size: 0.85rem; }
.mark { display: inline-block; margin-top: 0.15rem; padding: 0 0.35rem; border-radius: 0.6rem;
  background: #e8eaed; font-size: 0.75rem; font-weight: 400; }
.arrow { margin-left: 0.3rem; color: #1a73e8; }
td.ok { background: #e6f4ea; color: #0d652d; }
td.caveats { background: #fef7e0; color: #7a4f01; }
td.build { background: #e8f0fe; color: #174ea6; }
td.unknown { background: #f1f3f4; color: #5f6368; }
td.unsupported { background: #fce8e6; color: #a50e0e; }
td.absent { background: #fff; color: #9aa0a6; font-style: italic; }
td.open { box-shadow: inset 0 0 0 2px #1a73e8; }
tr.details td { background: #fafafa; }
.detail { position: sticky; left: 0; max-width: 70rem; padding: 0.4rem 0.8rem 0.6rem; }
.detail h3 { font-size: 0.95rem; margin: 0.2rem 0; }
.detail h4 { font-size: 0.85rem; margin: 0.5rem 0 0.1rem; color: #5f6368; }
.detail ul { margin: 0; padding-left: 1.2rem; }
.detail p { margin: 0.2rem 0; }
code { font: 0.85rem ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; overflow-wrap: anywhere; }
.list td, .list th { padding: 0.25rem 0.6rem; overflow-wrap: anywhere; }
.list th { background: #f8f9fa; }
"""

_JS = r"""
"use strict";
(() => {
  const table = document.getElementById("matrix");
  if (!table) return;  // a matrix of collect failures only has no table
  const query = document.getElementById("q");
  const statusSelect = document.getElementById("status");
  const shown = document.getElementById("shown");
  const heads = Array.from(table.tHead.rows[0].cells);
  const body = table.tBodies[0];
  const rows = Array.from(body.querySelectorAll("tr.tool"), (row, index) => {
    const cells = Array.from(row.querySelectorAll("td"));
    return {
      row, index, details: row.nextElementSibling,
      name: row.cells[0].textContent.toLowerCase(),
      text: Array.from(row.cells, (cell) => cell.textContent).join("\n").toLowerCase(),
      statuses: cells.map((cell) => cell.dataset.status),
      ranks: cells.map((cell) => Number(cell.dataset.rank)),
    };
  });
  const byRow = new Map(rows.map((r) => [r.row, r]));
  let state;  // the view: {sort, dir, q, status}, set only by apply()

  function readHash() {
    const params = new URLSearchParams(location.hash.slice(1));
    const sort = Number.parseInt(params.get("sort"), 10);
    return {
      sort: sort >= 0 && sort < heads.length ? sort : null,
      dir: params.get("dir") === "desc" ? "desc" : "asc",
      q: params.get("q") || "",
      status: params.get("status") || "",
    };
  }

  function writeHash() {
    const params = new URLSearchParams();
    if (state.sort !== null) { params.set("sort", state.sort); params.set("dir", state.dir); }
    if (state.q) params.set("q", state.q);
    if (state.status) params.set("status", state.status);
    const hash = params.toString();
    if (location.hash.slice(1) !== hash) history.replaceState(null, "", "#" + hash);
  }

  function compare(a, b) {
    const key = state.sort === 0 ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
      : a.ranks[state.sort - 1] - b.ranks[state.sort - 1];
    return (state.dir === "desc" ? -key : key) || a.index - b.index;
  }

  function sortRows() {
    const ordered = state.sort === null ? rows : [...rows].sort(compare);
    for (const r of ordered) body.append(r.row, r.details);
    heads.forEach((th, i) => {
      const on = i === state.sort;
      th.setAttribute("aria-sort", on ? (state.dir === "desc" ? "descending" : "ascending") : "none");
      th.querySelector(".arrow").textContent = on ? (state.dir === "desc" ? "\u25bc" : "\u25b2") : "";
    });
  }

  function keep(r) {
    if (state.q && !r.text.includes(state.q.toLowerCase())) return false;
    if (state.status === "not-ok") return r.statuses.some((s) => s !== "ok");
    return !state.status || r.statuses.includes(state.status);
  }

  function filterRows() {
    let count = 0;
    for (const r of rows) {
      const on = keep(r);
      r.row.hidden = !on;
      r.details.hidden = !on || !r.row.dataset.open;
      count += on;
    }
    shown.textContent = `${count} of ${rows.length} tools shown`;
  }

  function apply(next) {
    state = next;
    query.value = state.q;
    statusSelect.value = state.status;
    state.status = statusSelect.value;  // a status the page does not offer filters nothing
    sortRows();
    filterRows();
    writeHash();
  }

  // One cell's details at a time per tool: the same cell again closes them.
  function toggle(button) {
    const cell = button.parentElement;
    const r = byRow.get(cell.parentElement);
    const open = r.row.dataset.open === cell.dataset.col ? "" : cell.dataset.col;
    r.row.dataset.open = open;
    for (const td of r.row.querySelectorAll("td")) {
      const on = td.dataset.col === open;
      td.querySelector("button").setAttribute("aria-expanded", String(on));
      td.classList.toggle("open", on);
    }
    for (const section of r.details.querySelectorAll("section")) section.hidden = section.dataset.col !== open;
    r.details.hidden = !open;
  }

  heads.forEach((th, i) => th.querySelector("button").addEventListener("click", () =>
    apply({...state, sort: i, dir: state.sort === i && state.dir === "asc" ? "desc" : "asc"})));
  query.addEventListener("input", () => apply({...state, q: query.value}));
  statusSelect.addEventListener("change", () => apply({...state, status: statusSelect.value}));
  body.addEventListener("click", (event) => {
    const button = event.target.closest("td > button");
    if (button) toggle(button);
  });
  window.addEventListener("hashchange", () => apply(readHash()));
  apply(readHash());
})();
"""


def literal(value: str) -> str:
    """Untrusted text as literal HTML text or attribute value: control characters visible, markup escaped."""
    return html.escape(visible(value), quote=True)


def csp_hash(source: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode("ascii")


def content_security_policy() -> str:
    # No default source: only this page's own style and script run, and nothing loads from anywhere.
    return (f"default-src 'none'; style-src '{csp_hash(_CSS)}'; script-src '{csp_hash(_JS)}'; img-src data:; "
            "base-uri 'none'; form-action 'none'")


def render_html(matrix: Matrix) -> str:
    parts = [_header(matrix)]
    if matrix.columns:
        parts += [_controls(matrix), _table(matrix), _machines(matrix)]
    parts += [
        _section("Drift", ("kind", "what", "values"),
                 [(d.kind, d.aspect, "; ".join(f"{v}: {', '.join(names)}" for v, names in d.values))
                  for d in matrix.drift]),
        _section("Not collected", ("machine", "via", "problem", "reason"),
                 [(f.name, f.via, f.problem, f.reason) for f in matrix.failures]),
        _section("Rejected files", ("file", "reason"), [(r.source, r.reason) for r in matrix.rejected]),
        _section("Superseded", ("file", "reason"), [(r.source, r.reason) for r in matrix.superseded]),
    ]
    body = "\n".join(part for part in parts if part)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{content_security_policy()}">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta name="referrer" content="no-referrer">\n'
            f'<link rel="icon" href="data:,">\n'  # no favicon request
            f"<title>{TITLE}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n"
            f"<script>{_JS}</script>\n</body>\n</html>\n")


def _header(matrix: Matrix) -> str:
    summary = (f"{matrix.machines} machine(s) in {len(matrix.columns)} column(s), {len(matrix.failures)} not "
               f"collected, {len(matrix.rejected)} file(s) rejected")
    by = f"generated by aidoctor {matrix.generated_by}".rstrip()
    return f'<header>\n<h1>{TITLE}</h1>\n<p>{summary}</p>\n<p class="by">{literal(by)}</p>\n</header>'


def _controls(matrix: Matrix) -> str:
    options = [("", "any"), (NOT_OK, "not ok"), *((s, s) for s in SEVERITY)]
    select = "".join(f'<option value="{value}">{label}</option>' for value, label in options)
    count = len(matrix.tools)
    return ('<div class="controls">\n'
            '<label>Filter <input id="q" type="search" placeholder="tool, status or version" autocomplete="off">'
            '</label>\n'
            f'<label>Status <select id="status">{select}</select></label>\n'
            f'<span id="shown" aria-live="polite">{count} of {count} tools shown</span>\n'
            '<span class="hint">Click a cell for its reasons, a header to sort.</span>\n</div>')


def _table(matrix: Matrix) -> str:
    heads = ['<th scope="col" aria-sort="none"><button type="button">tool<span class="arrow" aria-hidden="true">'
             '</span></button></th>']
    heads += [_column_head(number, column) for number, column in enumerate(matrix.columns, 1)]
    rows = [_tool_rows(index, tool, matrix.columns) for index, tool in enumerate(matrix.tools)]
    return ('<div class="scroll">\n<table id="matrix">\n<thead><tr>' + "".join(heads) + "</tr></thead>\n<tbody>\n"
            + "\n".join(rows) + "\n</tbody>\n</table>\n</div>")


def _column_head(number: int, column: Column) -> str:
    mark = '<span class="mark">profile</span>' if column.first.profile else ""
    return (f'<th scope="col" aria-sort="none"><button type="button"><span class="num">[{number}]</span> '
            f'<span class="title">{literal(column.title)}</span><span class="arrow" aria-hidden="true"></span>'
            f'<span class="kind">{literal(column.first.kind)}</span>{mark}</button></th>')


def _tool_rows(index: int, tool: str, columns: tuple[Column, ...]) -> str:
    """The tool's row and, hidden below it, a row with every cell's details for the script to show."""
    cells, details = [], []
    for number, column in enumerate(columns, 1):
        cell = column.cell(tool)
        reason = cell_reason(cell)
        title = f' title="{literal(reason)}"' if reason else ""
        cells.append(f'<td class="{literal(cell.status)}" data-col="{number}" data-status="{literal(cell.status)}" '
                     f'data-rank="{SEVERITY.index(cell.status)}"{title}><button type="button" aria-expanded="false" '
                     f'aria-controls="d{index}-{number}">{literal(cell_summary(cell))}</button></td>')
        details.append(_details(f"d{index}-{number}", number, tool, column, cell))
    return (f'<tr class="tool"><th scope="row">{literal(tool)}</th>{"".join(cells)}</tr>\n'
            f'<tr class="details" hidden><td colspan="{len(columns) + 1}"><div class="detail">'
            + "".join(details) + "</div></td></tr>")


def _details(ident: str, number: int, tool: str, column: Column, cell: Cell) -> str:
    facts = f"status {cell.status}" + (f", installed {cell.installed}" if cell.installed else "")
    parts = [f'<section id="{ident}" data-col="{number}" hidden>',
             f"<h3>{literal(tool)} on [{number}] {literal(column.title)}</h3>", f"<p>{literal(facts)}</p>",
             _list("Reasons", (literal(r) for r in cell.reasons)),
             _list("Fixes", (f"<code>{literal(f)}</code>" for f in cell.fixes)),
             _list("Sources", (_source(s) for s in cell.sources))]
    if cell.smoke:
        parts.append(f"<p>smoke test: {literal(cell.smoke)}</p>")
    if not (cell.reasons or cell.fixes or cell.sources or cell.smoke):
        parts.append(f"<p>{literal(cell_reason(cell) or 'no reasons given')}</p>")
    return "".join(parts) + "</section>"


def _list(title: str, items: Iterable[str]) -> str:
    """A titled list of items that are already HTML, or nothing when there are none."""
    lis = "".join(f"<li>{item}</li>" for item in items)
    return f"<h4>{title}</h4><ul>{lis}</ul>" if lis else ""


def _source(source: str) -> str:
    # Only https sources become links: javascript:, data: or http: stay text that nothing follows.
    if source.startswith("https://"):
        return f'<a href="{literal(source)}" rel="noopener noreferrer">{literal(source)}</a>'
    return literal(source)


def _machines(matrix: Matrix) -> str:
    return _section("Machines", ("column", "machines", "kind", "count"),
                    [(f"[{number}]", ", ".join(m.name for m in column.members),
                      column.first.kind + (" (built-in profile)" if column.first.profile else ""), str(column.count))
                     for number, column in enumerate(matrix.columns, 1)])


def _section(title: str, headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """A titled table of untrusted text, or nothing when there are no rows."""
    if not rows:
        return ""
    head = "".join(f'<th scope="col">{h}</th>' for h in headers)
    body = "\n".join("<tr>" + "".join(f"<td>{literal(value)}</td>" for value in row) + "</tr>" for row in rows)
    return (f'<h2>{title}</h2>\n<table class="list">\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>'
            "\n</table>")
