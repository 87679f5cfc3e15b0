"""Speed of the multi-camera runtime on this machine, every figure against a reference measured in the same run.

1. Four concurrent file sources (PETS09-S2L1, 480×360, `--max-frames N` each): end-to-end frames/s of
   `run_videos` against the models' own ceiling (the detector and the re-id model alone on the same frames, run
   the way the runtime runs them: detection of one frame per camera as parallel requests, the batch's crops in
   one embedding call) and against the cameras tracked one after another (the runtime before).
2. The cost-cutting options for real time (INT8 detector, detecting every N-th frame): frames/s, and the
   cross-camera IDF1 on the PETS09 overlapping split against the full-cost run.
3. Real time: four cameras paced at 10 frames/s each (`--realtime`): frames processed vs dropped, latency.
4. One live camera at 10 frames/s from ffmpeg's HTTP server: frame-to-event latency p50 / p95.

    python benchmarks/live_speed.py [--frames 200]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cli_json as quiet  # noqa: E402
from common import data_root, machine  # noqa: E402

from reidkit.pipeline import Pipeline, PipelineConfig, run_videos  # noqa: E402
from reidkit.preprocess import crop  # noqa: E402
from reidkit.video import read_frames  # noqa: E402


def ceiling(frames: list, cameras: int, precision: str | None = None) -> float:
    """Frames/s of the two models alone, batched as the runtime batches them."""
    p = Pipeline(PipelineConfig(detector_precision=precision))
    p.embed(frames[0], p.detect(frames[0]))  # compile
    p.detector.detect_batch(frames[:cameras])
    start = time.perf_counter()
    for k in range(0, len(frames), cameras):
        batch = frames[k : k + cameras]
        dets = p.detector.detect_batch(batch)
        crops = [crop(f, b) for f, d in zip(batch, dets) for b in d.xyxy[d.confidence >= 0.5]]
        if crops:
            p.embedder.embed(crops)
    return len(frames) / (time.perf_counter() - start)


def sequential(video: Path, cameras: int, n: int) -> float:
    """Frames/s of the cameras tracked one after another through one pipeline (the runtime before)."""
    p = Pipeline(PipelineConfig())
    start = time.perf_counter()
    count = 0
    for c in range(cameras):
        frames = ((i, f) for i, f in read_frames(video, limit=n))
        for _ in p.process(frames, f"cam{c}", 10.0):
            count += 1
    return count / (time.perf_counter() - start)


def processes(video: Path, cameras: int, n: int, out: Path) -> float:
    """Frames/s of one `reidkit track` process per camera, all at once (model loading excluded: each process
    reports its own tracking time; the slowest one sets the pace)."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "reidkit.cli.main", "track", str(video), "-o", str(out / f"p{c}"), "--camera"]
            + [f"cam{c}", "--max-frames", str(n), "--no-video", "--no-attributes", "--json"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for c in range(cameras)
    ]
    results = [json.loads(p.communicate()[0]) for p in procs]
    return cameras * n / max(r["seconds"] for r in results)


def concurrent(video: Path, cameras: int, n: int, out: Path, **config) -> dict:
    return run_videos(
        [video] * cameras,
        out,
        PipelineConfig(**config),
        cameras=[f"cam{c}" for c in range(cameras)],
        write_video=False,
        progress=False,
        attributes=False,
        max_frames=n,
    )


def mtmc(tmp: Path, extra: list[str]) -> float:
    seq = data_root() / "PETS09-S2L1"
    d = tmp / "split"
    if not (d / "cameras.toml").exists():
        quiet(
            "data",
            "split-views",
            seq / "vtest.mp4",
            seq / "gt/gt.txt",
            "-o",
            d,
            "--views",
            "0:0.6,0.4:1",
            "--scale",
            "0.625",
        )
    out = tmp / ("mtmc" + "".join(extra).replace("-", "_"))
    quiet(
        "track",
        d / "view1.mp4",
        d / "view2.mp4",
        "-o",
        out,
        "--no-video",
        "--no-attributes",
        "--cameras",
        d / "cameras.toml",
        *extra,
    )
    return quiet("eval", "mtmc", "--pred", out, "--gt", d / "gt")["cross_camera"]["IDF1"]


