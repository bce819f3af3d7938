"""The `aidoctor` command: parse options, call the core, render. No tool knowledge lives here.

Exit codes (all in core/errors.py): 0 all good; 1 a finding (an installed tool
cannot work here, or a tool named with --tool is not usable) or a failure (an
install, a host, a report file); 2 bad usage or bad input, with a one-line
error on stderr and no traceback; 3 an internal error.
"""

from __future__ import annotations

import enum
import functools
import os
import sys
from pathlib import Path
from typing import Callable, List, Optional

import typer

from . import __version__
from .core.errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, AidoctorError
from .core.paths import wheelhouse_dir

app = typer.Typer(
    name="aidoctor",
    help="Which AI training tools can work on this machine, why not, and the exact fix.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

PythonOpt = typer.Option(None, "--python", metavar="PATH",
                         help="Target interpreter to inspect. Default: the active virtual environment, else python3 on PATH.")
FactsOpt = typer.Option(None, "--facts", metavar="FILE",
                        help="Judge a recorded or hand-written facts file (or a --json report) instead of probing.")
LenientOpt = typer.Option(False, "--lenient", help="With --facts: ignore keys no fact has, with a warning, "
                                                   "instead of refusing the file.")
ProfileOpt = typer.Option(None, "--profile", metavar="NAME", help="Judge a built-in machine profile (see `aidoctor profiles`).")
OfflineOpt = typer.Option(False, "--offline", help="Do not contact the package index; use its cached answers only.")
DeepOpt = typer.Option(False, "--deep", help="Also import torch in the target Python and launch one tiny kernel.")
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
        except KeyboardInterrupt as exc:
            from .core.system import stop_children

            stop_children(grace=1.0)  # a probe a worker thread started must not outlive the command
            typer.echo("aidoctor: interrupted", err=True)
            raise typer.Exit(getattr(exc, "exit_code", EXIT_INTERRUPTED)) from None

    return wrapper


def _warn(warnings) -> None:
    for warning in warnings:
        print(f"aidoctor: warning: {warning}", file=sys.stderr)


def _target(python: Optional[str], facts: Optional[Path], profile: Optional[str]) -> Optional[str]:
    """The target interpreter, resolved once here (absolute, a folder's bin/python, a removed venv refused), so that
    every command after, a build in another folder included, runs the same one; none with --facts/--profile."""
    from .probes.target import choose_target

    return None if facts or profile else choose_target(python, os.environ)


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
    lenient: bool = LenientOpt,
    profile: Optional[str] = ProfileOpt,
    deep: bool = DeepOpt,
    offline: bool = OfflineOpt,
    include_identifiers: bool = typer.Option(False, "--include-identifiers",
                                             help="Keep host name, serial numbers and paths in the report."),
    timeout: float = TimeoutOpt,
    audit: str = typer.Option("tools", "--audit", metavar="SCOPE",
                              help="Read the installed binaries of: tools (the tools and what they require), "
                                   "all (every distribution), off."),
) -> None:
    """Probe this machine (or read facts) and say, tool by tool, whether it can work here."""
    from .audit.scope import Scope

    _one_source(facts, profile, python)
    python = _target(python, facts, profile)
    if audit not in {s.value for s in Scope}:
        raise AidoctorError(f"--audit {audit!r}: expected one of {', '.join(s.value for s in Scope)}")
    probing = None
    if python is not None:  # resolved by _target: a probed machine
        # The probes (the target Python's above all) run while the engine and renderer are imported.
        from .core.system import LiveSystem
        from .probes.collect import Options, start

        probing = start(LiveSystem(), Options(python=python, timeout=timeout))
    from .check.engine import CheckRequest, run_check
    from .render.terminal import console, print_json, render_check

    report = run_check(CheckRequest(python=python, facts_file=facts, profile=profile, tools=tuple(tool or ()),
                                    offline=offline, deep=deep, include_identifiers=include_identifiers,
                                    timeout=timeout, audit=Scope(audit), lenient=lenient), probing=probing)
    _warn(report.warnings)
    if json_out:
        print_json(report.to_json())
    else:
        render_check(report, console())
    raise typer.Exit(report.exit_code)


