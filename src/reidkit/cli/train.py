"""`reidkit train` and `reidkit export`: metric-learning training and deployable model export."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from reidkit.cli.common import JsonOption, out, print_json


def train(
    ctx: typer.Context,
    data: Path = typer.Option(
        ...,
        "--data",
        help="Market-1501-format folder with bounding_box_train/ (query/ + bounding_box_test/ for per-epoch scores).",
    ),
    out_dir: Path = typer.Option(..., "--out", help="Run folder: config.json, last.pt, metrics.csv, metrics.png."),
    backbone: str = typer.Option(
        "osnet_x0_25",
        "--backbone",
        help="osnet_x1_0/x0_75/x0_5/x0_25, compact, or timm:<name> (with --pretrained, or --scratch).",
    ),
    pretrained: Optional[Path] = typer.Option(
        None, "--pretrained", help="Local weights for the backbone (torchreid OSNet .pth, timm state dict)."
    ),
    init: Optional[Path] = typer.Option(
        None,
        "--init",
        help="Fine-tune this ONNX embedding model instead of --backbone (default with no model flag: the "
        "catalog's trainable person re-id model).",
    ),
    scratch: bool = typer.Option(False, "--scratch", help="Start --backbone from random weights, on purpose."),
    epochs: int = typer.Option(5, "--epochs", min=1),
    batch_size: int = typer.Option(16, "--batch-size", min=2),
    instances: int = typer.Option(4, "--instances", min=1, help="Images per identity in a batch (PK sampling)."),
    lr: float = typer.Option(1e-3, "--lr", min=0.0),
    weight_decay: float = typer.Option(0.0, "--weight-decay", min=0.0),
    optimizer: str = typer.Option("adamw", "--optimizer", help="adamw or sgd."),
    schedule: str = typer.Option("cosine", "--schedule", help="cosine or constant."),
    warmup_epochs: float = typer.Option(0.0, "--warmup-epochs", min=0.0),
    clip_grad: Optional[float] = typer.Option(None, "--clip-grad", help="Clip the gradient norm (off by default)."),
    label_smoothing: float = typer.Option(0.1, "--label-smoothing", min=0.0, max=0.99),
    margin: float = typer.Option(0.3, "--margin", min=0.0, help="Triplet margin."),
    triplet_weight: float = typer.Option(1.0, "--triplet-weight", min=0.0),
    loss: str = typer.Option(
        "ce_triplet",
        "--loss",
        help="ce_triplet (classifier + triplet) or camera_memory (a proxy per identity and camera, no classifier).",
    ),
    flip: float = typer.Option(0.5, "--flip", min=0.0, max=1.0, help="Horizontal-flip probability."),
    pad: int = typer.Option(10, "--pad", min=0, help="Zero padding before the random crop (pixels)."),
    erase: float = typer.Option(0.5, "--erase", min=0.0, max=1.0, help="Random-erasing probability."),
    eval_every: int = typer.Option(
        1, "--eval-every", min=0, help="Score query/ vs bounding_box_test/ every N epochs (0: never)."
    ),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when present), cpu or cuda."),
    workers: int = typer.Option(2, "--workers", min=0, help="Data-loading processes."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last checkpoint."),
    as_json: bool = JsonOption,
) -> None:
    """Train or fine-tune an embedding model (CE with label smoothing + batch-hard triplet on a BNNeck)."""
    from reidkit.train import require_torch

    require_torch()
    from reidkit.train.config import TrainConfig
    from reidkit.train.loop import train as run_training

    cfg = TrainConfig(
        data=str(data),
        out=str(out_dir),
        backbone=backbone,
        weights=str(pretrained) if pretrained else None,
        init=str(init) if init else None,
        scratch=scratch,
        epochs=epochs,
        batch_size=batch_size,
        instances=instances,
        lr=lr,
        weight_decay=weight_decay,
        optimizer=optimizer,
        schedule=schedule,
        warmup_epochs=warmup_epochs,
        clip_grad=clip_grad,
        label_smoothing=label_smoothing,
        margin=margin,
        triplet_weight=triplet_weight,
        loss=loss,
        flip=flip,
        pad=pad,
        erase=erase,
        eval_every=eval_every,
        seed=seed,
        device=device,
        workers=workers,
    )
    renamed = {"pretrained": "weights", "out_dir": "out"}
    explicit = {
        renamed.get(name, name)
        for name in ctx.params
        if getattr(ctx.get_parameter_source(name), "name", "DEFAULT") != "DEFAULT"
    }
    result = run_training(
        cfg,
        resume=resume,
        progress=not as_json,
        log=(lambda _m: None) if as_json else out.print,
        explicit=explicit,
    )
    if as_json:
        print_json({"run_dir": str(result.run_dir), "seconds": round(result.seconds, 1), "epochs": result.rows})
    else:
        out.print(f"run in {result.run_dir} ({result.seconds:.0f} s); export with: reidkit export {result.run_dir}")


def export(
    run_dir: Path = typer.Argument(
        ..., help="A training run folder (holds last.pt), or an adapt folder (its final round)."
    ),
    fmt: str = typer.Option("onnx", "--format", "-f", help="onnx or openvino."),
    output: Optional[Path] = typer.Option(
        None, "--output", "-o", help="Model file to write (default RUN_DIR/export/model.onnx|.xml)."
    ),
    int8: bool = typer.Option(False, "--int8", help="INT8 post-training quantisation with NNCF (OpenVINO only)."),
    calibration: Optional[Path] = typer.Option(
        None, "--calibration", help="Folder of person crops for INT8 and the agreement check (default: the run's data)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Export a run to ONNX or OpenVINO IR (BGR 0-255 input), checked against the PyTorch model."""
    from reidkit.train import require_torch

    require_torch()
    from reidkit.train.export import export_run

    result = export_run(run_dir, fmt, output, int8, calibration)
    summary = {
        "path": str(result.path),
        "format": result.format,
        "int8": result.int8,
        "check_images": result.check_images,
        "min_cosine": round(result.min_cosine, 6),
        "mean_cosine": round(result.mean_cosine, 6),
        "device_min_cosine": round(result.device_min_cosine, 6),
    }
    if as_json:
        print_json(summary)
    else:
        out.print(
            f"wrote {result.path}; cosine to the PyTorch model on {result.check_images} real crops: "
            f"min {result.min_cosine:.5f}, mean {result.mean_cosine:.5f} (f32); "
            f"min {result.device_min_cosine:.5f} at the device's default precision"
        )


