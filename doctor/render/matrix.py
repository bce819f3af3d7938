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


def _table_width(text_widths: list[int]) -> int:
    """A table's width from its columns' text: one padding space each side of every column, and the box's vertical
    rules (SIMPLE_HEAD draws them as spaces), one per column plus one."""
    return sum(text_widths) + 3 * len(text_widths) + 1


def _longest_word(*texts: str) -> int:
    return max((len(word) for text in texts for word in text.split()), default=1)


def _column_widths(minimums: list[int], maximums: list[int], room: int) -> list[int]:
    """Each column at least its longest word (words are never split), the room left shared out up to each maximum."""
    widths = list(minimums)
    spare = room - sum(widths)
    while spare > 0:
        growing = [i for i, w in enumerate(widths) if w < maximums[i]]
        if not growing:
            break
        share = max(1, spare // len(growing))
        for i in growing:
            step = min(share, maximums[i] - widths[i], spare)
            widths[i] += step
            spare -= step
    return widths


def _groups(minimums: list[int], room: int) -> list[list[int]]:
    """The columns folded into tables that each fit ROOM at their minimum widths (one column per table at worst)."""
    groups: list[list[int]] = [[]]
    for index, minimum in enumerate(minimums):
        if groups[-1] and _table_width([*(minimums[i] for i in groups[-1]), minimum]) > room:
            groups.append([])
        groups[-1].append(index)
    return groups


def render_terminal(matrix: Matrix, out: Console, reasons: bool = False) -> None:
    out.print(Text(f"{matrix.machines} machine(s) in {len(matrix.columns)} column(s); "
                   f"{len(matrix.failures)} not collected; {len(matrix.rejected)} file(s) rejected"))
    if matrix.columns:
        _print_tables(matrix, out)
        for number, column in enumerate(matrix.columns, 1):
            out.print(Text(f"[{number}] {visible(column.title)}: {visible(column.first.kind)}"
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


def _print_tables(matrix: Matrix, out: Console) -> None:
    """The tools-by-columns table: cells wrap between words; when even that is too wide, headers shrink to their
    number (the legend below names each column) and then the columns fold into several tables."""
    tools = [visible(tool) for tool in matrix.tools]
    cells = [[visible(cell_summary(column.cell(tool))) for tool in matrix.tools] for column in matrix.columns]
    titles = [f"[{number}] {visible(column.title)}" for number, column in enumerate(matrix.columns, 1)]
    tool_width = max(len(t) for t in [*tools, "tool"])
    room = out.width - (tool_width + 3)  # what the machine columns' tables may take beside the tool column
    longest = [max(len(c) for c in column) for column in cells]
    headers = titles
    minimums = [max(_longest_word(*column), _longest_word(title)) for column, title in zip(cells, titles)]
    if _table_width(minimums) > room:
        headers = [title.split()[0] for title in titles]  # "[n]"
        minimums = [max(_longest_word(*column), len(header)) for column, header in zip(cells, headers)]
    for group in _groups(minimums, room):
        widths = _column_widths([minimums[i] for i in group], [max(longest[i], len(headers[i])) for i in group],
                                room - _table_width([0] * len(group)))
        table = Table(box=box.SIMPLE_HEAD, show_lines=False)
        table.add_column("tool", no_wrap=True, width=tool_width)
        for index, width in zip(group, widths):
            table.add_column(Text(headers[index]), width=width, overflow="fold")  # fold: only a word wider than all
        for row, tool in enumerate(matrix.tools):
            statuses = (matrix.columns[i].cell(tool).status for i in group)
            table.add_row(Text(tools[row]), *(Text(cells[i][row], style=STATUS_STYLE.get(status, ""))
                                              for i, status in zip(group, statuses)))
        out.print(table)


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
