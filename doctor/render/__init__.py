"""Terminal, Markdown, CSV and HTML output for people."""