def live_latency(video: Path, tmp: Path, seconds: float = 30.0) -> dict | None:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        return None
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [ffmpeg, "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", str(video), "-an", "-r", "10"]
        + ["-c:v", "mpeg4", "-q:v", "5", "-f", "mpegts", "-listen", "1", f"http://127.0.0.1:{port}/live.ts"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(1.0)
        summary = run_videos(
            [f"http://127.0.0.1:{port}/live.ts"],
            tmp / "live",
            PipelineConfig(),
            cameras=["live"],
            write_video=False,
            progress=False,
            max_frames=int(seconds * 10),
        )
    finally:
        server.kill()
    return summary["sources"][0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=200, help="frames per camera")
    args = parser.parse_args()
    n, cams = args.frames, 4
    video = data_root() / "PETS09-S2L1/vtest.mp4"
    print(f"machine: {machine()}\n")
    frames = [f for _, f in read_frames(video, limit=n)] * cams
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        print("### 1. Four concurrent file sources\n")
        top = ceiling(frames, cams)
        seq = sequential(video, cams, n)
        procs = processes(video, cams, n, tmp)
        s = concurrent(video, cams, n, tmp / "c1")
        e2e = s["frames_per_second"]
        print("| run | frames/s (4 cameras together) | × ceiling |\n|---|---|---|")
        print(f"| models alone (ceiling) | {top:.1f} | 1.00 |")
        print(f"| cameras one after another (before) | {seq:.1f} | {seq / top:.2f} |")
        print(f"| one process per camera, all at once | {procs:.1f} | {procs / top:.2f} |")
        print(f"| all at once (`reidkit track` × 4) | {e2e:.1f} | {e2e / top:.2f} |", flush=True)

        print("\n### 2. Cost-cutting options (4 cameras; IDF1: PETS09 overlapping split, cameras.toml)\n")
        full_idf1 = mtmc(tmp, [])
        print(
            "| option | frames/s | × ceiling (FP32, every frame) | cross-camera IDF1 | Δ IDF1 |\n|---|---|---|---|---|"
        )
        print(f"| full cost | {e2e:.1f} | {e2e / top:.2f} | {full_idf1:.3f} | — |", flush=True)
        options = [
            ("INT8 detector", {"detector_precision": "FP16-INT8"}, ["--detector-precision", "FP16-INT8"]),
            ("detect every 2nd frame", {"detect_every": 2}, ["--detect-every", "2"]),
            (
                "INT8 + every 2nd frame",
                {"detector_precision": "FP16-INT8", "detect_every": 2},
                ["--detector-precision", "FP16-INT8", "--detect-every", "2"],
            ),
            ("detect every 3rd frame", {"detect_every": 3}, ["--detect-every", "3"]),
        ]
        for label, config, flags in options:
            rate = concurrent(video, cams, n, tmp / label.replace(" ", "_"), **config)["frames_per_second"]
            idf1 = mtmc(tmp, flags)
            print(f"| {label} | {rate:.1f} | {rate / top:.2f} | {idf1:.3f} | {idf1 - full_idf1:+.3f} |", flush=True)

        print("\n### 3. Four cameras paced at 10 frames/s each (`--realtime`)\n")
        print("| option | processed | dropped | processed share | latency p95 ms |\n|---|---|---|---|---|")
        for label, flags in (
            ("full cost", []),
            ("INT8 + every 2nd frame", ["--detector-precision", "FP16-INT8", "--detect-every", "2"]),
        ):
            out = tmp / ("rt" + label.replace(" ", "_"))
            r = quiet("track", *[video] * cams, "-o", out, "--no-video", "--no-attributes", "--realtime", *flags)
            done = sum(x["frames"] for x in r["sources"])
            dropped = sum(x["dropped"] for x in r["sources"])
            p95 = max(x.get("latency_ms_p95", 0) for x in r["sources"])
            print(f"| {label} | {done} | {dropped} | {done / max(done + dropped, 1):.2f} | {p95:.0f} |", flush=True)

        print("\n### 4. One live camera at 10 frames/s (ffmpeg HTTP server, MPEG-TS)\n")
        live = live_latency(video, tmp)
        if live is None:
            print("ffmpeg missing: skipped")
        else:
            print(
                f"{live['frames']} frames, {live['dropped']} dropped; frame-to-event latency p50 "
                f"{live['latency_ms_p50']} ms, p95 {live['latency_ms_p95']} ms"
            )


if __name__ == "__main__":
    main()
