"""The one skip-or-fail rule for the test beds: a missing bed skips here and fails where it is required (CI)."""

from __future__ import annotations

import pytest

from ..beds import BEDS, require, required


@pytest.mark.parametrize("bed", BEDS)
def test_a_bed_that_is_there_lets_the_test_run(bed, monkeypatch):
    monkeypatch.setenv(f"AIDOCTOR_REQUIRE_{bed.upper()}", "1")
    require(bed, None)


@pytest.mark.parametrize("value", ["", "0"])
def test_a_missing_bed_skips_with_its_reason_unless_required(value, monkeypatch):
    monkeypatch.setenv("AIDOCTOR_REQUIRE_DOCKER", value)
    with pytest.raises(pytest.skip.Exception, match="no Docker engine answers"):
        require("docker", "no Docker engine answers")


def test_a_missing_bed_fails_where_ci_requires_it(monkeypatch):
    monkeypatch.setenv("AIDOCTOR_REQUIRE_SSHD", "1")
    with pytest.raises(pytest.fail.Exception, match="no sshd here; AIDOCTOR_REQUIRE_SSHD=1 makes that a failure"):
        require("sshd", "no sshd here")


def test_an_unknown_bed_is_a_mistake_in_the_test():
    with pytest.raises(ValueError, match="unknown test bed 'gpu'"):
        required("gpu")
