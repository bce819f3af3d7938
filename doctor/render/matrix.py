"""The fleet: collect progress, and the matrix for people (terminal, Markdown) and spreadsheets (CSV).

JSON is `Matrix.to_json`; the HTML page is render_html.

Every string in a matrix came from some machine's report and is untrusted: a
label may hold rich markup, ANSI escapes or HTML. `visible` turns control and
invisible formatting characters into their escapes, and each format then
escapes its own syntax, so such text shows as written and nothing interprets it.
"""

from __future__ import annotations

import csv
import io
import unicodedata

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..dsl.rules import Status
from ..fleet.matrix import Matrix
from ..fleet.reportfile import ABSENT, Cell
from .terminal import STYLE

STATUS_STYLE = {**{s.value: style for s, style in STYLE.items()}, ABSENT: "dim"}
# A CSV cell starting with one of these is a formula to a spreadsheet (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def visible(text: str) -> str:
    """Control characters (ESC, CR, NUL...), bidi overrides and other invisible format characters as escapes."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape(c) for c in text)


def _escape(char: str) -> str:
    code = ord(char)
    if unicodedata.category(char) == "Zs":  # a no-break or other space: harmless, keep it readable
        return " "
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def cell_summary(cell: Cell) -> str:
    parts = [cell.status]
    if cell.installed:
        parts.append(cell.installed)
    if cell.smoke:
        parts.append("smoke passed" if cell.smoke == "passed" else "smoke FAILED")
    return " ".join(parts)


def cell_reason(cell: Cell) -> str:
    """The first reason and, where the status is not ok, the first fix."""
    text = cell.reasons[0] if cell.reasons else ("no verdict for this tool in the report" if cell.status == ABSENT
                                                 else "")
    if cell.fixes and cell.status != Status.OK.value:
        text += f" (fix: {cell.fixes[0]})"
    if cell.smoke and cell.smoke != "passed":
        text += f"; smoke test {cell.smoke}"
    return text


def _needs_reason(cell: Cell) -> bool:
    return cell.status != Status.OK.value or bool(cell.smoke and cell.smoke != "passed")


# -- terminal --------------------------------------------------------------------------------------------------


def render_terminal(matrix: Matrix, out: Console, reasons: bool = False) -> None:
    out.print(Text(f"{matrix.machines} machine(s) in {len(matrix.columns)} column(s); "
                   f"{len(matrix.failures)} not collected; {len(matrix.rejected)} file(s) rejected"))
    if matrix.columns:
        table = Table(box=box.SIMPLE_HEAD, show_lines=False)
        table.add_column("tool", no_wrap=True)
        for number, column in enumerate(matrix.columns, 1):
            table.add_column(Text(f"[{number}] {visible(column.title)}"), overflow="fold")
        for tool in matrix.tools:
            row = [Text(visible(tool))]
            for column in matrix.columns:
                cell = column.cell(tool)
                row.append(Text(visible(cell_summary(cell)), style=STATUS_STYLE.get(cell.status, "")))
            table.add_row(*row)
        out.print(table)
        for number, column in enumerate(matrix.columns, 1):
            out.print(Text(f"[{number}] {visible(column.first.kind)}"
                           + (" (built-in profile)" if column.first.profile else "")))
    if reasons:
        for number, column in enumerate(matrix.columns, 1):
            for tool in matrix.tools:
                cell = column.cell(tool)
                if _needs_reason(cell):
                    out.print(Text(f"[{number}] {visible(tool)}: {cell.status}: {visible(cell_reason(cell))}"))
    elif matrix.columns:
        out.print(Text("Reasons: aidoctor matrix ... --reasons, or --format html for a page to explore"))
    if matrix.drift:
        out.print(Text("\nDrift between machines of one kind:", style="bold"))
        for drift in matrix.drift:
            values = "; ".join(f"{visible(v)}: {', '.join(visible(n) for n in names)}" for v, names in drift.values)
            out.print(Text(f"  {visible(drift.kind)} · {visible(drift.aspect)}: {values}"))
    for (title, lines), style in zip(_notes(matrix), ("red", "red", "dim")):
        if lines:
            out.print(Text(f"\n{title}:", style=f"bold {style}"))
            for line in lines:
                out.print(Text(f"  {visible(line)}"))


def _notes(matrix: Matrix) -> tuple[tuple[str, list[str]], ...]:
    """What did not make it into the table, one raw line each, for the terminal and Markdown."""
    return (("Not collected", [f"{f.name} ({f.via}): {f.problem}: {f.reason}" for f in matrix.failures]),
            ("Rejected files", [f"{r.source}: {r.reason}" for r in matrix.rejected]),
            ("Superseded", [f"{r.source}: {r.reason}" for r in matrix.superseded]))


# -- Markdown --------------------------------------------------------------------------------------------------

_MARKDOWN_SPECIAL = set("\\`*_{}[]()#+-.!|~")


def md(text: str) -> str:
    """Literal text in a Markdown table cell: syntax escaped, HTML as entities, one line."""
    out = []
    for char in visible(text):  # visible() already made newlines into \x0a: one line
        if char == "<":
            out.append("&lt;")
        elif char == ">":
            out.append("&gt;")
        elif char == "&":
            out.append("&amp;")
        elif char in _MARKDOWN_SPECIAL:
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def render_markdown(matrix: Matrix) -> str:
    lines = ["# Support matrix", "",
             f"{matrix.machines} machine(s) in {len(matrix.columns)} column(s), "
             f"{len(matrix.failures)} not collected, {len(matrix.rejected)} file(s) rejected.", ""]
    if matrix.columns:
        lines.append("| tool | " + " | ".join(f"[{n}] {md(c.title)}" for n, c in enumerate(matrix.columns, 1)) + " |")
        lines.append("|---" * (len(matrix.columns) + 1) + "|")
        for tool in matrix.tools:
            lines.append(f"| {md(tool)} | " + " | ".join(md(cell_summary(c.cell(tool))) for c in matrix.columns)
                         + " |")
        lines += ["", "## Machines", "", "| column | machines | kind | count |", "|---|---|---|---|"]
        for number, column in enumerate(matrix.columns, 1):
            kind = md(column.first.kind) + (" (built-in profile)" if column.first.profile else "")
            lines.append(f"| {number} | {md(', '.join(m.name for m in column.members))} | {kind} | {column.count} |")
        reasons = [f"- **[{n}] {md(tool)}**: {md(c.cell(tool).status)}: {md(cell_reason(c.cell(tool)))}"
                   for n, c in enumerate(matrix.columns, 1) for tool in matrix.tools if _needs_reason(c.cell(tool))]
        if reasons:
            lines += ["", "## Reasons", "", *reasons]
    if matrix.drift:
        lines += ["", "## Drift", "", "| kind | what | values |", "|---|---|---|"]
        for drift in matrix.drift:
            values = "; ".join(f"{md(v)}: {md(', '.join(names))}" for v, names in drift.values)
            lines.append(f"| {md(drift.kind)} | {md(drift.aspect)} | {values} |")
    for title, rows in _notes(matrix):
        if rows:
            lines += ["", f"## {title}", "", *(f"- {md(row)}" for row in rows)]
    return "\n".join(lines) + "\n"


# -- CSV -------------------------------------------------------------------------------------------------------

CSV_HEADER = ("column", "machines", "count", "kind", "tool", "status", "installed", "smoke", "reason", "fix")


def csv_text(text: str) -> str:
    text = visible(text)
    return "'" + text if text.startswith(FORMULA_START) else text


def render_csv(matrix: Matrix) -> str:
    """One row per column and tool (a long table: filter and pivot it in a spreadsheet)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for number, column in enumerate(matrix.columns, 1):
        names = "; ".join(m.name for m in column.members)
        for tool in matrix.tools:
            cell = column.cell(tool)
            writer.writerow([str(number), csv_text(names), str(column.count), csv_text(column.first.kind),
                             csv_text(tool), cell.status, csv_text(cell.installed or ""), csv_text(cell.smoke or ""),
                             csv_text(cell.reasons[0] if cell.reasons else ""),
                             csv_text(cell.fixes[0] if cell.fixes else "")])
    return buffer.getvalue()
