"""The HTML matrix page as text: escaping, no network loads, the CSP, empty sections.

The browser tests of the same page are in tests/integration/test_matrix_html.py.
"""

from __future__ import annotations

from aidoctor.doctor.fleet.matrix import Cell, Inputs, Member, build_matrix
from aidoctor.doctor.render.html import render_html
from aidoctor.doctor.render.matrix import visible

from ..integration.test_matrix_html import (ANSI, EVIL_TOOL, GB10, IMG, LINK, RICH, SCRIPT, URL_ATTRS, failures_only,
                                            parse, sha256, shown_text)
from ..integration.test_matrix_html import index_cache, matrix, page  # noqa: F401 (fixtures)


def test_every_untrusted_string_is_escaped_and_never_raw(matrix, page):
    assert matrix.columns and matrix.drift and matrix.superseded  # the hostile inputs reach every section
    for value in (SCRIPT, IMG, RICH, ANSI, EVIL_TOOL, LINK, f"2.9.0{SCRIPT}", f"2.8.0{ANSI}"):
        assert shown_text(value) in page, value
    for raw in (SCRIPT, IMG, EVIL_TOOL, "<script>alert(2)", "\x1b"):
        assert raw not in page, raw
    assert "&lt;script&gt;document.title=&#x27;pwned&#x27;&lt;/script&gt;" in page
    assert "\\x1b[31mred\\x1b[0m" in page  # the ANSI escape as visible text
    doc = parse(page)
    assert len(doc.all("script")) == 1 and not doc.all("img") and not doc.all("b")
    assert not [(n.tag, a) for n in doc.walk() for a in n.attrs if a.startswith("on")]  # no inline handlers
    assert SCRIPT in doc.one("body").text()  # shown as written


def test_nothing_loads_from_the_network(matrix, page):
    doc = parse(page)
    links = []
    for node in doc.walk():
        for name, value in node.attrs.items():
            if name not in URL_ATTRS:
                continue
            if node.tag == "link":
                assert (node.attrs.get("rel"), value) == ("icon", "data:,")
            else:
                assert (node.tag, name) == ("a", "href") and value.startswith("https://"), (node.tag, name, value)
                links.append(value)
    sources = {s for c in matrix.columns for t in matrix.tools for s in c.cell(t).sources}
    assert set(links) == {visible(s) for s in sources if s.startswith("https://")}
    assert LINK in links and f'href="{shown_text(LINK)}"' in page
    assert "javascript:alert(1)" in page and "http://evil.example/x.js" in page  # as text only
    style = doc.one("style").text()
    assert "url(" not in style and "@import" not in style


def test_the_csp_allows_exactly_the_inline_style_and_script(page):
    doc = parse(page)
    meta = [n for n in doc.all("meta") if n.attrs.get("http-equiv") == "Content-Security-Policy"]
    assert len(meta) == 1
    policy = dict(d.strip().split(" ", 1) for d in meta[0].attrs["content"].split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == f"'{sha256(doc.one('script').text())}'"
    assert policy["style-src"] == f"'{sha256(doc.one('style').text())}'"
    # A CSP in a <meta> guards only what comes after it.
    order = [n.attrs.get("http-equiv") or n.tag for n in doc.walk() if n.tag in ("meta", "style", "script")]
    assert order.index("Content-Security-Policy") < order.index("style") < order.index("script")


def test_empty_sections_are_omitted():
    page = render_html(failures_only())
    assert [h.text() for h in parse(page).all("h2")] == ["Not collected"] and 'id="matrix"' not in page
    machine = Member("spark", "reports/spark.json", GB10, {"torch": Cell("ok")})
    headings = [h.text() for h in parse(render_html(build_matrix(Inputs((machine,))))).all("h2")]
    assert headings == ["Machines"]
