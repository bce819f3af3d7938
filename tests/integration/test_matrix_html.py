"""The HTML matrix page: escaping, no network and the CSP in its text, then sorting, filtering and details in a
real headless Chromium (Debian's `chromium`).

The matrix holds two built-in profiles, judged offline from the recorded index answers in tests/fixtures/index,
and hand-made reports whose labels, versions, tool names, reasons and sources carry markup, quote-breaking
attributes, rich markup and ANSI escapes. Without /usr/bin/chromium the browser tests skip; with
AIDOCTOR_REQUIRE_CHROMIUM set they fail instead. Screenshots go to $AIDOCTOR_TEST_ARTIFACTS when set.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterator
from urllib.parse import urlencode

import pytest

from aidoctor.doctor.core.facts import Gpu, Machine
from aidoctor.doctor.check.engine import check_profiles
from aidoctor.doctor.fleet.matrix import Matrix, build_matrix, profile_members
from aidoctor.doctor.fleet.reportfile import Cell, Failure, Inputs, Member, Rejected
from aidoctor.doctor.render.html import render_html
from aidoctor.doctor.render.matrix import cell_reason, cell_summary, visible

from ..beds import require

CHROMIUM = Path("/usr/bin/chromium")
FIXTURES = Path(__file__).parents[1] / "fixtures"
TITLE = "aidoctor support matrix"
SCRIPT = "<script>document.title='pwned'</script>"
IMG = '"><img src=x onerror=alert(1)>'
RICH = "[red]x[/red]"
ANSI = "\x1b[31mred\x1b[0m"
EVIL_TOOL = "<b>evil-tool</b>"
LINK = "https://example.com/a?x=1&y=\"><script>alert(2)</script>"
SEVERITY = ("ok", "caveats", "build", "unknown", "unsupported", "absent")
# Attributes that make a browser fetch or navigate somewhere.
URL_ATTRS = {"src", "srcset", "href", "action", "formaction", "poster", "data", "background", "ping", "manifest"}

GB10 = Machine(os="linux", arch="aarch64", distro="Ubuntu 24.04", gpus=(Gpu(vendor="nvidia", name="NVIDIA GB10"),))


def hostile_inputs() -> Inputs:
    spark_a = Member(SCRIPT, "reports/a.json", GB10, {
        "torch": Cell("ok", f"2.9.0{SCRIPT}", (f"{SCRIPT} works",), (), (LINK, "javascript:alert(1)",
                                                                         "http://evil.example/x.js"), "passed"),
        "flash-attn": Cell("unsupported", None, (IMG,), (ANSI,), (), f"failed: import: {SCRIPT}"),
        EVIL_TOOL: Cell("build", ANSI),
    }, machine_id="aaaa", label=SCRIPT, aidoctor="0.1.0", created_at="2025-01-02T00:00:00Z")
    older_a = Member(SCRIPT, f"reports/old{SCRIPT}.json", GB10, {}, machine_id="aaaa", label=SCRIPT,
                     created_at="2025-01-01T00:00:00Z")
    spark_b = Member(IMG, "reports/b.json", replace(GB10, distro=IMG), {
        "torch": Cell("caveats", f"2.8.0{ANSI}", (RICH,)),
        "flash-attn": Cell("build", "2.8.3"),
    }, machine_id="bbbb", label=IMG, aidoctor="0.1.0")
    bare = Member(f"{RICH} {ANSI}", "reports/c.json", Machine(os="linux", arch="aarch64"), {
        "torch": Cell("unknown", None, (ANSI,)),
        "vllm": Cell("unsupported"),
    }, label=f"{RICH} {ANSI}")
    return Inputs((older_a, spark_a, spark_b, bare),
                  (Failure(SCRIPT, "fleet/x.json", "ssh", "unreachable", IMG),),
                  (Rejected(f"reports/{IMG}.json", ANSI),))


# -- a DOM from HTML text ----------------------------------------------------------------------------------------


@dataclass(eq=False)
class Node:
    tag: str
    attrs: dict[str, str | None]
    children: list[Node | str] = field(default_factory=list)

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.walk()

    def all(self, tag: str, cls: str | None = None) -> list[Node]:
        return [n for n in self.walk() if n.tag == tag and (cls is None or cls in (n.attrs.get("class") or "").split())]

    def one(self, tag: str, cls: str | None = None) -> Node:
        found = self.all(tag, cls)
        assert len(found) == 1, f"{len(found)} <{tag} class={cls}> elements"
        return found[0]

    def by_id(self, ident: str) -> Node:
        return next(n for n in self.walk() if n.attrs.get("id") == ident)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    @property
    def hidden(self) -> bool:
        return "hidden" in self.attrs


class _Builder(HTMLParser):
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(text: str) -> Node:
    builder = _Builder()
    builder.feed(text)
    builder.close()
    return builder.root


def tool_rows(doc: Node) -> list[Node]:
    return doc.by_id("matrix").one("tbody").all("tr", "tool")


def row_name(row: Node) -> str:
    return row.one("th").text()


def shown_tools(doc: Node) -> list[str]:
    return [row_name(row) for row in tool_rows(doc) if not row.hidden]


def sha256(source: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode()


def shown_text(value: str) -> str:
    """What the page must hold for an untrusted string: control characters visible, then HTML-escaped."""
    return html.escape(visible(value), quote=True)


# -- fixtures --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def index_cache(tmp_path_factory) -> Path:
    cache = tmp_path_factory.mktemp("index") / "cache"
    shutil.copytree(FIXTURES / "index" / "cache", cache)
    return cache


@pytest.fixture(scope="module")
def matrix(index_cache) -> Matrix:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIDOCTOR_CACHE_DIR", str(index_cache))
        profiles = profile_members(check_profiles(["dgx-spark", "mac-studio-m4-max"], offline=True, timeout=5))
    return build_matrix(hostile_inputs(), profiles, generated_by=f"0.1.0{SCRIPT}")


@pytest.fixture(scope="module")
def page(matrix) -> str:
    return render_html(matrix)


@pytest.fixture
def artifacts(tmp_path) -> Path:
    where = Path(os.environ["AIDOCTOR_TEST_ARTIFACTS"]) if os.environ.get("AIDOCTOR_TEST_ARTIFACTS") else tmp_path
    where.mkdir(parents=True, exist_ok=True)
    return where


@dataclass
class Browser:
    binary: Path
    home: Path
    runs: int = 0

    def run(self, url: str, *args: str) -> subprocess.CompletedProcess:
        # A fresh profile per run: runs share and lock nothing. Root needs --no-sandbox. The virtual time
        # budget lets the page's script finish before the dump or screenshot. The page's console goes to
        # stderr: a Content-Security-Policy violation or an uncaught script error shows there.
        self.runs += 1
        profile = self.home / f"profile-{self.runs}"
        command = [str(self.binary), "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                   "--virtual-time-budget=5000", "--enable-logging=stderr", "--v=0", *args, url]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60,
                                env={**os.environ, "HOME": str(self.home)})
        assert result.returncode == 0, result.stderr[-3000:]
        console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
        assert not [line for line in console if "Content Security Policy" in line or "Uncaught" in line], console
        return result

    def dump(self, path: Path, fragment: str = "") -> Node:
        doc = parse(self.run(path.as_uri() + fragment, "--dump-dom").stdout)
        # Nothing injected ran or became markup: the title is the page's and no <img> exists.
        assert doc.one("title").text() == TITLE
        assert not doc.all("img")
        return doc

    def screenshot(self, path: Path, fragment: str, png: Path) -> None:
        self.run(path.as_uri() + fragment, "--window-size=1400,900", f"--screenshot={png}")
        data = png.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20_000, f"{png}: {len(data)} bytes"
        assert struct.unpack(">II", data[16:24]) == (1400, 900)


@pytest.fixture(scope="module")
def chromium() -> Path:
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    require("chromium", f"no {CHROMIUM} (apt-get install chromium) for the browser tests of the HTML matrix")


@pytest.fixture
def browser(chromium, tmp_path) -> Browser:
    return Browser(chromium, tmp_path)


@pytest.fixture
def page_file(page, tmp_path) -> Path:
    path = tmp_path / "matrix.html"
    path.write_text(page, encoding="utf-8")
    return path


def column_number(matrix: Matrix, name: str) -> int:
    return next(n for n, c in enumerate(matrix.columns, 1) if c.first.name == name)


def sorted_tools(matrix: Matrix, number: int, direction: str) -> list[str]:
    """The order the page must show: by name, or by status severity in column NUMBER; ties in the matrix's order."""
    column = matrix.columns[number - 1] if number else None

    def key(tool: str) -> str | int:
        return visible(tool).lower() if column is None else SEVERITY.index(column.cell(tool).status)

    # sorted() is stable with reverse=True too: ties keep the matrix's order both ways, as on the page.
    return [visible(t) for t in sorted(matrix.tools, key=key, reverse=direction == "desc")]


