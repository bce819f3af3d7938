"""The wheelhouse's PEP 503 "simple" index pages, so `pip install --index-url file://ROOT/simple` works.

Each page declares PEP 629's repository version; wheel links carry `#sha256=` and PEP 503's
`data-requires-python`. Pure: the store writes what these return under its lock.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from .store import StoredWheel


def project_page(project: str, wheels: list[StoredWheel]) -> str:
    """One project's page: a link per wheel with its sha256 (pip checks it) and its Requires-Python."""
    links = []
    for wheel in wheels:
        href = html.escape(f"../../{quote(wheel.filename)}#sha256={wheel.sha256}")
        requires = wheel.provenance.get("requires_python")
        attribute = f' data-requires-python="{html.escape(requires)}"' if requires else ""
        links.append(f'<a href="{href}"{attribute}>{html.escape(wheel.filename)}</a><br>')
    return _page(f"Links for {project}", links)


def projects_page(projects: list[str]) -> str:
    """The root page: a link per project."""
    links = [f'<a href="{quote(project)}/">{html.escape(project)}</a><br>' for project in projects]
    return _page("Simple index", links)


def _page(title: str, lines: list[str]) -> str:
    head = f'<meta name="pypi:repository-version" content="1.0"><title>{html.escape(title)}</title>'
    return "\n".join(["<!DOCTYPE html>", f"<html><head>{head}</head><body>", *lines, "</body></html>", ""])
