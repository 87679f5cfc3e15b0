"""`make demo`: an end-to-end run on real images and video from REIDKIT_DATA (or a public sample)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

from reidkit.errors import ReidkitError
from reidkit.models.store import default_cache_dir, download

SAMPLE_VIDEO_URL = "https://github.com/intel-iot-devkit/sample-videos/raw/master/one-by-one-person-detection.mp4"
SAMPLE_VIDEO_SHA256 = "a5964aa259099a482a8b360ffc2c57b5a30f84d5919236a4dad01f8e929ac07c"


def data_root() -> Path | None:
    """REIDKIT_DATA as a path, if set and present."""
    root = os.environ.get("REIDKIT_DATA")
    return Path(root) if root and Path(root).is_dir() else None


def sample_video(root: Path | None) -> Path:
    """The demo video: from REIDKIT_DATA, else the CC BY 4.0 Intel sample fetched into the cache."""
    if root is not None and (root / "videos/one-by-one-person-detection.mp4").is_file():
        return root / "videos/one-by-one-person-detection.mp4"
    target = default_cache_dir().parent / "samples/one-by-one-person-detection.mp4"
    if not target.is_file():
        print(f"REIDKIT_DATA is not set: fetching the public Intel sample video (CC BY 4.0) into {target}")
        download(SAMPLE_VIDEO_URL, target, SAMPLE_VIDEO_SHA256)
    return target


def verify_pairs(root: Path) -> None:
    """Same/different verdicts on real cross-camera crops of PKU-Reid-dev and Market-1501."""
    from reidkit.verify import ReId

    reid = ReId()
    print(f"\n== pair verification with {reid.embedder.name} {reid.embedder.precision} "
          f"(p=0.5 at cosine {reid.threshold:.3f}) ==")
    q = root / "PKU-Reid-dev/query"
    pairs = []
    if q.is_dir():
        for pid in ("0021", "0022", "0023"):
            pairs.append((q / f"{pid}_c1s1_000001_00.png", q / f"{pid}_c2s1_000001_00.png", True))
        pairs.append((q / "0021_c1s1_000001_00.png", q / "0022_c2s1_000001_00.png", False))
        pairs.append((q / "0022_c1s1_000005_00.png", q / "0023_c2s1_000005_00.png", False))
    m = root / "market1501-samples/query"
    if m.is_dir():
        pairs.append((m / "0001_c1s1_001051_00.jpg", m / "0001_c6s1_009601_00.jpg", True))
    pairs = [p for p in pairs if p[0].is_file() and p[1].is_file()]
    if not pairs:
        print("no labelled crops found under REIDKIT_DATA; skipping")
        return
    probs = reid.predict([str(a) for a, _, _ in pairs], [str(b) for _, b, _ in pairs])
    right = 0
    for (a, b, same), p in zip(pairs, probs):
        verdict = "same" if p > 0.5 else "different"
        ok = (p > 0.5) == same
        right += ok
        print(f"  {a.parent.parent.name}/{a.name} vs {b.name}: p={p:.3f} -> {verdict:9s} "
              f"({'correct' if ok else 'WRONG'}; truth: {'same' if same else 'different'})")
    print(f"  {right}/{len(pairs)} verdicts correct")


def video_matching(video: Path, stride: int = 10) -> None:
    """Detect people in a real video and match each detection against the people seen before."""
    from reidkit.detect import Detector
    from reidkit.embed import Embedder
    from reidkit.preprocess import crop
    from reidkit.verify import ReId, logistic
    from reidkit.video import read_frames

    detector = Detector(confidence=0.6)
    reid = ReId(embedder=Embedder())
    print(f"\n== people in {video.name}: {detector.name} + {reid.embedder.name}, every {stride}th frame ==")
    gallery: list[np.ndarray] = []
    start = time.perf_counter()
    n = 0
    for index, frame in read_frames(video, stride=stride):
        n += 1
        dets = detector.detect(frame)
        crops = [crop(frame, box) for box in dets.xyxy if box[3] - box[1] > 40]
        if not crops:
            continue
        vectors = reid.embed(crops)
        for v in vectors:
            if gallery:
                probs = logistic(np.stack(gallery) @ v, reid.calibration)
                best = int(np.argmax(probs))
                if probs[best] > 0.5:
                    continue
            gallery.append(v)
            print(f"  frame {index:4d}: new person #{len(gallery)}")
    dt = time.perf_counter() - start
    print(f"  {len(gallery)} distinct people over {n} sampled frames ({n / dt:.1f} frames/s)")


def main() -> int:
    """Run the demo; exit code 2 with one line on a user-facing error."""
    root = data_root()
    try:
        if root is not None:
            verify_pairs(root)
        else:
            print("REIDKIT_DATA is not set: skipping the labelled-pair part of the demo")
        video_matching(sample_video(root))
    except ReidkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
