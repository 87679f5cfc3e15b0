"""Shared CLI helpers: option types, output, and turning library errors into one-line messages."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False)

ModelOption = typer.Option(
    None,
    "--model",
    "-m",
    help="Catalog name or model file path (default: the catalog's person re-id default, `reidkit models list`).",
)
PrecisionOption = typer.Option(None, "--precision", "-p", help="FP32, FP16 or FP16-INT8 (default: best held).")
DeviceOption = typer.Option("CPU", "--device", help="OpenVINO device.")
JsonOption = typer.Option(False, "--json", help="Print JSON instead of text.")


def print_json(data: Any) -> None:
    """Write `data` as JSON to stdout (no colour, no wrapping)."""
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def save_npy(path, array) -> None:
    """Write a .npy file atomically (a checked output path)."""
    import numpy as np

    from reidkit.files import atomic_write

    with atomic_write(path, "wb") as fh:
        np.save(fh, array)


def write_image(path, image) -> None:
    """Write an image file atomically, in the format its suffix names."""
    import cv2

    from reidkit.errors import InputError
    from reidkit.files import atomic_write

    ok, data = cv2.imencode(Path(path).suffix.lower(), image)
    if not ok:
        raise InputError(f"cannot encode an image as {Path(path).suffix}")
    with atomic_write(path, "wb") as fh:
        fh.write(data.tobytes())


def fail(message: str, code: int = 2) -> None:
    """Print a one-line error and exit with `code`."""
    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def optional(value: Optional[str]) -> Optional[str]:
    """Empty strings from the command line count as not given."""
    return value or None
