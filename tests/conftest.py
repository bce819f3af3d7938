"""Shared by every test: the `network` bed check, torch from pip, and the --update-expected flag of the golden files."""

from __future__ import annotations

import functools

import pytest

from .beds import network_problem, require
from .torch_provider import ProvidedTorch, TorchUnavailable, provide_torch


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-expected", action="store_true", default=False,
                     help="rewrite the golden expected-verdict files (tests/unit/expected/) from today's verdicts "
                          "instead of comparing against them; review the diff before committing it")


@functools.cache
def _network_problem() -> str | None:
    return network_problem()  # asked once per session: every `network` test needs the same index


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("network") is not None:
        require("network", _network_problem())


@pytest.fixture(scope="session")
def provided_torch() -> ProvidedTorch:
    """torch as pip picks it for this Python with this machine's pip configuration (tests/torch_provider.py)."""
    try:
        return provide_torch()
    except TorchUnavailable as exc:
        require("torch", str(exc))
        raise  # not reached: require() skips or fails