@app.command()
@_guarded
def report(
    output: str = typer.Option("-", "--output", "-o", metavar="FILE",
                               help="Where to write the JSON report; '-' (the default) is stdout."),
    label: Optional[str] = typer.Option(None, "--label", metavar="NAME",
                                        help="What to call this machine in a fleet matrix. Default: none (a hash names it)."),
    python: Optional[str] = PythonOpt,
    deep: bool = DeepOpt,
    offline: bool = OfflineOpt,
    include_identifiers: bool = typer.Option(False, "--include-identifiers",
                                             help="Keep host name, serials and paths; the host name becomes the label."),
    timeout: float = TimeoutOpt,
) -> None:
    """Write this machine's report for `aidoctor matrix`: the check, smoke results, a label or hash, no identifiers."""
    from .check.engine import CheckRequest
    from .fleet.report import check_label, make_report, write_report

    check_label(label)  # before the probes run: a bad label should not cost a check
    python = _target(python, None, None)
    request = CheckRequest(python=python, offline=offline, deep=deep, include_identifiers=include_identifiers,
                           timeout=timeout)
    write_report(make_report(request, label), output)


@app.command()
@_guarded
def explain(
    tool: str = typer.Argument(..., metavar="TOOL", help="A tool id, e.g. flash-attn."),
    python: Optional[str] = PythonOpt,
    facts: Optional[Path] = FactsOpt,
    lenient: bool = LenientOpt,
    profile: Optional[str] = ProfileOpt,
    offline: bool = OfflineOpt,
    timeout: float = TimeoutOpt,
    show_all: bool = typer.Option(False, "--all", help="Also list the rules that do not apply here."),
) -> None:
    """Show the rules behind one tool's verdict: those that apply here (--all: every rule), why, the fix and the
    source, then the verdict's own fixes."""
    from .check.engine import CheckRequest, run_check, select_tools
    from .render.terminal import console, python_line, render_explain

    _one_source(facts, profile, python)
    python = _target(python, facts, profile)
    (chosen,) = select_tools((tool,))
    report = run_check(CheckRequest(python=python, facts_file=facts, profile=profile, tools=(tool,),
                                    offline=offline, timeout=timeout, lenient=lenient))
    _warn(report.warnings)
    target = python_line(report.machine, report.environment) if report.environment is not None else None
    render_explain(chosen, report.verdicts[0], report.subject, console(), report.machine.derived, target=target,
                   show_all=show_all)


@app.command()
@_guarded
def profiles() -> None:
    """List the built-in profiles of real machines."""
    from .check.profiles import all_profiles
    from .render.terminal import console, render_profiles

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
    from .check.engine import CheckRequest, run_check
    from .check.profiles import load
    from .fit.capacity import capacity_json
    from .render.fit import render_capacity
    from .render.terminal import console, print_json, render_compare

    if len(names) < 2:
        raise AidoctorError("compare needs at least two profiles, e.g. aidoctor compare dgx-spark mac-studio-m4-max")
    columns = [(load(name), run_check(CheckRequest(profile=name, offline=offline, timeout=timeout)).verdicts)
               for name in names]
    capacity = _capacity(names, offline, timeout)
    if json_out:
        print_json({"profiles": {p.name: [v.to_json() for v in verdicts] for p, verdicts in columns},
                    "capacity": capacity_json(capacity)})
    else:
        render_compare(columns, console())
        console().print()
        render_capacity(capacity, names, console())


def _capacity(names: List[str], offline: bool, timeout: float):
    """A few standard models x the three training methods on each machine (aidoctor fit's defaults)."""
    from .fit.capacity import capacity_rows
    from .fit.targets import profile_target

    return capacity_rows([profile_target(name, offline, timeout) for name in names])


