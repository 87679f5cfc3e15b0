"""Build a Market-1501-format re-id set from a MOTChallenge ground-truth file and its video.

Pure steps (reading GT rows, pseudo-camera assignment, id split, query choice) are separate from the
I/O step that decodes the video and writes crops.
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from reidkit.errors import DatasetError


@dataclass(frozen=True)
class MotRecipe:
    """How crops are cut and split; written next to the set as recipe.json."""

    stride: int = 1
    min_height: float = 0.0
    clip: bool = True
    segments: int = 2
    block_frames: int | None = None
    train_ids: float = 0.0
    queries_per_camera: int = 1
    scale: float | None = None
    seed: int = 0


def mot_line(frame: int, identity: int, box, score: float) -> str:
    """One MOTChallenge result row (no newline): 1-based frame, id, x, y, w, h from an (x0, y0, x1, y1) box, score."""
    x0, y0, x1, y1 = (float(v) for v in box)
    return f"{int(frame)},{int(identity)},{x0:.2f},{y0:.2f},{x1 - x0:.2f},{y1 - y0:.2f},{float(score):.4f},-1,-1,-1"


def read_mot_gt(path: str | os.PathLike, include_ignored: bool = False) -> np.ndarray:
    """MOT ground-truth rows as an N×6+ float array: frame, id, x, y, w, h, conf, ... (conf 0 dropped)."""
    p = Path(path)
    if not p.is_file():
        raise DatasetError(f"ground-truth file not found: {p}")
    try:
        rows = np.loadtxt(p, delimiter=",", ndmin=2)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{p} is not a MOTChallenge CSV (frame,id,x,y,w,h,conf,...): {exc}") from None
    if rows.size == 0:
        raise DatasetError(f"{p} holds no boxes")
    if rows.shape[1] < 6:
        raise DatasetError(f"{p}: expected at least 6 columns (frame,id,x,y,w,h), found {rows.shape[1]}")
    if not include_ignored and rows.shape[1] >= 7:
        rows = rows[rows[:, 6] != 0]
    return rows


def seqinfo_size(gt_path: str | os.PathLike) -> tuple[int, int] | None:
    """(width, height) from the seqinfo.ini of the sequence a gt/gt.txt belongs to, if present."""
    ini = Path(gt_path).resolve().parent.parent / "seqinfo.ini"
    if not ini.is_file():
        return None
    parser = configparser.ConfigParser()
    parser.read(ini)
    try:
        return int(parser["Sequence"]["imWidth"]), int(parser["Sequence"]["imHeight"])
    except (KeyError, ValueError):
        return None


def pseudo_cameras(frames: np.ndarray, last_frame: int, segments: int, block_frames: int | None) -> np.ndarray:
    """Camera id (1-based) of each 1-based frame: equal contiguous parts, or blocks cycling over cameras."""
    frames = np.asarray(frames, dtype=np.int64)
    if segments < 1:
        raise DatasetError("--segments must be at least 1")
    if block_frames:
        return ((frames - 1) // block_frames) % segments + 1
    size = int(np.ceil(last_frame / segments))
    return np.minimum((frames - 1) // size, segments - 1) + 1


def split_train_ids(pids: np.ndarray, fraction: float, seed: int = 0) -> set[int]:
    """A seeded random choice of round(fraction × #ids) ids for training."""
    ids = np.unique(pids)
    if not 0.0 <= fraction < 1.0:
        raise DatasetError("--train-ids must be a fraction in [0, 1)")
    count = int(round(fraction * len(ids)))
    return set(np.random.default_rng(seed).permutation(ids)[:count].tolist())


def choose_queries(pids: np.ndarray, cams: np.ndarray, frames: np.ndarray, per_camera: int = 1) -> np.ndarray:
    """Mask of query rows: for ids seen by ≥2 cameras, `per_camera` crops per camera, evenly spread in time."""
    query = np.zeros(len(pids), dtype=bool)
    for pid in np.unique(pids):
        rows = np.flatnonzero(pids == pid)
        if len(np.unique(cams[rows])) < 2:
            continue
        for cam in np.unique(cams[rows]):
            mine = rows[cams[rows] == cam]
            mine = mine[np.argsort(frames[mine], kind="stable")]
            picks = np.linspace(0, len(mine) - 1, per_camera + 2)[1:-1].round().astype(int)
            query[mine[np.unique(picks)]] = True
    return query


def plan_crops(gt: np.ndarray, width: int, height: int, last_frame: int, recipe: MotRecipe, scale: float) -> dict:
    """Which boxes become which files: pixel boxes, cameras, split; pure, no I/O."""
    rows = gt[(gt[:, 0] - 1) % recipe.stride == 0] if recipe.stride > 1 else gt
    boxes = rows[:, 2:6] * scale
    xyxy = np.column_stack([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]])
    inside = (xyxy[:, 0] >= 0) & (xyxy[:, 1] >= 0) & (xyxy[:, 2] <= width) & (xyxy[:, 3] <= height)
    clipped = np.column_stack(
        [
            np.clip(xyxy[:, 0], 0, width),
            np.clip(xyxy[:, 1], 0, height),
            np.clip(xyxy[:, 2], 0, width),
            np.clip(xyxy[:, 3], 0, height),
        ]
    )
    keep = (clipped[:, 3] - clipped[:, 1] >= max(recipe.min_height, 1)) & (clipped[:, 2] - clipped[:, 0] >= 1)
    if not recipe.clip:
        keep &= inside
    rows, clipped = rows[keep], clipped[keep]
    frames = rows[:, 0].astype(np.int64)
    pids = rows[:, 1].astype(np.int64)
    cams = pseudo_cameras(frames, last_frame, recipe.segments, recipe.block_frames)
    train = np.isin(pids, list(split_train_ids(pids, recipe.train_ids, recipe.seed)))
    query = np.zeros(len(pids), bool)
    test = ~train
    query[test] = choose_queries(pids[test], cams[test], frames[test], recipe.queries_per_camera)
    split = np.where(train, "bounding_box_train", np.where(query, "query", "bounding_box_test"))
    return {"frames": frames, "pids": pids, "cams": cams, "boxes": clipped, "split": split}


