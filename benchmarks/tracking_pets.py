"""Tracking benchmark on PETS09-S2L1: detectors, motion-only vs full pipeline vs public detections, speed.

1. Each person detector, motion-only tracking: MOTA/IDF1/HOTA/IDSW and detector frames/s (default choice).
2. On the default detector: (a) motion only (`--no-reid`), (b) the full pipeline (appearance + identity
   gallery) at several re-identification thresholds, (c) the MOT15 public detections det/det.txt through
   our tracker (motion only, and with appearance + gallery).
3. Speed: end-to-end frames/s of `run_videos` (decode, detect, embed, track, write results; no MP4) on PETS09
   and people-detection.264, against the compute-bound ceiling measured in the same run: the detector on
   every pre-decoded frame plus one batched re-id call per frame on that frame's crops, timed alone.
Ground truth is in 768×576 pixels and scaled by 0.625 to the 480×360 video; conf-0 boxes are ignored.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import data_root, machine  # noqa: E402

from reidkit.detect import Detections, Detector  # noqa: E402
from reidkit.metrics.mot import mot_metrics  # noqa: E402
from reidkit.pipeline import Pipeline, PipelineConfig, run_videos  # noqa: E402
from reidkit.preprocess import crop  # noqa: E402
from reidkit.track import Tracker  # noqa: E402
from reidkit.video import read_frames  # noqa: E402

DETECTORS = [
    "person-detection-retail-0013",
    "person-detection-0200",
    "person-detection-0201",
    "person-detection-0202",
    "pedestrian-detection-adas-0002",
]
KEYS = ("MOTA", "IDF1", "HOTA", "IDSW", "FP", "FN", "pred_ids")


def row(label: str, m: dict, extra: str = "") -> str:
    return (
        f"| {label} | {m['MOTA']:.3f} | {m['IDF1']:.3f} | {m['HOTA']:.3f} | {m['IDSW']} | {m['FP']} | "
        f"{m['FN']} | {m['pred_ids']} | {extra} |"
    )


def track_cached(dets: list[Detections], emb: list | None, fps: float, pipeline: Pipeline | None = None) -> np.ndarray:
    """Tracker (and optionally the pipeline's identity logic) over cached detections -> MOT rows."""
    tracker = Tracker(PipelineConfig().tracker if pipeline is None else pipeline.config.tracker, frame_rate=fps)
    rows = []
    for index, d in enumerate(dets):
        e = emb[index] if emb is not None else None
        tracks = tracker.update(d.xyxy, d.confidence, e)
        if pipeline is not None:
            decision = pipeline.fusion.update("cam", index / fps, index, tracker.events, tracker.tracks, e)
            tracker.end(decision.ended)
            tracks = [t for t in tracks if t.track_id in decision.ids]
            ids = [decision.ids[t.track_id] for t in tracks]
        else:
            ids = [t.track_id for t in tracks]
        for i, t in zip(ids, tracks):
            x0, y0, x1, y1 = t.xyxy
            rows.append([index + 1, i, x0, y0, x1 - x0, y1 - y0, t.score])
    return np.array(rows).reshape(-1, 7)


def main() -> None:
    print(f"machine: {machine()}\n")
    seq = data_root() / "PETS09-S2L1"
    gt = np.loadtxt(seq / "gt/gt.txt", delimiter=",")
    gt[:, 2:6] *= 0.625
    frames = [f for _, f in read_frames(seq / "vtest.mp4")]
    fps = 10.0
    header = "| run | MOTA | IDF1 | HOTA | IDSW | FP | FN | ids | note |\n|---|---|---|---|---|---|---|---|---|"

    print("### 1. Detectors (motion-only tracking)\n")
    print(header)
    for name in DETECTORS:
        det = Detector(name, confidence=0.1, nms_iou=0.5)
        start = time.perf_counter()
        dets = [det.detect(f) for f in frames]
        rate = len(frames) / (time.perf_counter() - start)
        print(row(name, mot_metrics(gt, track_cached(dets, None, fps)), f"detector {rate:.0f} frames/s"), flush=True)

    print("\n### 2. Motion only vs full pipeline vs public detections (default detector)\n")
    print(header)
    base = PipelineConfig()
    pipe = Pipeline(base)
    dets = [pipe.detect(f) for f in frames]
    emb = [pipe.embed(f, d) for f, d in zip(frames, dets)]
    print(row(f"(a) {base.detector}, motion only (--no-reid)", mot_metrics(gt, track_cached(dets, None, fps))))
    for threshold in (0.5, 0.9, 0.95, 0.97, 0.99):
        p = Pipeline(PipelineConfig(reid_threshold=threshold))
        note = "default" if threshold == base.reid_threshold else ""
        print(
            row(
                f"(b) full pipeline, reid threshold {threshold}", mot_metrics(gt, track_cached(dets, emb, fps, p)), note
            ),
            flush=True,
        )
    public = np.loadtxt(seq / "det/det.txt", delimiter=",")
    pub_dets = []
    for index in range(len(frames)):
        d = public[public[:, 0] == index + 1]
        xyxy = np.column_stack([d[:, 2], d[:, 3], d[:, 2] + d[:, 4], d[:, 3] + d[:, 5]]) * 0.625
        pub_dets.append(Detections(xyxy.astype(np.float32), d[:, 6].astype(np.float32), np.ones(len(d), np.int64)))
    print(row("(c) MOT15 public detections (DPM), motion only", mot_metrics(gt, track_cached(pub_dets, None, fps))))
    pub_emb = [pipe.embed(f, d) for f, d in zip(frames, pub_dets)]
    print(
        row(
            "(c) MOT15 public detections, full pipeline",
            mot_metrics(gt, track_cached(pub_dets, pub_emb, fps, Pipeline())),
        )
    )
    print("reference (../shared/README.md): SORT on det.txt, motmetrics: IDF1 0.35, MOTA 0.62, 103 ID switches")
    speed(seq)


def speed(seq: Path) -> None:
    """Section 3 alone: end-to-end frames/s against the models' own ceiling, measured in the same run."""
    print("\n### 3. Speed: end-to-end vs compute-bound ceiling\n")
    print("| video | frames | end-to-end frames/s | ceiling frames/s | ratio | crops/frame |")
    print("|---|---|---|---|---|---|")
    for video in (seq / "vtest.mp4", data_root() / "videos/people-detection.264"):
        decoded = [f for _, f in read_frames(video)]
        p = Pipeline(PipelineConfig())
        p.embed(decoded[0], p.detect(decoded[0]))  # compile both models
        start = time.perf_counter()
        dets = [p.detect(f) for f in decoded]
        t_det = time.perf_counter() - start
        crops = [
            [crop(f, b) for b in d.xyxy[d.confidence >= p.config.tracker.high_thresh]] for f, d in zip(decoded, dets)
        ]
        start = time.perf_counter()
        for c in crops:
            if c:
                p.embedder.embed(c)
        t_reid = time.perf_counter() - start
        ceiling = len(decoded) / (t_det + t_reid)
        with tempfile.TemporaryDirectory() as tmp:
            summary = run_videos([video], tmp, PipelineConfig(), write_video=False, progress=False)
        e2e = summary["sources"][0]["fps"]
        per_frame = np.mean([len(c) for c in crops])
        print(
            f"| {video.name} | {len(decoded)} | {e2e:.1f} | {ceiling:.1f} | {e2e / ceiling:.2f} | {per_frame:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    if "--speed" in sys.argv[1:]:  # only section 3 (a few minutes instead of a quarter of an hour)
        print(f"machine: {machine()}")
        speed(data_root() / "PETS09-S2L1")
    else:
        main()
