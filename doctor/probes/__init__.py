"""Facts from the machine: each probe runs through the system boundary and parses with a pure `parse_*`."""
