"""What a fix command installs with pip, read from its text.

Fixes are one shell line each (`FLAGS=1 pip install "torch==2.14.0" --index-url URL  # why`). To judge a
fix against the verdicts of what it would install, the engine needs the requirements it names and whether
they come from the default package index (where each tool's verdict is about) or from somewhere the fix
chose (an `--index-url`, a URL, a git checkout, a local path).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement

from ..core.facts import canonical_name

# pip install options that take a value (the value is not a requirement)
_VALUED = frozenset({"-i", "--index-url", "--extra-index-url", "-f", "--find-links", "-c", "--constraint",
                     "-r", "--requirement", "-e", "--editable", "--python", "-t", "--target", "--prefix", "--root",
                     "--platform", "--python-version", "--implementation", "--abi", "--only-binary",
                     "--no-binary", "--config-settings", "-C", "--global-option", "--progress-bar", "--timeout",
                     "--retries", "--src", "--upgrade-strategy", "--report", "--cache-dir"})
_OWN_SOURCE = frozenset({"-i", "--index-url", "-f", "--find-links", "--no-index"})
_OPERATORS = frozenset("();<>|&")


@dataclass(frozen=True)
class PipInstall:
    """One requirement a fix installs: `"torch==2.14.0"` is name torch, specifier ==2.14.0."""

    name: str  # canonical
    specifier: str
    token: str  # as written in the fix, quotes removed
    from_index: bool  # from the default package index: no --index-url, --find-links or --no-index


def parse_pip_installs(fix: str) -> tuple[PipInstall, ...]:
    """The named requirements of every `pip install` in `fix` (URLs, paths and git checkouts are not names).

    The line is read as a shell reads it: quotes kept together, `&&`, `;`, `|` and parentheses end a
    command, `#` starts a comment (fixes say why in one)."""
    lexer = shlex.shlex(fix, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        words = list(lexer)
    except ValueError:  # unbalanced quotes: nothing can be read from it
        return ()
    commands: list[list[str]] = [[]]
    for word in words:
        if word and set(word) <= _OPERATORS:
            commands.append([])
        else:
            commands[-1].append(word)
    out: list[PipInstall] = []
    for command in commands:
        for i in range(len(command) - 1):
            if command[i] == "pip" and command[i + 1] == "install":
                out += _requirements(command[i + 2:])
                break
    return tuple(out)


def _requirements(args: list[str]) -> list[PipInstall]:
    own_source = any(a in _OWN_SOURCE or a.split("=", 1)[0] in _OWN_SOURCE for a in args)
    names, skip = [], False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg.startswith("-"):
            skip = arg in _VALUED
            continue
        if "://" in arg or arg.startswith(("git+", ".", "/", "~", "$")) or arg.endswith(".whl"):
            continue
        try:
            requirement = Requirement(arg)
        except InvalidRequirement:
            continue
        if requirement.url:
            continue
        names.append(PipInstall(canonical_name(requirement.name), str(requirement.specifier), arg,
                                from_index=not own_source))
    return names


def with_specifier(fix: str, install: PipInstall, specifier: str) -> str:
    """`fix` with its bare requirement `install` narrowed to `specifier` (quoted for the shell)."""
    if install.specifier or not specifier:
        return fix
    pattern = re.compile(rf"(?<=\s){re.escape(install.token)}(?=\s|$)")
    return pattern.sub(lambda _: f'"{install.token}{specifier}"', fix, count=1)
