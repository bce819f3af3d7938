"""Reports from many machines: write one, collect many over SSH or Docker, merge them into a matrix."""