def keeps(matrix: Matrix, tool: str, q: str, status: str) -> bool:
    """Whether the page must show TOOL under filter text Q and status filter STATUS."""
    statuses = [c.cell(tool).status for c in matrix.columns]
    text = "\n".join([visible(tool), *(visible(cell_summary(c.cell(tool))) for c in matrix.columns)])
    if q.lower() not in text.lower():
        return False
    if status == "not-ok":
        return any(s != "ok" for s in statuses)
    return not status or status in statuses


def details_of(doc: Node, tool: str) -> Node:
    rows = doc.by_id("matrix").one("tbody").all("tr")
    return rows[[row_name(r) if r.attrs["class"] == "tool" else None for r in rows].index(tool) + 1]


# -- the HTML text ---------------------------------------------------------------------------------------------


def failures_only() -> Matrix:
    return Matrix((), (), failures=(Failure("orin-1", "fleet/orin-1.json", "ssh", "timeout", "no answer in 30 s"),))


# -- in Chromium -----------------------------------------------------------------------------------------------


def test_the_table_renders_every_tool_and_column(browser, page_file, matrix):
    doc = browser.dump(page_file)
    heads = doc.by_id("matrix").one("thead").all("th")
    assert len(heads) == len(matrix.columns) + 1 and all(h.attrs["aria-sort"] == "none" for h in heads)
    for head, column in zip(heads[1:], matrix.columns):
        assert head.one("span", "title").text() == visible(column.title)
        assert head.one("span", "kind").text() == visible(column.first.kind)
        assert bool(head.all("span", "mark")) == column.first.profile
    rows = tool_rows(doc)
    assert [row_name(r) for r in rows] == [visible(t) for t in matrix.tools] and EVIL_TOOL in matrix.tools
    for row, tool in zip(rows, matrix.tools):
        cells = row.all("td")
        assert len(cells) == len(matrix.columns) and not row.hidden
        for td, column in zip(cells, matrix.columns):
            cell = column.cell(tool)
            assert td.attrs["class"] == cell.status and td.text() == visible(cell_summary(cell))
            assert td.attrs.get("title", "") == visible(cell_reason(cell))
    assert all(r.hidden for r in doc.all("tr", "details"))
    assert doc.by_id("shown").text() == f"{len(matrix.tools)} of {len(matrix.tools)} tools shown"
    header = doc.one("header").text()
    assert "5 machine(s) in 5 column(s), 1 not collected, 1 file(s) rejected" in header
    assert f"generated by aidoctor 0.1.0{SCRIPT}" in header
    assert [h.text() for h in doc.all("h2")] == ["Machines", "Drift", "Not collected", "Rejected files", "Superseded"]


