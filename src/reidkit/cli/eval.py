"""`reidkit eval reid | pairs | lfw`: the field's protocols on real folders, with reports."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from reidkit.cli.common import DeviceOption, JsonOption, PrecisionOption, out, print_json

app = typer.Typer(help="Evaluate models with standard protocols.", no_args_is_help=True)

ModelsOption = typer.Option(
    None,
    "--model",
    "-m",
    help="Model name or path; several joined by ',' form an ensemble (default: the catalog's person re-id model).",
)
FaceModelOption = typer.Option(None, "--model", "-m", help="Face model (default: the catalog's).")


def _models(value: Optional[str]) -> list[str]:
    from reidkit.models.catalog import default_model

    names = [m.strip() for m in (value or "").split(",") if m.strip()]
    return names or [default_model("person-reid")]


@app.command("reid")
def reid(
    data: Path = typer.Option(..., "--data", help="Market-1501-format folder with query/ and bounding_box_test/."),
    model: Optional[str] = ModelsOption,
    precision: Optional[str] = PrecisionOption,
    rerank: bool = typer.Option(
        True, "--rerank/--no-rerank", help="k-reciprocal re-ranking (Zhong et al. 2017); on by default."
    ),
    flip: bool = typer.Option(False, "--flip", help="Average each crop's embedding with its mirror's."),
    k1: int = typer.Option(20, "--k1"),
    k2: int = typer.Option(6, "--k2"),
    lambda_value: float = typer.Option(0.3, "--lambda"),
    output: Path = typer.Option(Path("eval-reid"), "--output", "-o", help="Folder for report.json and PNGs."),
    device: str = DeviceOption,
    as_json: bool = JsonOption,
) -> None:
    """CMC rank-1/5/10/20, mAP and mINP under the Market-1501 protocol; writes a report and figures."""
    from reidkit.evaluation import evaluate_reid
    from reidkit.report import plot_cmc, ranked_grid, write_json

    ev = evaluate_reid(data, _models(model), precision, flip, rerank, k1, k2, lambda_value, device)
    label = f"{ev.model} {ev.precision}" + (" +flip" if flip else "") + (" +rerank" if rerank else "")
    report = {
        "data": str(data),
        "model": ev.model,
        "precision": ev.precision,
        "flip": flip,
        "rerank": rerank,
        "query": len(ev.query),
        "gallery": len(ev.gallery),
        "seconds": round(ev.seconds, 2),
        **ev.result.as_dict(),
        "cmc": ev.result.cmc[:50].tolist(),
    }
    write_json(output / "report.json", report)
    plot_cmc({label: ev.result.cmc}, output / "cmc.png")
    ranked_grid(
        [str(p) for p in ev.query.paths],
        [str(p) for p in ev.gallery.paths],
        ev.distmat,
        ev.query.pids,
        ev.gallery.pids,
        ev.query.camids,
        ev.gallery.camids,
        output / "ranks.png",
    )
    if as_json:
        print_json(report)
        return
    table = Table("model", "R1", "R5", "R10", "R20", "mAP", "mINP", title=f"{data} ({report['query']} queries)")
    r = ev.result
    table.add_row(label, *(f"{r.rank(k):.3f}" for k in (1, 5, 10, 20)), f"{r.mAP:.3f}", f"{r.mINP:.3f}")
    out.print(table)
    out.print(f"report: {output / 'report.json'}, figures: {output / 'cmc.png'}, {output / 'ranks.png'}")


@app.command("pairs")
def pairs(
    data: Path = typer.Option(..., "--data", help="Market-1501-format folder; all test-image pairs are scored."),
    model: Optional[str] = ModelsOption,
    precision: Optional[str] = PrecisionOption,
    flip: bool = typer.Option(False, "--flip"),
    same_camera: bool = typer.Option(False, "--same-camera", help="Also score pairs from one camera."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write report.json here."),
    device: str = DeviceOption,
    as_json: bool = JsonOption,
) -> None:
    """Pairwise verification: accuracy (10 subsets, threshold from the other 9), AUC, TAR@FAR."""
    from reidkit.evaluation import evaluate_pairs
    from reidkit.report import write_json

    report = evaluate_pairs(data, _models(model), precision, flip, cross_camera=not same_camera, device=device)
    if output is not None:
        write_json(output / "report.json", report)
    _print_pairs(report, as_json)


@app.command("lfw")
def lfw(
    pairs_file: Path = typer.Option(..., "--pairs", help="LFW pairs.txt (view 2: 10 folds of 300+300)."),
    images: Path = typer.Option(..., "--images", help="LFW images: DIR/Name/Name_0001.jpg."),
    model: Optional[str] = FaceModelOption,
    precision: Optional[str] = PrecisionOption,
    flip: bool = typer.Option(False, "--flip"),
    align: bool = typer.Option(True, "--align/--no-align", help="Face models: detect, align on landmarks."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write report.json here."),
    device: str = DeviceOption,
    as_json: bool = JsonOption,
) -> None:
    """LFW 10-fold verification accuracy and TAR@FAR from a pairs.txt file."""
    from reidkit.evaluation import evaluate_lfw
    from reidkit.report import write_json

    embed, name = _face_or_person_embed(model, precision, flip, device, align)
    report = evaluate_lfw(pairs_file, images, embed)
    report.update(model=name, aligned=align)
    if output is not None:
        write_json(output / "report.json", report)
    _print_pairs(report, as_json)


def _face_or_person_embed(model: str, precision, flip: bool, device: str, align: bool, illumination: str = "gamma"):
    """An embed function and its label: the face pipeline for a face model, else an (ensemble) embedder."""
    from reidkit.evaluation import Ensemble
    from reidkit.models.catalog import load_catalog, model_or_default

    model = model_or_default(model, "face-reid")
    spec = load_catalog().get(model)
    if spec is not None and spec.task == "face-reid":
        from reidkit.faces import FaceReId

        fr = FaceReId(
            model, precision, device, align_faces=align, flip=flip, illumination=illumination if align else "none"
        )
        return fr.embed, f"{fr.embedder.name} {fr.embedder.precision}" + (" aligned" if align else "")
    ens = Ensemble(_models(model), precision, flip, device)
    return ens.embed, f"{ens.name} {ens.precision}"


@app.command("faces")
def faces(
    data: Path = typer.Argument(..., help="Labelled faces: a sub-folder per person (or person.condition files)."),
    model: Optional[str] = FaceModelOption,
    precision: Optional[str] = PrecisionOption,
    align: bool = typer.Option(True, "--align/--no-align", help="Detect and align on five landmarks."),
    illumination: str = typer.Option("gamma", "--illumination", help="none | gamma | clahe | dog"),
    flip: bool = typer.Option(False, "--flip"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write report.json here."),
    device: str = DeviceOption,
    as_json: bool = JsonOption,
) -> None:
    """All-pairs face verification on a labelled folder: ROC AUC, TAR@FAR=1e-2/1e-3, best accuracy."""
    from reidkit.evaluation import evaluate_folder
    from reidkit.report import write_json

    embed, name = _face_or_person_embed(model, precision, flip, device, align, illumination)
    report = evaluate_folder(data, embed)
    report.update(model=name, aligned=align, illumination=illumination if align else "none", data=str(data))
    if output is not None:
        write_json(output / "report.json", report)
    _print_pairs(report, as_json)


@app.command("face-pairs")
def face_pairs(
    csv: Path = typer.Option(..., "--csv", help="image_a,image_b,label (1/0, yes/no, same/different)."),
    model: Optional[str] = FaceModelOption,
    precision: Optional[str] = PrecisionOption,
    align: bool = typer.Option(True, "--align/--no-align"),
    illumination: str = typer.Option("gamma", "--illumination"),
    flip: bool = typer.Option(False, "--flip"),
    output: Optional[Path] = typer.Option(None, "--output", "-o"),
    device: str = DeviceOption,
    as_json: bool = JsonOption,
) -> None:
    """Face verification on a CSV of labelled pairs."""
    from reidkit.evaluation import evaluate_pairs_csv
    from reidkit.report import write_json

    embed, name = _face_or_person_embed(model, precision, flip, device, align, illumination)
    report = evaluate_pairs_csv(csv, embed)
    report.update(model=name, aligned=align)
    if output is not None:
        write_json(output / "report.json", report)
    _print_pairs(report, as_json)


def _print_pairs(report: dict, as_json: bool) -> None:
    if as_json:
        print_json(report)
        return
    out.print(
        f"{report.get('model', '')} {report.get('precision', '')}: {report['pairs']} pairs "
        f"({report['same_pairs']} same)\n"
        f"accuracy {report['accuracy']:.4f} ± {report['accuracy_std']:.4f}, ROC AUC {report['auc']:.4f}, "
        f"TAR@FAR=1e-2 {report['tar@far=1e-2']:.3f}, TAR@FAR=1e-3 {report['tar@far=1e-3']:.3f}"
        + (f", best accuracy {report['best_accuracy']:.4f}" if "best_accuracy" in report else "")
        + (
            f"\ncalibrated p>0.5 decision: accuracy {report['calibrated_accuracy']:.4f}, balanced "
            f"{report['calibrated_balanced_accuracy']:.4f}"
            if "calibrated_accuracy" in report
            else ""
        )
    )
