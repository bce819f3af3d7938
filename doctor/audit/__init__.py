"""The binary audit: what the installed compiled files themselves say about where they can run.

Pure parsers over bytes (`elf`, `cuda`, `macho`, `pe`, gathered by `binary`),
the walk over each distribution's RECORD with its cache (`files`, the only
module here that touches the file system), and the generic findings that judge
those facts against a Machine (`judge`).
"""