def test_a_page_without_a_table_runs_cleanly(browser, tmp_path):
    path = tmp_path / "failures.html"
    path.write_text(render_html(failures_only()), encoding="utf-8")
    assert "no answer in 30 s" in browser.dump(path, "#sort=1&q=x").text()


@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("column", ["tool", "profile dgx-spark", SCRIPT])
def test_the_fragment_sorts_both_ways(browser, page_file, matrix, column, direction):
    number = 0 if column == "tool" else column_number(matrix, column)
    doc = browser.dump(page_file, f"#sort={number}&dir={direction}")
    expected = sorted_tools(matrix, number, direction)
    assert shown_tools(doc) == expected and expected != [visible(t) for t in matrix.tools]
    # Each details row stays right below its tool.
    body = doc.by_id("matrix").one("tbody").all("tr")
    assert [r.attrs["class"] for r in body] == ["tool", "details"] * len(matrix.tools)
    heads = doc.by_id("matrix").one("thead").all("th")
    assert [h.attrs["aria-sort"] for h in heads] == [
        ("ascending" if direction == "asc" else "descending") if i == number else "none" for i in range(len(heads))]
    assert heads[number].one("span", "arrow").text() == ("\u25b2" if direction == "asc" else "\u25bc")


@pytest.mark.parametrize("q, status", [
    ("FLASH", ""), ("<script>", ""), ("", "unsupported"), ("", "absent"), ("flash", "unsupported"),
])
def test_the_fragment_filters_by_text_and_status(browser, page_file, matrix, q, status):
    doc = browser.dump(page_file, "#" + urlencode({"q": q, "status": status}))
    expected = [visible(t) for t in matrix.tools if keeps(matrix, t, q, status)]
    assert 0 < len(expected) < len(matrix.tools)
    assert shown_tools(doc) == expected
    assert all(r.hidden for r in doc.all("tr", "details"))
    assert doc.by_id("shown").text() == f"{len(expected)} of {len(matrix.tools)} tools shown"


