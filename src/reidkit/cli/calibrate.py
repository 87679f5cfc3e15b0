"""`reidkit calibrate`: fit the similarity -> probability map on labelled real data."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from reidkit.cli.common import DeviceOption, JsonOption, ModelOption, PrecisionOption, fail, out, print_json


def calibrate(
    data: Optional[Path] = typer.Option(None, "--data", help="Market-1501-format folder (uses --split)."),
    pairs: Optional[Path] = typer.Option(None, "--pairs", help="CSV of labelled pairs: image_a,image_b,same."),
    split: str = typer.Option("bounding_box_train", "--split", help="Split of --data to form pairs from."),
    cross_camera: bool = typer.Option(False, "--cross-camera", help="Only pairs from different cameras."),
    model: Optional[str] = ModelOption,
    precision: Optional[str] = PrecisionOption,
    device: str = DeviceOption,
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the calibration to this TOML file."),
    write_catalog: bool = typer.Option(
        False, "--write-catalog", help="Store it in the packaged catalog (maintainers)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Fit a logistic map from cosine similarity to P(same identity) on real labelled pairs."""
    from reidkit.calibration import calibrate_from_market, calibrate_from_pairs, save_calibration
    from reidkit.embed import Embedder
    from reidkit.files import prepare_output_file
    from reidkit.models.catalog import write_calibration

    if (data is None) == (pairs is None):
        fail("give exactly one of --data DIR or --pairs FILE")
    if output is not None:
        prepare_output_file(output)
    embedder = Embedder(model, precision, device)
    if data is not None:
        report = calibrate_from_market(embedder, data, split, cross_camera)
    else:
        report = calibrate_from_pairs(embedder, pairs)
    cal = report.calibration
    if output is not None:
        save_calibration(output, embedder.name, cal)
    if write_catalog:
        write_calibration(embedder.name, cal)
    result = {
        "model": embedder.name,
        "precision": embedder.precision,
        "scale": cal.scale,
        "bias": cal.bias,
        "threshold": cal.threshold,
        "source": cal.source,
        "positives": report.positives,
        "negatives": report.negatives,
        "balanced_accuracy": report.balanced_accuracy,
        "auc": report.auc,
    }
    if as_json:
        print_json(result)
        return
    out.print(
        f"{embedder.name} {embedder.precision}: scale {cal.scale:.4f} bias {cal.bias:.4f} "
        f"(p=0.5 at cosine {cal.threshold:.3f})\n"
        f"fitted on {report.positives} same / {report.negatives} different pairs; "
        f"balanced accuracy {report.balanced_accuracy:.3f}, ROC AUC {report.auc:.3f}"
    )
    if output is not None:
        out.print(f"written to {output}")
    if write_catalog:
        out.print("written to the catalog")