def _choice(enum, value: str, option: str):
    try:
        return enum(value)
    except ValueError:
        raise AidoctorError(f"{option} {value!r}: pick one of {', '.join(e.value for e in enum)}") from None


@app.command()
@_guarded
def fit(
    model: Optional[str] = typer.Argument(None, metavar="MODEL",
                                          help="A catalog name (--list-models), a config.json, a model folder or a Hub repo id."),
    profile: Optional[List[str]] = typer.Option(None, "--profile", metavar="NAME",
                                                help="Judge a built-in profile (repeatable: side by side). Default: this machine."),
    facts: Optional[Path] = FactsOpt,
    method: str = typer.Option("lora", "--method", help="full, lora, qlora or inference."),
    seq_len: int = typer.Option(2048, "--seq-len", help="Tokens per training sample."),
    batch: int = typer.Option(1, "--batch", help="Micro-batch (samples per forward pass)."),
    grad_accum: int = typer.Option(8, "--grad-accum", help="Micro-batches per optimizer step (no memory cost)."),
    checkpointing: str = typer.Option("auto", "--gradient-checkpointing",
                                      help="on, off, or auto (the framework's default; on when needed to fit)."),
    lora_rank: int = typer.Option(16, "--lora-rank"),
    lora_targets: str = typer.Option("q,k,v,o,gate,up,down", "--lora-targets", help="Linears with adapters."),
    optimizer: Optional[str] = typer.Option(None, "--optimizer",
                                            help="adamw, adamw-8bit, paged-adamw-8bit, paged-adamw or sgd. "
                                                 "Default: adamw (torchtune full: paged-adamw-8bit)."),
    precision: str = typer.Option("bf16", "--precision", help="bf16 (pure) or mixed (fp32 master weights)."),
    framework: Optional[str] = typer.Option(None, "--framework",
                                            help="hf, unsloth, torchtune, mlx-lm or llamafactory. Default: mlx-lm on a Mac, else hf."),
    weights: str = typer.Option("bf16", "--weights", help="Inference weight format: bf16, fp8, int8, nf4, mxfp4, nvfp4, "
                                                          "gptq-int4, q8_0, q6_k, q5_k_m, q4_k_m, q4_0, q3_k_m, mlx-q4."),
    context: int = typer.Option(4096, "--context", help="Inference: tokens in the KV cache."),
    list_models: bool = typer.Option(False, "--list-models", help="List the built-in catalog and exit."),
    json_out: bool = typer.Option(False, "--json", help="Print the plan as JSON (schema in docs/fit-schema.md)."),
    offline: bool = typer.Option(False, "--offline", help="Use only cached Hub configs and package-index answers."),
    timeout: float = TimeoutOpt,
) -> None:
    """Will this fine-tune (or inference) fit on this machine, how fast, and what is the cheapest change that makes it fit."""
    from .fit import memory
    from .fit.config import resolve_model
    from .fit.plan import Options, plan_fit, to_json
    from .fit.targets import facts_target, profile_target, this_machine
    from .render.fit import render_fit
    from .render.terminal import console, print_json

    if list_models:
        from .fit.models import catalog

        for entry in catalog().values():
            typer.echo(f"{entry.key:32} {entry.title:32} {entry.spec.total_params / 1e9:7.2f}B  {entry.hub}")
        return
    if model is None:
        raise AidoctorError("give a MODEL: a catalog name (aidoctor fit --list-models), a config.json, a folder or a Hub repo id")
    if facts and profile:
        raise AidoctorError("--facts and --profile cannot be combined: pick one source of facts")
    options = Options(
        method=_choice(memory.Method, method, "--method"), seq_len=seq_len, batch=batch, grad_accum=grad_accum,
        checkpointing=_choice(memory.Checkpointing, checkpointing, "--gradient-checkpointing"),
        lora_rank=lora_rank, lora_targets=tuple(t.strip() for t in lora_targets.split(",") if t.strip()),
        optimizer=_choice(memory.Optimizer, optimizer, "--optimizer") if optimizer else None,
        precision=_choice(memory.Precision, precision, "--precision"), framework=framework,
        weights=_choice(memory.Weights, weights, "--weights"), context=context)
    from .fit.plan import check_options

    check_options(options)  # before any probe or download: bad input costs nothing
    spec = resolve_model(model, offline=offline, timeout=timeout)
    if profile:
        targets = [profile_target(name, offline, timeout) for name in dict.fromkeys(profile)]
    elif facts:
        targets = [facts_target(facts, offline, timeout)]
    else:
        targets = [this_machine(offline, timeout)]
    result = plan_fit(spec, options, targets)
    if json_out:
        print_json(to_json(result))
    else:
        render_fit(result, console())