def test_sort_and_filters_combine(browser, page_file, matrix):
    number = column_number(matrix, "profile dgx-spark")
    doc = browser.dump(page_file, f"#sort={number}&dir=desc&q=flash&status=unsupported")
    expected = [t for t in sorted_tools(matrix, number, "desc") if keeps(matrix, t, "flash", "unsupported")]
    assert shown_tools(doc) == expected == ["flash-attn-3", "flash-attn"]  # unsupported, then build on dgx-spark


# Drives the page the way a user does; the fragment after each step is the shareable view.
INTERACTIONS = """
"use strict";
const log = [];
const cellButton = () => document.querySelector("tr.tool:not([hidden]) td[data-col='COLUMN'] > button");
const note = (step) => log.push({step, hash: location.hash, shown: document.getElementById("shown").textContent,
  order: Array.from(document.querySelectorAll("tr.tool:not([hidden]) > th"), (th) => th.textContent),
  expanded: cellButton().getAttribute("aria-expanded"),
  detailsHidden: cellButton().closest("tr").nextElementSibling.hidden});
const head = document.querySelectorAll("#matrix thead th")[COLUMN].querySelector("button");
head.click(); note("sort");
head.click(); note("sort again");
const query = document.getElementById("q");
query.value = "flash"; query.dispatchEvent(new Event("input")); note("type");
const select = document.getElementById("status");
select.value = "unsupported"; select.dispatchEvent(new Event("change")); note("status");
cellButton().click(); note("open");
cellButton().click(); note("close");
cellButton().click(); note("open again");
window.addEventListener("hashchange", () => { note("hashchange"); document.body.dataset.log = JSON.stringify(log); });
location.hash = "q=flash-attn&status=unsupported";
"""


