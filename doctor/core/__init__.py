"""What every product stands on: facts, errors and exit codes, the one system boundary, NVIDIA's compatibility tables."""
