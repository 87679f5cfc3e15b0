"""The `reidkit` command line: argument parsing and printing only; the library does the work."""

from reidkit.cli.main import app, main

__all__ = ["app", "main"]
