"""`make demo`: an end-to-end run on real images and video from REIDKIT_DATA (or a public sample)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

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
    print(
        f"\n== pair verification with {reid.embedder.name} {reid.embedder.precision} "
        f"(p=0.5 at cosine {reid.threshold:.3f}) =="
    )
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
        print(
            f"  {a.parent.parent.name}/{a.name} vs {b.name}: p={p:.3f} -> {verdict:9s} "
            f"({'correct' if ok else 'WRONG'}; truth: {'same' if same else 'different'})"
        )
    print(f"  {right}/{len(pairs)} verdicts correct")


def video_tracking(video: Path, out_dir: Path = Path("demo-output")) -> None:
    """The full video pipeline on a real video: detect, track, re-identify; outputs written to out_dir."""
    import json

    from reidkit.pipeline import PipelineConfig, run_videos

    print(f"\n== tracking people in {video.name} (every 2nd frame) -> {out_dir}/ ==")
    summary = run_videos([video], out_dir, PipelineConfig(stride=2), progress=False)
    source = summary["sources"][0]
    for line in (out_dir / "events.jsonl").read_text().splitlines():
        event = json.loads(line)
        if event["event"] in ("first_seen", "reidentified"):
            extra = f" (p={event['probability']:.2f})" if event["event"] == "reidentified" else ""
            print(f"  {event['time_s']:6.1f} s  person {event['id']}: {event['event'].replace('_', ' ')}{extra}")
    print(
        f"  {summary['identities']} people; {source['frames']} frames at {source['fps']:.1f} frames/s; "
        f"annotated video {out_dir / (source['camera'] + '.mp4')}, tracks {source['results']}"
    )


def verify_faces(root: Path) -> None:
    """Face verification on two real pairs labelled in deepface-pairs/master.csv."""
    from reidkit.faces import FaceReId

    pairs_dir = root / "faces/deepface-pairs"
    if not pairs_dir.is_dir():
        return
    faces = FaceReId()
    print("\n== face verification (detect, align on 5 landmarks, embed) ==")
    for a, b, truth in (("img1.jpg", "img2.jpg", "same"), ("img1.jpg", "img20.jpg", "different")):
        p = faces.predict(str(pairs_dir / a), str(pairs_dir / b))
        print(f"  {a} vs {b}: p={p:.3f} -> {'same' if p > 0.5 else 'different'} (truth: {truth})")


def analyse_faces(root: Path) -> None:
    """Face analysis with liveness on the anti-spoofing samples: one real face, two printed or replayed ones."""
    from reidkit.faces.analysis import FaceAnalysis

    samples = root / "faces/antispoof-samples"
    if not samples.is_dir():
        return
    analysis = FaceAnalysis()
    print("\n== face analysis: age, gender, liveness (anti-spoofing) ==")
    for path in sorted(samples.glob("*.jpg")):
        for face in analysis.analyze(str(path))[:1]:
            live = face.liveness
            verdict = f"{'live' if live.real else 'SPOOF'} (P(real) {live.score:.2f})" if live else "not judged"
            truth = "real" if "_T" in path.name else "fake"
            print(f"  {path.name}: {face.gender}, about {face.age:.0f} years, {verdict} (truth: {truth})")


def fine_tune(root: Path, out_dir: Path = Path("demo-output")) -> None:
    """One epoch of fine-tuning OMZ 0267 on PKU-Reid-dev's training ids, exported and re-scored through OpenVINO."""
    import importlib.util
    import shutil

    from reidkit.models.catalog import default_model
    from reidkit.models.store import ModelStore

    data = root / "PKU-Reid-dev"
    if importlib.util.find_spec("torch") is None or not data.is_dir():
        print("\n(fine-tuning skipped: needs the train extra and PKU-Reid-dev)")
        return
    from reidkit.evaluation import evaluate_reid
    from reidkit.train.config import TrainConfig
    from reidkit.train.export import export_run
    from reidkit.train.loop import train

    init = ModelStore().resolve(default_model("person-reid-trainable")).path
    run = out_dir / "finetune-0267"
    shutil.rmtree(run, ignore_errors=True)
    print(f"\n== fine-tuning {init.name} for 1 epoch on {data.name}'s 20 training ids -> {run}/ ==")
    rows = train(
        TrainConfig(data=str(data), out=str(run), init=str(init), epochs=1),
        progress=False,
        log=lambda m: print(f"  {m}"),
    ).rows
    exported = export_run(run, "openvino")
    score = evaluate_reid(data, [str(exported.path)]).result
    print(
        f"  exported {exported.path} (cosine to PyTorch {exported.min_cosine:.4f}); through OpenVINO on the "
        f"24 unseen test ids: rank-1 {rows[0]['rank1']:.3f} -> {score.rank(1):.3f}, "
        f"mAP {rows[0]['mAP']:.3f} -> {score.mAP:.3f}"
    )


def main() -> int:
    """Run the demo; exit code 2 with one line on a user-facing error."""
    root = data_root()
    try:
        if root is not None:
            verify_pairs(root)
            verify_faces(root)
            analyse_faces(root)
        else:
            print("REIDKIT_DATA is not set: skipping the labelled-pair parts of the demo")
        video_tracking(sample_video(root))
        if root is not None:
            fine_tune(root)
    except ReidkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
