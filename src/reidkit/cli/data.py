"""`reidkit data from-mot`: build Market-1501-format re-id sets from annotated video."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from reidkit.cli.common import JsonOption, out, print_json

app = typer.Typer(help="Build re-id datasets.", no_args_is_help=True)


@app.command("from-mot")
def from_mot(
    video: Path = typer.Argument(..., help="The sequence's video (any OpenCV-readable file)."),
    gt: Path = typer.Argument(..., help="MOTChallenge gt.txt: frame,id,x,y,w,h,conf,... (conf 0 = ignored)."),
    output: Path = typer.Option(..., "--output", "-o", help="Market-1501-format folder to create."),
    stride: int = typer.Option(1, "--stride", min=1, help="Keep every N-th frame."),
    min_height: float = typer.Option(0.0, "--min-height", help="Drop boxes shorter than this (video pixels)."),
    clip: bool = typer.Option(
        True, "--clip/--no-clip", help="Clip boxes at the frame border, or drop those crossing it."
    ),
    segments: int = typer.Option(2, "--segments", min=1, help="Pseudo-cameras made by splitting time."),
    block_frames: Optional[int] = typer.Option(
        None, "--block-frames", min=1, help="Cycle pseudo-cameras every N frames instead of equal parts."
    ),
    train_ids: float = typer.Option(0.0, "--train-ids", help="Fraction of identities for bounding_box_train."),
    queries_per_camera: int = typer.Option(1, "--queries-per-camera", min=1),
    scale: Optional[float] = typer.Option(
        None, "--scale", help="Video pixels per GT pixel (default: from seqinfo.ini, else 1)."
    ),
    seed: int = typer.Option(0, "--seed"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Rebuild into a non-empty folder."),
    as_json: bool = JsonOption,
) -> None:
    """Cut every ground-truth box of a video into a Market-1501-format query/gallery/train set."""
    from reidkit.data.mot import MotRecipe, build_from_mot

    recipe = MotRecipe(stride, min_height, clip, segments, block_frames, train_ids, queries_per_camera, scale, seed)
    summary = build_from_mot(video, gt, output, recipe, overwrite=overwrite)
    if as_json:
        print_json(summary)
        return
    c, i = summary["counts"], summary["ids"]
    out.print(
        f"{output}: train {c['bounding_box_train']} crops / {i['bounding_box_train']} ids, "
        f"query {c['query']} / {i['query']}, gallery {c['bounding_box_test']} / {i['bounding_box_test']} "
        f"(scale {summary['scale']:.3f})"
    )


@app.command("split-views")
def split_views(
    video: Path = typer.Argument(..., help="The video (annotated, to score the views)."),
    gt: Optional[Path] = typer.Argument(None, help="Its MOTChallenge gt.txt (global ids); without it, views only."),
    output: Path = typer.Option(..., "--output", "-o", help="Folder for view<k>.mp4 and gt/view<k>.txt."),
    views: str = typer.Option(
        ...,
        "--views",
        help="Strips as fractions of the width, e.g. 0:0.6,0.4:1 (overlap) or 0:0.42,0.58:1 (a blind strip between).",
    ),
    scale: Optional[float] = typer.Option(None, "--scale", help="Video pixels per GT pixel (default: seqinfo.ini)."),
    min_inside: float = typer.Option(
        0.6,
        "--min-inside",
        min=0.05,
        max=1.0,
        help="A person counts in a view while this much of their box width is in it.",
    ),
    max_frames: Optional[int] = typer.Option(None, "--max-frames", min=1),
    transit_max: Optional[float] = typer.Option(
        None,
        "--transit-max",
        min=0.0,
        help="cameras.toml: link views across a blind strip with a 0..N s transit window (default: no link).",
    ),
    ground_radius: float = typer.Option(
        0.05, "--ground-radius", min=0.0, max=1.0, help="cameras.toml: same-spot radius, a fraction of the width."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Cut one annotated video into side-by-side virtual cameras with per-camera ground truth and a cameras.toml
    describing their layout (overlaps, transit windows, homographies into the source frame)."""
    from reidkit.data.views import parse_views
    from reidkit.data.views import split_views as run_split

    summary = run_split(
        video, gt, output, parse_views(views), scale, min_inside, max_frames, transit_max, ground_radius
    )
    if as_json:
        print_json(summary)
        return
    for name, v in summary["views"].items():
        people = f", {v['boxes']} boxes of {v['identities']} people" if "boxes" in v else ""
        out.print(f"{name}: x {v['x0']}-{v['x1']}{people}")
    truth = f"; ground truth in {output / 'gt'}" if gt is not None else ""
    out.print(f"{summary['frames']} frames -> {output}{truth}; layout {summary['cameras']}")
