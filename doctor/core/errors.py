"""Errors that end a command, each with its own exit code.

Defining them in one place keeps the exit codes documented and unique
(the pattern of cibuildwheel's errors.py). The CLI prints `str(error)` on
one line and exits with `error.exit_code`; nothing else may raise to the user.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1  # a tool that is installed cannot work here, or a named tool is not usable
EXIT_BAD_INPUT = 2  # bad usage or bad input: nothing was checked


class AidoctorError(Exception):
    """A failure the user can act on; the message names the problem and what to do."""

    exit_code = EXIT_BAD_INPUT


class BadInput(AidoctorError):
    """A file, a name or an option value that aidoctor cannot use."""


class UnknownTool(BadInput):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"unknown tool {name!r}; known tools: {', '.join(known)}")


class UnknownProfile(BadInput):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"unknown profile {name!r}; built-in profiles: {', '.join(known)}")


class FactsFileError(BadInput):
    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"facts file {path}: {problem}")


class TargetPythonError(BadInput):
    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"--python {path}: {problem}")
