"""`python -m aidoctor`: the same command as `aidoctor`, for a Python whose scripts folder is not on PATH."""

from aidoctor.doctor.cli import main

main()