def test_clicks_and_typing_drive_the_view_and_the_fragment(browser, matrix, page, tmp_path):
    number = column_number(matrix, "profile dgx-spark")
    script = INTERACTIONS.replace("COLUMN", str(number))
    own = re.search(r"script-src '([^']+)'", page).group(1)
    head, tail = page.rsplit("</body>", 1)
    driven = (head.replace(f"script-src '{own}'", f"script-src '{own}' '{sha256(script)}'")
              + f"<script>{script}</script>\n</body>" + tail)
    path = tmp_path / "driven.html"
    path.write_text(driven, encoding="utf-8")
    doc = browser.dump(path)
    log = {entry["step"]: entry for entry in json.loads(doc.one("body").attrs["data-log"])}
    assert (log["sort"]["hash"], log["sort"]["order"]) == (f"#sort={number}&dir=asc",
                                                           sorted_tools(matrix, number, "asc"))
    assert (log["sort again"]["hash"], log["sort again"]["order"]) == (f"#sort={number}&dir=desc",
                                                                       sorted_tools(matrix, number, "desc"))
    assert log["type"]["hash"] == f"#sort={number}&dir=desc&q=flash"
    assert log["status"]["hash"] == f"#sort={number}&dir=desc&q=flash&status=unsupported"
    assert log["status"]["order"] == ["flash-attn-3", "flash-attn"]  # unsupported before build on dgx-spark
    assert log["status"]["shown"] == f"2 of {len(matrix.tools)} tools shown"
    clicks = ("status", "open", "close", "open again")
    assert [log[s]["expanded"] for s in clicks] == ["false", "true", "false", "true"]
    assert [log[s]["detailsHidden"] for s in clicks] == [True, False, True, False]
    # An edited fragment applies as a shared link does: no sort, the matrix's order.
    assert log["hashchange"]["hash"] == "#q=flash-attn&status=unsupported"
    assert log["hashchange"]["order"] == ["flash-attn", "flash-attn-3"]
    # The open cell's details, below its row: all its reasons and fixes, its https sources as links.
    details = details_of(doc, "flash-attn-3")
    assert not details.hidden
    shown = [s for s in details.all("section") if not s.hidden]
    assert [s.attrs["data-col"] for s in shown] == [str(number)]
    cell = matrix.columns[number - 1].cell("flash-attn-3")
    assert cell.reasons and all(visible(r) in shown[0].text() for r in (*cell.reasons, *cell.fixes))
    assert [a.attrs["href"] for a in shown[0].all("a")] == [s for s in cell.sources if s.startswith("https://")]


def test_a_screenshot_at_1400x900(browser, page_file, matrix, artifacts):
    number = column_number(matrix, "profile dgx-spark")
    browser.screenshot(page_file, f"#sort={number}&dir=desc", artifacts / "matrix-hostile.png")


def test_the_cli_page_in_chromium(browser, index_cache, tmp_path, artifacts):
    out = tmp_path / "fleet.html"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AIDOCTOR_CACHE_DIR": str(index_cache)}
    result = subprocess.run([sys.executable, "-m", "aidoctor.doctor", "matrix", "--profile", "dgx-spark",
                             "--profile", "jetson-agx-orin", "--offline", "--format", "html", "-o", str(out)],
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIDOCTOR_CACHE_DIR", str(index_cache))
        expected = build_matrix(Inputs(), profile_members(check_profiles(["dgx-spark", "jetson-agx-orin"], offline=True, timeout=5)))
    doc = browser.dump(out, "#sort=2&dir=desc")
    heads = doc.by_id("matrix").one("thead").all("th")
    assert [h.one("span", "title").text() for h in heads[1:]] == ["profile dgx-spark", "profile jetson-agx-orin"]
    assert shown_tools(doc) == sorted_tools(expected, 2, "desc") and len(expected.tools) == 22
    statuses = {row_name(r): [td.attrs["data-status"] for td in r.all("td")] for r in tool_rows(doc)}
    assert statuses == {t: [c.cell(t).status for c in expected.columns] for t in expected.tools}
    # Here some tools are ok on both machines (in the hostile matrix every tool is absent somewhere).
    not_ok = [t for t in expected.tools if keeps(expected, t, "", "not-ok")]
    assert 0 < len(not_ok) < len(expected.tools)
    assert shown_tools(browser.dump(out, "#status=not-ok")) == not_ok
    browser.screenshot(out, "", artifacts / "matrix-cli.png")
