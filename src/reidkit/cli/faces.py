"""`reidkit faces verify | embed | align | calibrate`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import typer
from rich.table import Table

from reidkit.cli.common import DeviceOption, JsonOption, PrecisionOption, out, print_json, save_npy, write_image

app = typer.Typer(help="Face re-identification: detect, align on five landmarks, embed, verify.", no_args_is_help=True)

FaceModelOption = typer.Option(None, "--model", "-m", help="Face embedding model (default: the catalog's).")
DetectorOption = typer.Option(None, "--detector", help="Face detector model (default: the catalog's).")
AlignOption = typer.Option(True, "--align/--no-align", help="Align on five landmarks (else: resized face box).")
IlluminationOption = typer.Option("gamma", "--illumination", help="none | gamma (auto exposure) | clahe | dog.")


def _face_reid(model, precision, device, detector, align, illumination, flip=False, on_missing="whole"):
    from reidkit.faces import FaceReId

    return FaceReId(
        model,
        precision,
        device,
        detector=detector,
        align_faces=align,
        illumination=illumination,
        flip=flip,
        on_missing=on_missing,
    )


@app.command("verify")
def verify(
    image_a: Path = typer.Argument(...),
    image_b: Path = typer.Argument(...),
    model: Optional[str] = FaceModelOption,
    precision: Optional[str] = PrecisionOption,
    device: str = DeviceOption,
    detector: Optional[str] = DetectorOption,
    align: bool = AlignOption,
    illumination: str = IlluminationOption,
    require_face: bool = typer.Option(False, "--require-face", help="Fail when no face is detected."),
    liveness: bool = typer.Option(False, "--liveness", help="Refuse printed or replayed faces (anti-spoofing)."),
    as_json: bool = JsonOption,
) -> None:
    """Say whether the largest faces of two images are the same person, with a calibrated probability."""
    from reidkit.verify import logistic

    fr = _face_reid(
        model,
        precision,
        device,
        detector,
        align,
        illumination,
        on_missing="error" if require_face or liveness else "whole",
    )
    if liveness:
        fr.require_live([str(image_a), str(image_b)])
    sim = float(fr.similarity(str(image_a), str(image_b)))
    prob = float(logistic(sim, fr.calibration))
    result = {
        "a": str(image_a),
        "b": str(image_b),
        "model": fr.embedder.name,
        "similarity": round(sim, 6),
        "probability": round(prob, 6),
        "same": prob > 0.5,
        "liveness_checked": liveness,
    }
    if as_json:
        print_json(result)
    else:
        verdict = "[green]same person[/]" if result["same"] else "[red]different people[/]"
        live = ", both faces live" if liveness else ""
        out.print(f"{verdict}  p={prob:.3f}  cosine={sim:.3f}  ({fr.embedder.name}{live})")


@app.command("analyze")
def analyze(
    images: list[Path] = typer.Argument(..., help="Photos; every face of each is analysed."),
    device: str = DeviceOption,
    no_liveness: bool = typer.Option(False, "--no-liveness", help="Skip the anti-spoofing models."),
    as_json: bool = JsonOption,
) -> None:
    """Every face of each image: box, landmarks, age, gender (with probability) and liveness."""
    from reidkit.faces.analysis import FaceAnalysis
    from reidkit.images import load_image

    pictures = [load_image(p) for p in images]
    analysis = FaceAnalysis(device=device, liveness=not no_liveness)
    report = [
        {"image": str(p), "faces": [f.as_dict() for f in analysis.analyze(pic)]} for p, pic in zip(images, pictures)
    ]
    if as_json:
        print_json({"images": report})
        return
    table = Table("image", "face", "box", "age", "gender", "liveness")
    for item in report:
        if not item["faces"]:
            table.add_row(item["image"], "-", "no face found", "", "", "")
        for k, f in enumerate(item["faces"], start=1):
            live = f.get("liveness", {})
            verdict = (
                f"{'real' if live['real'] else 'SPOOF'} {live['score']:.2f}"
                if "score" in live
                else "n/a (grey image)"
                if live
                else "-"
            )
            table.add_row(
                item["image"],
                str(k),
                str([round(v) for v in f["box"]]),
                f"{f['age']:.0f}",
                f"{f['gender']} {f['gender_probability']:.2f}",
                verdict,
            )
    out.print(table)


@app.command("embed")
def embed(
    images: list[Path] = typer.Argument(...),
    output: Path = typer.Option(..., "--output", "-o", help="N×D float32 .npy"),
    model: Optional[str] = FaceModelOption,
    precision: Optional[str] = PrecisionOption,
    device: str = DeviceOption,
    detector: Optional[str] = DetectorOption,
    align: bool = AlignOption,
    illumination: str = IlluminationOption,
    flip: bool = typer.Option(False, "--flip"),
    as_json: bool = JsonOption,
) -> None:
    """Embed the largest face of each image (aligned) and save the vectors as .npy."""
    from reidkit.files import prepare_output_file

    prepare_output_file(output, (".npy",))
    fr = _face_reid(model, precision, device, detector, align, illumination, flip)
    vectors = fr.embed([str(p) for p in images])
    save_npy(output, vectors)
    if as_json:
        print_json({"model": fr.embedder.name, "shape": list(vectors.shape), "output": str(output)})
    else:
        out.print(f"{len(vectors)} face embeddings of size {vectors.shape[1]} -> {output}")


@app.command("align")
def align(
    image: Path = typer.Argument(...),
    output: Path = typer.Option(..., "--output", "-o", help="PNG of the aligned face the model sees."),
    detector: Optional[str] = DetectorOption,
    illumination: str = typer.Option("none", "--illumination"),
    device: str = DeviceOption,
    as_json: bool = JsonOption,
) -> None:
    """Write the aligned 128×128 face crop of the largest face (what the embedding model sees)."""
    from reidkit.files import prepare_output_file
    from reidkit.images import WRITE_SUFFIXES

    prepare_output_file(output, WRITE_SUFFIXES)
    fr = _face_reid(None, None, device, detector, True, illumination)
    from reidkit.images import load_image

    bgr = load_image(image)
    face = fr.main_face(bgr)
    crop = fr.crop(bgr)
    write_image(output, crop)
    info = {
        "image": str(image),
        "output": str(output),
        "face_detected": face.detected,
        "box": [round(float(v), 1) for v in face.box],
        "landmarks": np.round(face.landmarks, 1).tolist(),
    }
    if as_json:
        print_json(info)
    else:
        note = "" if face.detected else " (no face detected: the whole image was used)"
        out.print(f"aligned face -> {output}{note}")


@app.command("calibrate")
def calibrate(
    data: Path = typer.Option(..., "--data", help="Labelled faces: a sub-folder per person."),
    model: Optional[str] = FaceModelOption,
    precision: Optional[str] = PrecisionOption,
    device: str = DeviceOption,
    detector: Optional[str] = DetectorOption,
    align: bool = AlignOption,
    illumination: str = IlluminationOption,
    write_catalog: bool = typer.Option(False, "--write-catalog", help="Store it in the packaged catalog."),
    output: Optional[Path] = typer.Option(None, "--output", "-o"),
    as_json: bool = JsonOption,
) -> None:
    """Fit the face model's similarity -> probability map on all pairs of a labelled folder."""
    from reidkit.calibration import calibrate_from_folder, save_calibration
    from reidkit.models.catalog import write_calibration

    fr = _face_reid(model, precision, device, detector, align, illumination)
    report = calibrate_from_folder(fr.embed, data, fr.embedder.precision)
    if output is not None:
        save_calibration(output, fr.embedder.name, report.calibration)
    if write_catalog:
        write_calibration(fr.embedder.name, report.calibration)
    c = report.calibration
    result = {
        "model": fr.embedder.name,
        "scale": c.scale,
        "bias": c.bias,
        "threshold": c.threshold,
        "positives": report.positives,
        "negatives": report.negatives,
        "balanced_accuracy": report.balanced_accuracy,
        "auc": report.auc,
        "source": c.source,
    }
    if as_json:
        print_json(result)
    else:
        out.print(
            f"{fr.embedder.name}: scale {c.scale:.4f} bias {c.bias:.4f} (p=0.5 at cosine {c.threshold:.3f}); "
            f"{report.positives} same / {report.negatives} different pairs, balanced accuracy "
            f"{report.balanced_accuracy:.3f}, AUC {report.auc:.3f}"
        )
