"""`reidkit adapt`: learn a site's cameras without labels (unsupervised domain adaptation).

Each round: (a) embed every crop of the site with the current model, (b) pseudo-label them by DBSCAN on
k-reciprocal Jaccard distances (`reidkit.metrics.cluster`; tracklets from the tracker as must-link groups when
the input is video), (c) fine-tune on the pseudo-labelled crops with the training recipe, starting from the
previous round. Labels that a folder's file names carry are never read. With `eval_dir` (a labelled
Market-format folder) every round is scored, round 0 being the starting model.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from reidkit.data.market import ImageSet
from reidkit.errors import DatasetError, TrainingError
from reidkit.images import STILL_SUFFIXES
from reidkit.metrics.cluster import pseudo_labels
from reidkit.train.config import check_loss


@dataclass
class AdaptConfig:
    """An adaptation run: its crops, start, rounds and the clustering and training settings."""

    out: str
    images: str | None = None  # a folder of person crops (any names; labels in names are ignored)
    videos: list[str] = field(default_factory=list)  # or footage: tracked people become crops and tracklets
    init: str | None = None  # the ONNX model to adapt (default: the catalog's trainable model)
    rounds: int = 3
    epochs: int = 2  # training epochs per round
    eps: float = 0.6  # DBSCAN radius in Jaccard distance (SpCL's setting)
    min_samples: int = 4
    k1: int = 20
    k2: int = 6
    eval_dir: str | None = None
    stride: int = 5  # videos: every N-th frame of a track becomes a crop
    min_height: float = 32.0  # videos: smaller people are not used
    batch_size: int = 16
    lr: float = 3.5e-4
    loss: str = "camera_memory"  # camera_memory (proxy memory, see train.memory) | ce_triplet (a new classifier)
    seed: int = 0
    device: str = "auto"
    workers: int = 2


@dataclass
class Crops:
    """The unlabelled crops to adapt to, and groups of crops known to show one person (tracklets)."""

    paths: list[Path]
    groups: list[list[int]] = field(default_factory=list)
    cameras: list[int] | None = None  # each crop's camera number, when known (None: one camera)

    def camera(self, k: int) -> int:
        """Crop k's camera number (1 when unknown)."""
        return self.cameras[k] if self.cameras is not None else 1

    def as_set(self) -> ImageSet:
        """An ImageSet with placeholder ids, for embedding."""
        n = len(self.paths)
        return ImageSet(tuple(self.paths), np.zeros(n, np.int64), np.zeros(n, np.int64))


MARKET_CAMERA = re.compile(r"^[-\d]+_c(\d+)")


