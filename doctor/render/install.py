"""Rendering for `install`, `smoke` and `wheels`: the plan, live progress, and outcomes. No decisions here."""

from __future__ import annotations

import shlex
from typing import Iterable

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..install.argv import Arg
from ..install.plan import Plan, Route, Step

ROUTE_STYLE = {Route.WHEELHOUSE: "green", Route.INDEX: "green", Route.BUILD: "cyan", Route.IMPOSSIBLE: "red"}
COMPUTED_STYLE = "italic cyan"


def _arg_text(arg: Arg) -> Text:
    # A literal is quoted as a shell would need it; an argument the run computes is shown as what it stands for,
    # in brackets no quoted literal can produce.
    return Text(shlex.quote(arg)) if isinstance(arg, str) else Text(f"<{arg.describe()}>", style=COMPUTED_STYLE)


def command_line(step: Step) -> Text:
    return Text(" ").join(_arg_text(a) for a in step.argv)


def render_plan(plan: Plan, out: Console, into: str | None = None) -> None:
    """`into`: the target environment's line ("into Python 3.11.2 at .venv (uv venv)") for this machine's plan."""
    target = f" on {plan.subject}, not this machine" if plan.subject else ""
    head = Text(f"Plan for {plan.tool}" + (f" {plan.version}" if plan.version else "") + f"{target}: ", style="bold")
    head.append(plan.route.value, style=ROUTE_STYLE[plan.route])
    out.print(head)
    if into:
        out.print(Text(f"  {into}"), soft_wrap=True)
    out.print(Text(f"  why: {plan.why}"))
    if plan.pip is not None and plan.route is not Route.IMPOSSIBLE:
        out.print(Text(f"  pip: {plan.pip.via.value}: {plan.pip.why}"))
    if plan.route is Route.IMPOSSIBLE and plan.alternative:
        out.print(Text(f"  instead: {plan.alternative}"))
    for note in plan.notes:
        out.print(Text(f"  {note}"), soft_wrap=True)  # a warning ends with a command to paste: never cut
    if plan.route is Route.IMPOSSIBLE:
        return
    if plan.key is not None:
        out.print(Text(f"  build key {plan.key_id}: " + ", ".join(f"{k}={v}" for k, v in plan.key.items()
                                                                  if k != "flags")))
    for number, step in enumerate(plan.steps, 1):
        out.print(Text(f"\n{number}. {step.title}", style="bold"))
        out.print(Text(f"   why: {step.why}"))
        for line in step.detail:
            out.print(Text(f"   {line}"))
        for var in step.env:
            out.print(Text(f"   env {var.name}={var.value}"), soft_wrap=True)
            out.print(Text(f"       ({var.why})", style="dim"))
        if step.argv:
            out.print(Text("   $ ") + command_line(step), soft_wrap=True)  # pasted whole: never cut by a newline
            if any(not isinstance(a, str) for a in step.argv):
                out.print(Text("     <...>: computed when the step runs, from what the steps before it did",
                               style="dim"))
    if plan.runtime_env:
        out.print(Text("\nAt run time the tool also needs:", style="bold"))
        for var in plan.runtime_env:
            out.print(Text(f"   {var.name}={var.value}  ({var.why})"), soft_wrap=True)


def render_smoke(result, out: Console) -> None:
    verdict = Text("passed", style="green") if result.passed else Text("FAILED", style="red")
    out.print(Text(f"smoke test for {result.tool} on {result.device}: ") + verdict)
    for check in result.checks:
        mark = Text("  ok   ", style="green") if check.ok else Text("  FAIL ", style="red")
        out.print(mark + Text(f"{check.name}" + (f": {check.detail}" if check.detail else "")))
    if not result.passed:
        out.print(Text(f"  {result.failure()}"))
        if result.cause:
            out.print(Text(f"  likely cause: {result.cause}"))


def render_wheels(wheels: Iterable, out: Console) -> None:
    table = Table(box=box.SIMPLE_HEAD)
    for column in ("wheel", "sha256", "via", "key", "smoke"):
        table.add_column(column)
    for wheel in wheels:
        smoke = (wheel.provenance.get("smoke") or {})
        smoke_text = ("" if not smoke else ("passed" if smoke.get("passed") else "failed")
                      + (f" {smoke.get('date', '')[:10]}" if smoke.get("date") else ""))
        table.add_row(Text(wheel.filename), Text(wheel.sha256[:12]), Text(str(wheel.provenance.get("via", ""))),
                      Text(wheel.key_id or "-"), Text(smoke_text))
    out.print(table)
