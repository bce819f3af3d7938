"""The language recipes are written in: conditions, rules, tools, install recipes, generic build flags."""