def crops_from_folder(folder: str | Path) -> Crops:
    """Every image under a folder. Person labels in the names are never read; a camera is read from names in the
    Market-1501 form (`0001_c2s1_…`: camera 2) when every name has one — cameras are what a site knows."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"crop folder not found: {folder}")
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in STILL_SUFFIXES)
    if len(paths) < 8:
        raise DatasetError(f"{folder} holds {len(paths)} images; adaptation needs at least 8 person crops")
    found = [MARKET_CAMERA.match(p.name) for p in paths]
    cameras = [int(m.group(1)) for m in found] if all(found) else None
    return Crops(paths, cameras=cameras)


def crops_from_videos(videos: Sequence[str | Path], out: Path, stride: int = 5, min_height: float = 32.0) -> Crops:
    """Track people in videos (motion only: a tracklet is one person for sure) and save every `stride`-th crop of
    each tracklet under `out`; the tracklets are the must-link groups."""
    import cv2

    from reidkit.pipeline import Pipeline, PipelineConfig
    from reidkit.preprocess import crop
    from reidkit.video import open_source

    out.mkdir(parents=True, exist_ok=True)
    pipeline = Pipeline(PipelineConfig(use_reid=False, min_box_height=min_height))
    paths: list[Path] = []
    cameras: list[int] = []
    tracklets: dict[tuple[int, int], list[int]] = {}
    for v, video in enumerate(videos):
        frames, fps = open_source(video)
        latest: dict[str, np.ndarray] = {}

        def remember(items, latest=latest):
            for index, frame in items:
                latest["frame"] = frame
                yield index, frame

        seen: dict[int, int] = {}
        for result in pipeline.process(remember(frames), f"v{v}", fps):
            for identity, box in zip(result.ids, result.boxes):
                count = seen.get(identity, 0)
                seen[identity] = count + 1
                if count % stride or box[3] - box[1] < min_height:
                    continue
                path = out / f"v{v:02d}_t{identity:05d}_f{result.frame:06d}.jpg"
                cv2.imwrite(str(path), crop(latest["frame"], box))
                tracklets.setdefault((v, identity), []).append(len(paths))
                paths.append(path)
                cameras.append(v + 1)  # each video is a camera
    if len(paths) < 8:
        raise DatasetError(f"the videos gave {len(paths)} person crops; adaptation needs at least 8")
    return Crops(paths, [g for g in tracklets.values() if len(g) > 1], cameras)


def write_pseudo_set(crops: Crops, labels: np.ndarray, folder: Path) -> int:
    """A Market-format training folder of the clustered crops (links named by pseudo-label and camera); returns
    its size."""
    train = folder / "bounding_box_train"
    train.mkdir(parents=True, exist_ok=True)
    count = 0
    for k, (path, label) in enumerate(zip(crops.paths, labels)):
        if label < 0:
            continue
        link = train / f"{int(label):05d}_c{crops.camera(k)}s1_{k:06d}_00{path.suffix.lower()}"
        try:
            os.symlink(path.resolve(), link)
        except OSError:
            import shutil

            shutil.copyfile(path, link)
        count += 1
    return count


def adapt(cfg: AdaptConfig, log: Callable[[str], None] = print, progress: bool = True) -> dict:
    """Run the rounds; returns (and writes to OUT/adapt.json) the per-round summary and the final run folder."""
    import torch

    from reidkit.train.config import TrainConfig
    from reidkit.train.loop import build_net, embed_set, evaluate, pick_device, starting_point
    from reidkit.train.loop import train as train_run

    out = Path(cfg.out)
    if (out / "adapt.json").exists():
        raise TrainingError(f"{out} already holds an adaptation run; choose another --out")
    check_loss(cfg.loss)
    if bool(cfg.images) == bool(cfg.videos):
        raise TrainingError("adapt needs crops: give --images DIR or --videos FILES (one of them)")
    out.mkdir(parents=True, exist_ok=True)
    crops = (
        crops_from_folder(cfg.images)
        if cfg.images
        else crops_from_videos(cfg.videos, out / "crops", cfg.stride, cfg.min_height)
    )
    start = starting_point(TrainConfig(data=str(out), out=str(out / "round0"), init=cfg.init))
    device = pick_device(cfg.device)
    previous: str | None = None
    rows = []
    begin = time.perf_counter()
    for rnd in range(cfg.rounds + 1):
        if previous is None:
            net = build_net(start, 1, out).to(device)
        else:
            from reidkit.train.loop import load_run

            net = load_run(previous)[0].to(device)
        row: dict = {"round": rnd}
        if cfg.eval_dir:
            row.update(evaluate(net, Path(cfg.eval_dir), device))
        if rnd == cfg.rounds:
            rows.append(row)
            log(_describe(row))
            break
        features = embed_set(net, crops.as_set(), device)
        del net
        labels = pseudo_labels(features, crops.groups, cfg.eps, cfg.min_samples, cfg.k1, cfg.k2)
        clusters = int(labels.max()) + 1 if (labels >= 0).any() else 0
        row.update(clusters=clusters, clustered=int((labels >= 0).sum()), crops=len(labels))
        if clusters < 2:
            raise TrainingError(
                f"round {rnd + 1}: the crops formed {clusters} cluster(s); adaptation needs at least 2 "
                "(more crops, or a larger --eps)"
            )
        data = out / f"round{rnd + 1}" / "data"
        write_pseudo_set(crops, labels, data)
        run = out / f"round{rnd + 1}" / "run"
        tcfg = TrainConfig(
            data=str(data),
            out=str(run),
            init=start.init,
            start_from=previous,
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            lr=cfg.lr,
            loss=cfg.loss,
            eval_every=0,
            seed=cfg.seed + rnd,
            device=cfg.device,
            workers=cfg.workers,
        )
        train_run(tcfg, progress=progress, log=lambda _m: None)
        previous = str(run)
        rows.append(row)
        log(_describe(row))
        torch.cuda.empty_cache() if torch.cuda.is_available() else None
    summary = {
        "config": asdict(cfg),
        "init": start.init,
        "rounds": rows,
        "final_run": previous,
        "seconds": round(time.perf_counter() - begin, 1),
    }
    (out / "adapt.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _describe(row: dict) -> str:
    parts = [f"round {row['round']}"]
    if "rank1" in row:
        parts.append(f"rank-1 {row['rank1']:.3f} mAP {row['mAP']:.3f}")
    if "clusters" in row:
        parts.append(f"{row['clusters']} clusters of {row['clustered']}/{row['crops']} crops")
    return ": ".join([parts[0], ", ".join(parts[1:])]) if len(parts) > 1 else parts[0]
