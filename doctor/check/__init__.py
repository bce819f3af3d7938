"""Facts + recipes + the package index -> a verdict per tool."""

# The id of the report `check --json` and `report` write; fleet/reportfile.py reads it without the engine.
REPORT_SCHEMA = "aidoctor.report/1"
