"""Facts + recipes + the package index -> a verdict per tool."""