def build_from_mot(
    video: str | os.PathLike,
    gt_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    recipe: MotRecipe = MotRecipe(),
    overwrite: bool = False,
    progress: bool = True,
) -> dict:
    """Decode `video`, cut the ground-truth boxes and write a Market-1501-format folder; returns a summary."""
    import cv2
    from tqdm import tqdm

    from reidkit.video import read_frames, video_info

    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise DatasetError(f"{out} exists and is not empty (use --overwrite)")
    gt = read_mot_gt(gt_path)
    info = video_info(video)
    width, height = info["width"], info["height"]
    scale = recipe.scale
    if scale is None:
        size = seqinfo_size(gt_path)
        scale = width / size[0] if size else 1.0
        right, bottom = (gt[:, 2] + gt[:, 4]).max(), (gt[:, 3] + gt[:, 5]).max()
        if size is None and (right > 1.05 * width or bottom > 1.05 * height):
            raise DatasetError(
                f"boxes in {gt_path} reach ({right:.0f}, {bottom:.0f}) but the video is {width}×{height}: "
                "was it re-encoded at another size? Pass --scale (video pixels per GT pixel)"
            )
    last_frame = int(max(gt[:, 0].max(), info["frames"] or 0))
    plan = plan_crops(gt, width, height, last_frame, recipe, scale)
    for split in ("bounding_box_train", "query", "bounding_box_test"):
        if (out / split).is_dir():
            shutil.rmtree(out / split)  # --overwrite: a set is rebuilt whole, never mixed with an old one
        (out / split).mkdir(parents=True)
    by_frame: dict[int, list[int]] = {}
    for k, f in enumerate(plan["frames"]):
        by_frame.setdefault(int(f), []).append(k)
    written = 0
    seen_frames = 0
    with tqdm(total=len(plan["frames"]), unit="crop", desc="crops", disable=not progress or None) as bar:
        for index, frame in read_frames(video):
            seen_frames += 1
            for k in by_frame.get(index + 1, ()):
                x0, y0, x1, y1 = plan["boxes"][k].round().astype(int)
                if y1 <= y0 or x1 <= x0:
                    continue
                name = f"{plan['pids'][k]:04d}_c{plan['cams'][k]}s1_{plan['frames'][k]:06d}_00.jpg"
                cv2.imwrite(str(out / plan["split"][k] / name), frame[y0:y1, x0:x1], [cv2.IMWRITE_JPEG_QUALITY, 95])
                written += 1
                bar.update(1)
    if written == 0:
        raise DatasetError(f"no crops written: do the boxes of {gt_path} fall inside {video} (scale {scale:.3f})?")
    summary = {
        "video": str(video),
        "gt": str(gt_path),
        "video_size": [width, height],
        "scale": scale,
        "frames_read": seen_frames,
        "recipe": asdict(recipe),
        "counts": {s: int((plan["split"] == s).sum()) for s in ("bounding_box_train", "query", "bounding_box_test")},
        "ids": {
            s: int(np.unique(plan["pids"][plan["split"] == s]).size)
            for s in ("bounding_box_train", "query", "bounding_box_test")
        },
        "written": written,
    }
    (out / "recipe.json").write_text(json.dumps(summary, indent=2))
    return summary
