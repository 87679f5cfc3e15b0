"""Shared CLI helpers: option types, output, and turning library errors into one-line messages."""

from __future__ import annotations

import json
import sys
from typing import Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False)

ModelOption = typer.Option("person-reidentification-retail-0287", "--model", "-m", help="Catalog name or model file path.")
PrecisionOption = typer.Option(None, "--precision", "-p", help="FP32, FP16 or FP16-INT8 (default: best held).")
DeviceOption = typer.Option("CPU", "--device", help="OpenVINO device.")
JsonOption = typer.Option(False, "--json", help="Print JSON instead of text.")


def print_json(data: Any) -> None:
    """Write `data` as JSON to stdout (no colour, no wrapping)."""
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def fail(message: str, code: int = 2) -> None:
    """Print a one-line error and exit with `code`."""
    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def optional(value: Optional[str]) -> Optional[str]:
    """Empty strings from the command line count as not given."""
    return value or None
