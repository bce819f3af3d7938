"""The `aidoctor` command: parse options, call the core, render. No tool knowledge lives here.

Exit codes (docs/cli.md): 0 all good; 1 a finding (an installed tool cannot
work here, or a tool named with --tool is not usable); 2 bad usage or bad
input, with a one-line error on stderr and no traceback.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Callable, List, Optional

import typer

from . import __version__
from .errors import EXIT_BAD_INPUT, AidoctorError

app = typer.Typer(
    name="aidoctor",
    help="Which AI training tools can work on this machine, why not, and the exact fix.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

PythonOpt = typer.Option(None, "--python", metavar="PATH",
                         help="Target interpreter to inspect. Default: the active virtual environment, else python3 on PATH.")
FactsOpt = typer.Option(None, "--facts", metavar="FILE",
                        help="Judge a recorded or hand-written facts file (or a --json report) instead of probing.")
ProfileOpt = typer.Option(None, "--profile", metavar="NAME", help="Judge a built-in machine profile (see `aidoctor profiles`).")
OfflineOpt = typer.Option(False, "--offline", help="Do not contact the package index; use its cached answers only.")
TimeoutOpt = typer.Option(5.0, "--timeout", min=0.1, max=600, metavar="SECONDS",
                          help="Hard limit for each probe command and index request.")


def _guarded(command: Callable) -> Callable:
    """Turn an AidoctorError into one line on stderr and its exit code."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except AidoctorError as exc:
            typer.echo(f"aidoctor: error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            typer.echo("aidoctor: interrupted", err=True)
            raise typer.Exit(130) from None

    return wrapper


def _one_source(facts: Optional[Path], profile: Optional[str], python: Optional[str]) -> None:
    given = [name for name, value in (("--facts", facts), ("--profile", profile), ("--python", python)) if value]
    if len(given) > 1:
        raise AidoctorError(f"{' and '.join(given)} cannot be combined: pick one source of facts")


@app.command()
@_guarded
def check(
    tool: Optional[List[str]] = typer.Option(None, "--tool", "-t", metavar="TOOL",
                                             help="Only this tool (repeatable). Exit 1 unless every named tool is ok or caveats."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON (schema in docs/report-schema.md)."),
    python: Optional[str] = PythonOpt,
    facts: Optional[Path] = FactsOpt,
    profile: Optional[str] = ProfileOpt,
    deep: bool = typer.Option(False, "--deep", help="Also import torch in the target Python and launch one tiny kernel."),
    offline: bool = OfflineOpt,
    include_identifiers: bool = typer.Option(False, "--include-identifiers",
                                             help="Keep host name, serial numbers and paths in the report."),
    timeout: float = TimeoutOpt,
) -> None:
    """Probe this machine (or read facts) and say, tool by tool, whether it can work here."""
    from .check import CheckRequest, run_check
    from .render import console, print_json, render_check

    _one_source(facts, profile, python)
    report = run_check(CheckRequest(python=python, facts_file=facts, profile=profile, tools=tuple(tool or ()),
                                    offline=offline, deep=deep, include_identifiers=include_identifiers,
                                    timeout=timeout))
    if json_out:
        print_json(report.to_json())
    else:
        render_check(report, console())
    raise typer.Exit(report.exit_code)


@app.command()
@_guarded
def explain(
    tool: str = typer.Argument(..., metavar="TOOL", help="A tool id, e.g. flash-attn."),
    python: Optional[str] = PythonOpt,
    facts: Optional[Path] = FactsOpt,
    profile: Optional[str] = ProfileOpt,
    offline: bool = OfflineOpt,
    timeout: float = TimeoutOpt,
) -> None:
    """Show every rule behind one tool's verdict: which apply here, why, the fix and the source."""
    from .check import CheckRequest, run_check, select_tools
    from .render import console, render_explain

    _one_source(facts, profile, python)
    (chosen,) = select_tools((tool,))
    report = run_check(CheckRequest(python=python, facts_file=facts, profile=profile, tools=(tool,),
                                    offline=offline, timeout=timeout))
    render_explain(chosen, report.verdicts[0], report.subject, console())


@app.command()
@_guarded
def profiles() -> None:
    """List the built-in profiles of real machines."""
    from .profiles import all_profiles
    from .render import console, render_profiles

    render_profiles(all_profiles().values(), console())


@app.command()
@_guarded
def compare(
    names: List[str] = typer.Argument(..., metavar="PROFILE...", help="Two or more profiles, e.g. dgx-spark mac-studio-m4-max."),
    json_out: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
    offline: bool = OfflineOpt,
    timeout: float = TimeoutOpt,
) -> None:
    """Side by side: which tools can work on each machine, and how."""
    from .check import CheckRequest, run_check
    from .profiles import load
    from .render import console, print_json, render_compare

    if len(names) < 2:
        raise AidoctorError("compare needs at least two profiles, e.g. aidoctor compare dgx-spark mac-studio-m4-max")
    columns = [(load(name), run_check(CheckRequest(profile=name, offline=offline, timeout=timeout)).verdicts)
               for name in names]
    if json_out:
        print_json({"profiles": {p.name: [v.to_json() for v in verdicts] for p, verdicts in columns}})
    else:
        render_compare(columns, console())


def _version(value: bool) -> None:
    if value:
        typer.echo(f"aidoctor {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """aidoctor: an environment doctor for AI training on ARM Linux and macOS."""


def main() -> None:
    try:
        app()
    except SystemExit:
        raise
    except Exception as exc:  # a bug must still end in one line and a documented code, not a traceback
        print(f"aidoctor: internal error: {type(exc).__name__}: {exc} (please report it)", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT + 1)
