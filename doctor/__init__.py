"""What this machine is and which training tools can work here: probes, facts, rules, verdicts."""

__version__ = "0.1.0"
