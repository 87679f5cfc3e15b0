"""`reidkit verify A B`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from reidkit.cli.common import DeviceOption, JsonOption, ModelOption, PrecisionOption, out, print_json


def verify(
    image_a: Path = typer.Argument(..., help="First image."),
    image_b: Path = typer.Argument(..., help="Second image."),
    model: Optional[str] = ModelOption,
    precision: Optional[str] = PrecisionOption,
    device: str = DeviceOption,
    calibration: Optional[Path] = typer.Option(None, "--calibration", help="TOML written by `reidkit calibrate -o`."),
    as_json: bool = JsonOption,
) -> None:
    """Say whether two images show the same person, with a calibrated probability."""
    from reidkit.calibration_math import logistic
    from reidkit.models.catalog import read_calibration_file
    from reidkit.verify import ReId

    reid = ReId(model, precision, device)
    if calibration is not None:
        reid.calibration = read_calibration_file(calibration, reid.embedder.name)
    sim = reid.similarity(str(image_a), str(image_b))
    prob = float(logistic(sim, reid.calibration))
    result = {
        "a": str(image_a),
        "b": str(image_b),
        "model": reid.embedder.name,
        "precision": reid.embedder.precision,
        "similarity": round(float(sim), 6),
        "probability": round(prob, 6),
        "same": prob > 0.5,
    }
    if as_json:
        print_json(result)
    else:
        verdict = "[green]same person[/]" if result["same"] else "[red]different people[/]"
        out.print(f"{verdict}  p={prob:.3f}  cosine={sim:.3f}  ({reid.embedder.name} {reid.embedder.precision})")