class MatrixFormat(str, enum.Enum):
    """`matrix --format`: typer accepts these values and no other (pip-audit's OutputFormatChoice)."""

    TERMINAL = "terminal"
    MARKDOWN = "markdown"
    HTML = "html"
    CSV = "csv"
    JSON = "json"


@app.command()
@_guarded
def matrix(
    reports: List[Path] = typer.Argument(None, metavar="REPORTS...",
                                         help="Report files, or folders of them (every *.json inside)."),
    output_format: MatrixFormat = typer.Option(MatrixFormat.TERMINAL.value, "--format", "-f", metavar="FORMAT",
                                               help="terminal, markdown, html (one self-contained page), csv or json."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", metavar="FILE", help="Write to FILE, not stdout."),
    profile: Optional[List[str]] = typer.Option(None, "--profile", metavar="NAME",
                                                help="Add a built-in profile as a column (repeatable), e.g. dgx-spark."),
    reasons: bool = typer.Option(False, "--reasons", help="Terminal: list the reason and fix behind every cell that is not ok."),
    offline: bool = OfflineOpt,
    timeout: float = TimeoutOpt,
) -> None:
    """Merge reports from many machines into one tools-by-machines matrix, with the drift between machines of a kind.

    Exit 0 when every file merged, 1 when some were rejected (each named on stderr with
    its reason; the rest merged), 2 when nothing could be merged.
    """
    from . import __version__
    from .check.engine import check_profiles
    from .fleet.matrix import build_matrix, profile_members
    from .fleet.reportfile import load_inputs

    if not reports and not profile:
        raise AidoctorError("give report files or folders (from `aidoctor report` or `aidoctor fleet collect`), "
                            "or --profile NAME")
    inputs = load_inputs(reports or [])
    for rejected in inputs.rejected:
        typer.echo(f"aidoctor: rejected {rejected.source}: {rejected.reason}", err=True)
    merged = build_matrix(inputs, profile_members(check_profiles(profile or (), offline, timeout)),
                          generated_by=__version__)
    if not merged.columns and not merged.failures:
        raise AidoctorError(f"no report could be merged ({len(inputs.rejected)} rejected)")
    _write_matrix(merged, output_format, output, reasons)
    raise typer.Exit(EXIT_FAILED if inputs.rejected else EXIT_OK)


def _write_matrix(merged, output_format: MatrixFormat, output: Optional[Path], reasons: bool) -> None:
    import io
    import json

    from rich.console import Console

    from .render import matrix as render_matrix
    from .render.html import render_html
    from .render.terminal import console

    if output_format is MatrixFormat.TERMINAL and output is None:
        render_matrix.render_terminal(merged, console(), reasons)  # in colour, to the terminal
        return

    def terminal_text(matrix) -> str:
        buffer = io.StringIO()
        render_matrix.render_terminal(matrix, Console(file=buffer, width=200, color_system=None), reasons)
        return buffer.getvalue()

    renderers: dict[MatrixFormat, Callable[..., str]] = {
        MatrixFormat.TERMINAL: terminal_text,
        MatrixFormat.MARKDOWN: render_matrix.render_markdown,
        MatrixFormat.HTML: render_html,
        MatrixFormat.CSV: render_matrix.render_csv,
        MatrixFormat.JSON: lambda matrix: json.dumps(matrix.to_json(), indent=2) + "\n",
    }
    text = renderers[output_format](merged)
    if output is None:
        sys.stdout.write(text)
    else:
        from .core.jsonio import write_output

        write_output(output, text)
        typer.echo(f"wrote {output_format.value} matrix of {merged.machines} machine(s) to {output}", err=True)


fleet_app = typer.Typer(help="Reports from many machines: collect them over SSH and Docker, then `aidoctor matrix`.",
                        no_args_is_help=True, rich_markup_mode=None,
                        context_settings={"help_option_names": ["-h", "--help"]})
app.add_typer(fleet_app, name="fleet")


@fleet_app.command("collect")
@_guarded
def fleet_collect(
    hosts_file: Optional[Path] = typer.Option(None, "--hosts", metavar="FILE",
                                              help="SSH hosts, one `[user@]host[:port] [label]` per line; # comments."),
    host: Optional[List[str]] = typer.Option(None, "--host", metavar="[USER@]HOST[:PORT]", help="An SSH host (repeatable)."),
    image: Optional[List[str]] = typer.Option(None, "--image", metavar="IMAGE",
                                              help="Check inside a new container of IMAGE (repeatable); DOCKER_HOST picks the engine."),
    container: Optional[List[str]] = typer.Option(None, "--container", metavar="NAME",
                                                  help="Check inside this running container (repeatable)."),
    output: Path = typer.Option(Path("aidoctor-reports"), "--output", "-o", metavar="DIR",
                                help="Folder for one file per machine: its report or why there is none."),
    remote_command: Optional[str] = typer.Option(
        None, "--remote-command", metavar="CMD",
        help="Run this instead of sending aidoctor along, e.g. 'uvx aidoctor report' or '~/bin/aidoctor report'. "
             "It must print a report on stdout."),
    remote_python: str = typer.Option("python3", "--remote-python", metavar="PATH",
                                      help="Python (>= 3.10) that runs the aidoctor sent along; give a venv's python to "
                                           "check that environment."),
    ssh_config: Optional[Path] = typer.Option(None, "--ssh-config", metavar="FILE", help="Passed to ssh as -F FILE."),
    ssh_option: Optional[List[str]] = typer.Option(None, "--ssh-option", metavar="OPTION",
                                                   help="Passed to ssh as -o OPTION (repeatable)."),
    connect_timeout: float = typer.Option(10.0, "--connect-timeout", min=1, max=300, metavar="SECONDS",
                                          help="Give up on a host that does not answer within this."),
    host_timeout: float = typer.Option(300.0, "--host-timeout", min=1, max=3600, metavar="SECONDS",
                                       help="The whole budget of one host: connect, check and transfer."),
    jobs: int = typer.Option(16, "--jobs", "-j", min=1, max=256, help="Hosts checked at the same time."),
    platform: Optional[str] = typer.Option(None, "--platform", metavar="OS/ARCH",
                                           help="Docker images: the platform to run, e.g. linux/arm64."),
    gpus: bool = typer.Option(False, "--gpus", help="Docker images: give the container every GPU (like docker run --gpus all)."),
    offline: bool = typer.Option(False, "--offline", help="The checks do not contact the package index."),
) -> None:
    """Run `aidoctor report` on many machines at once and keep one file per machine in a folder.

    Exit 0 when every machine gave a report, 1 when some did not (each has a file saying why), 2 on bad input.
    """
    from .fleet.collect import (
        CollectOptions,
        collect,
        docker_targets,
        parse_destination,
        read_hosts_file,
    )
    from .render.progress import CollectProgress
    from .render.terminal import console

    targets = read_hosts_file(hosts_file) if hosts_file else []
    targets += [parse_destination(h, "--host") for h in host or ()]
    targets += docker_targets(image or (), container or ())
    if not targets:
        raise AidoctorError("nothing to collect from: give --hosts FILE, --host, --image or --container")
    options = CollectOptions(remote_command=remote_command, remote_python=remote_python,
                             report_args=("--offline",) if offline else (), ssh_config=ssh_config,
                             ssh_options=tuple(ssh_option or ()), connect_timeout=connect_timeout,
                             host_timeout=host_timeout, jobs=jobs, docker_platform=platform, docker_gpus=gpus)
    progress = CollectProgress(console(stderr=True), len(targets))
    try:
        outcomes = collect(targets, output, options, progress)
    finally:
        progress.close()
    typer.echo(f"reports in {output}/; next: aidoctor matrix {output}", err=True)
    raise typer.Exit(EXIT_FAILED if any(o.failure for o in outcomes) else EXIT_OK)


@fleet_app.command("zipapp")
@_guarded
def fleet_zipapp(output: Path = typer.Option(..., "--output", "-o", metavar="FILE",
                                             help="Where to write the zip, e.g. /shared/aidoctor.pyz.")) -> None:
    """Write aidoctor as one zip that any python3 >= 3.10 runs (`python3 FILE report`), for nodes without it."""
    from .core.jsonio import write_output
    from .fleet.zipapp import build

    write_output(output, build())
    typer.echo(f"wrote {output}; run it on a node with: python3 {output} report -o REPORT.json")


WheelhouseOpt = typer.Option(None, "--wheelhouse", metavar="DIR",
                             help="Wheelhouse to keep and take wheels from. Default: $AIDOCTOR_WHEELHOUSE, else wheelhouse in "
                                  "aidoctor's cache folder (Linux ~/.cache/aidoctor, macOS ~/Library/Caches/aidoctor).")


def _split_version(spec: str) -> tuple[str, Optional[str]]:
    name, sep, version = spec.partition("==")
    if sep and not version.strip():
        raise AidoctorError(f"{spec!r}: give a version after '==', e.g. deepspeed==0.18.2")
    return name.strip(), (version.strip() or None)


@app.command()
@_guarded
def install(
    tool: str = typer.Argument(..., metavar="TOOL[==VERSION]", help="A tool id, e.g. bitsandbytes or deepspeed==0.18.2."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan (every step, command, variable and why); change nothing."),
    json_out: bool = typer.Option(False, "--json", help="With --dry-run: print the plan as JSON."),
    python: Optional[str] = typer.Option(None, "--python", metavar="PATH",
                                         help="Target interpreter of a venv or conda env. Default: the active one, else python3."),
    wheelhouse: Optional[Path] = WheelhouseOpt,
    allow_torch_change: bool = typer.Option(False, "--allow-torch-change",
                                            help="Let the install replace torch, triton or the CUDA libraries."),
    offline: bool = typer.Option(False, "--offline", help="Use only the wheelhouse and cached index answers."),
    smoke: bool = typer.Option(True, "--smoke/--no-smoke", help="Prove the install with the tool's training smoke test."),
    timeout: float = TimeoutOpt,
    facts: Optional[Path] = typer.Option(None, "--facts", metavar="FILE",
                                         help="With --dry-run: the plan for the machine a facts file describes."),
    profile: Optional[str] = typer.Option(None, "--profile", metavar="NAME",
                                          help="With --dry-run: the plan for a built-in profile's machine."),
    bootstrap_pip: bool = typer.Option(False, "--bootstrap-pip",
                                       help="If the target has no pip (a uv venv), install it there with ensurepip "
                                            "first. Without it aidoctor's own pip, else uv, runs pip for the target."),
) -> None:
    """Get a working wheel for this machine, keep it in the wheelhouse, install it without touching torch, and prove it."""
    from .install.plan import InstallRequest, Route
    from .install.run import execute, prepare
    from .render.install import render_plan, render_smoke
    from .render.progress import ConsoleReporter
    from .render.terminal import console, print_json, python_line

    name, version = _split_version(tool)
    _one_source(facts, profile, None)
    if not (facts or profile):  # with them, --python names the interpreter on that other machine, as given
        python = _target(python, None, None)
    request = InstallRequest(tool=name, version=version, python=python, wheelhouse=wheelhouse,
                             allow_torch_change=allow_torch_change, offline=offline, dry_run=dry_run, smoke=smoke,
                             timeout=timeout, profile=profile, facts_file=facts, bootstrap_pip=bootstrap_pip)
    out = console()
    prepared = prepare(request)
    into = (f"into {python_line(prepared.machine, prepared.environment)}"
            if prepared.environment is not None else None)
    if dry_run:
        if json_out:
            print_json(prepared.plan.to_json())
        else:
            render_plan(prepared.plan, out, into)
        if prepared.plan.route is Route.IMPOSSIBLE:
            raise typer.Exit(EXIT_BAD_INPUT)  # as the install itself would
        return
    plan = prepared.plan
    out.print(f"Installing {plan.tool} {plan.version or ''} {into or ''} by {plan.route.value}: {plan.why}",
              highlight=False, markup=False)
    if plan.pip is not None:
        out.print(f"pip: {plan.pip.why}", highlight=False, markup=False)
    for note in plan.notes:
        out.print(f"  {note}", highlight=False, markup=False, soft_wrap=True)
    reporter = ConsoleReporter(out)
    try:
        outcome = execute(prepared, reporter)
    finally:
        reporter.close()
    if outcome.installed:
        out.print("installed: " + ", ".join(outcome.installed), highlight=False, markup=False)
    if outcome.smoke is not None:
        render_smoke(outcome.smoke, out)
    out.print(f"done in {outcome.seconds:.1f} s; log: {outcome.log}", highlight=False, markup=False)


@app.command()
@_guarded
def repair(
    python: Optional[str] = typer.Option(None, "--python", metavar="PATH",
                                         help="Target interpreter of the environment. Default: the active one, else python3."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what is different and what would be done; change nothing."),
) -> None:
    """Finish an install that was killed half way: roll the environment back to the snapshot its journal keeps."""
    from .core.system import LiveSystem, interrupts_call
    from .install import recovery
    from .probes.pyenv import target_python

    target = target_python(python)
    system = LiveSystem()
    found = recovery.inspect_repair(system, target)
    if found is None:
        typer.echo(f"nothing to repair: no unfinished aidoctor install into the environment of {target}")
        return
    for line in found.describe():
        typer.echo(line)
    if dry_run:
        return
    shield = recovery.Shield(cleaning=True)
    with interrupts_call(shield):
        outcome = recovery.repair(system, found, shield)
    typer.echo(outcome.summary())
    raise typer.Exit(EXIT_OK if outcome.back else EXIT_FAILED)


@app.command("smoke")
@_guarded
def smoke_command(
    tool: str = typer.Argument(..., metavar="TOOL", help="A tool id, e.g. peft."),
    python: Optional[str] = PythonOpt,
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    timeout: float = typer.Option(600.0, "--timeout", min=1, metavar="SECONDS", help="Limit for the whole test."),
) -> None:
    """Run one tool's training smoke test in the target Python; say which kernel failed and why."""
    from .check.engine import select_tools
    from .core.smoke_store import SmokeStore
    from .core.system import LiveSystem
    from .install import envstate
    from .install.smoke import run_smoke
    from .probes.target import environment_at
    from .render.install import render_smoke
    from .render.terminal import console, print_json, where

    (chosen,) = select_tools((tool,))
    if chosen.recipe is None or chosen.recipe.smoke is None:
        raise AidoctorError(f"{chosen.id} has no smoke test yet")
    target = _target(python, None, None)
    state = envstate.capture(LiveSystem(), target)
    if not json_out:
        environment = environment_at(state.prefix, state.base_prefix)
        console().print(f"smoke test of {chosen.id} in the Python {where(environment)}", highlight=False,
                        markup=False, soft_wrap=True)
    result = run_smoke(LiveSystem(), target, chosen.recipe.smoke, timeout=timeout)
    SmokeStore().save(state.prefix, result)
    if json_out:
        print_json(result.to_json())
    else:
        render_smoke(result, console())
    raise typer.Exit(EXIT_OK if result.passed else EXIT_FAILED)


wheels_app = typer.Typer(help="The wheelhouse: list, verify and export the wheels aidoctor keeps.",
                         no_args_is_help=True, rich_markup_mode=None,
                        context_settings={"help_option_names": ["-h", "--help"]})
app.add_typer(wheels_app, name="wheels")


@wheels_app.command("list")
@_guarded
def wheels_list(wheelhouse: Optional[Path] = WheelhouseOpt,
                json_out: bool = typer.Option(False, "--json", help="Print the provenance records as JSON.")) -> None:
    """Every stored wheel with its sha256, origin, build key and smoke result."""
    from ..wheels.store import Wheelhouse
    from .render.install import render_wheels
    from .render.terminal import console, print_json

    store = Wheelhouse(wheelhouse or wheelhouse_dir())
    wheels = store.wheels()
    if json_out:
        print_json({"wheelhouse": str(store.root), "wheels": [w.provenance for w in wheels]})
    else:
        console().print(f"wheelhouse {store.root}: {len(wheels)} wheel(s)", highlight=False, markup=False)
        render_wheels(wheels, console())


@wheels_app.command("verify")
@_guarded
def wheels_verify(wheelhouse: Optional[Path] = WheelhouseOpt) -> None:
    """Recompute every wheel's sha256 against its record; exit 1 if any wheel was altered or lost."""
    from ..wheels.store import Wheelhouse

    store = Wheelhouse.open(wheelhouse or wheelhouse_dir(), create=False)
    problems = store.verify()
    for problem in problems:
        typer.echo(f"{problem.filename}: {problem.what}")
    typer.echo(f"{len(store.wheels())} wheel(s) in {store.root}; {len(problems)} problem(s)")
    raise typer.Exit(EXIT_FAILED if problems else EXIT_OK)


@wheels_app.command("export")
@_guarded
def wheels_export(dest: Path = typer.Argument(..., metavar="DIR", help="Where to write the exported wheelhouse."),
                  wheelhouse: Optional[Path] = WheelhouseOpt,
                  key: Optional[str] = typer.Option(None, "--key", metavar="KEY_ID",
                                                    help="Also export source-built wheels of this build key.")) -> None:
    """Copy verified wheels and a PEP 503 index to DIR, for `pip install --find-links DIR` on machines of this kind."""
    from ..wheels.store import Wheelhouse

    store = Wheelhouse.open(wheelhouse or wheelhouse_dir(), create=False)
    exported = store.export(dest, key_id=key)
    typer.echo(f"exported {len(exported)} wheel(s) to {dest}: pip install --find-links {dest} ... "
               f"or --index-url file://{dest.resolve()}/simple")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"aidoctor {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """aidoctor: an environment doctor for AI training on ARM Linux and macOS."""


def main() -> None:
    from .render.streams import printable_streams

    printable_streams()  # an ASCII-only stdout (LANG=C, PYTHONIOENCODING=ascii) gets stand-ins, not a crash
    try:
        app()
    except SystemExit:
        raise
    except Exception as exc:  # a bug must still end in one line and a documented code, not a traceback
        print(f"aidoctor: internal error: {type(exc).__name__}: {exc} (please report it)", file=sys.stderr)
        sys.exit(EXIT_INTERNAL)
