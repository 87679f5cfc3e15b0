"""`reidkit embed IMAGES... -o out.npy`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from reidkit.cli.common import DeviceOption, JsonOption, ModelOption, PrecisionOption, out, print_json, save_npy


def embed(
    images: list[Path] = typer.Argument(..., help="Image files (person crops, or aligned faces for a face model)."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write the N×D float32 .npy array."),
    model: Optional[str] = ModelOption,
    precision: Optional[str] = PrecisionOption,
    device: str = DeviceOption,
    flip: bool = typer.Option(False, "--flip", help="Average with the mirrored image's embedding."),
    as_json: bool = JsonOption,
) -> None:
    """Embed images into L2-normalised vectors and save them as a NumPy array (rows in input order)."""
    from reidkit.embed import Embedder
    from reidkit.files import prepare_output_file

    prepare_output_file(output, (".npy",))
    embedder = Embedder(model, precision, device, flip=flip)
    vectors = embedder.embed([str(p) for p in images])
    save_npy(output, vectors)
    summary = {
        "model": embedder.name,
        "precision": embedder.precision,
        "shape": list(vectors.shape),
        "output": str(output),
    }
    if as_json:
        print_json(summary)
    else:
        out.print(
            f"{vectors.shape[0]} embeddings of size {vectors.shape[1]} ({embedder.name} {embedder.precision}) -> {output}"
        )