def adapt(
    out_dir: Path = typer.Option(..., "--out", help="Run folder: crops, one folder per round, adapt.json."),
    images: Optional[Path] = typer.Option(
        None, "--images", help="A folder of the site's person crops (labels in file names are ignored)."
    ),
    videos: Optional[list[Path]] = typer.Option(
        None, "--videos", help="The site's footage (repeat --videos): tracked people become crops and tracklets."
    ),
    init: Optional[Path] = typer.Option(
        None, "--init", help="ONNX model to adapt (default: the catalog's trainable person re-id model)."
    ),
    rounds: int = typer.Option(3, "--rounds", min=1),
    epochs: int = typer.Option(2, "--epochs", min=1, help="Training epochs per round."),
    eps: float = typer.Option(0.6, "--eps", min=0.05, max=0.95, help="DBSCAN radius (Jaccard distance)."),
    min_samples: int = typer.Option(4, "--min-samples", min=2, help="DBSCAN: neighbours of a core crop."),
    loss: Optional[str] = typer.Option(
        None,
        "--loss",
        help="camera_memory (default: a memory proxy per cluster and camera) or ce_triplet (a new classifier "
        "each round).",
    ),
    eval_dir: Optional[Path] = typer.Option(
        None, "--eval", help="A labelled Market-format folder to score each round on (query/, bounding_box_test/)."
    ),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when present), cpu or cuda."),
    workers: int = typer.Option(2, "--workers", min=0),
    as_json: bool = JsonOption,
) -> None:
    """Adapt a model to a site's cameras without labels: cluster, pseudo-label, fine-tune, repeat."""
    from reidkit.train import require_torch

    require_torch()
    from reidkit.train.adapt import AdaptConfig
    from reidkit.train.adapt import adapt as run_adapt

    cfg = AdaptConfig(
        out=str(out_dir),
        images=str(images) if images else None,
        videos=[str(v) for v in videos or []],
        init=str(init) if init else None,
        rounds=rounds,
        epochs=epochs,
        eps=eps,
        min_samples=min_samples,
        **({"loss": loss} if loss else {}),
        eval_dir=str(eval_dir) if eval_dir else None,
        device=device,
        workers=workers,
    )
    summary = run_adapt(cfg, log=(lambda _m: None) if as_json else out.print, progress=not as_json)
    if as_json:
        print_json(summary)
    else:
        out.print(f"adapted in {summary['seconds']:.0f} s; export with: reidkit export {summary['final_run']}")
