"""Plan, build, install, snapshot and roll back, prove with a smoke test."""
