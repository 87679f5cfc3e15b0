"""Live sources against a real stream server: ffmpeg's own HTTP server (`-listen 1`, MPEG-TS) on loopback, killed
mid-stream and restarted; a stream that never comes up gives a clear error after --max-retries."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from live_servers import sigint_default

from reidkit.cli.main import main
from reidkit.sources import LiveSource, backoff_delays, is_live

FFMPEG = shutil.which("ffmpeg")
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None, reason="ffmpeg is missing (`make test` installs Debian's ffmpeg)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(video: Path, port: int) -> subprocess.Popen:
    """ffmpeg streaming `video` in a loop at its own pace as MPEG-TS over HTTP, to one client."""
    return subprocess.Popen(
        [
            FFMPEG,
            "-loglevel",
            "error",
            "-re",
            "-stream_loop",
            "-1",
            "-i",
            str(video),
            "-an",
            "-r",
            "25",
            "-c:v",
            "mpeg1video",
            "-q:v",
            "5",
            "-f",
            "mpegts",
            "-listen",
            "1",
            f"http://127.0.0.1:{port}/feed.ts",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_live_urls_and_backoff():
    assert is_live("rtsp://cam/1") and is_live("https://x/y.m3u8") and is_live("0")
    assert not is_live("video.mp4") and not is_live("frames/")
    delays = backoff_delays()
    assert [next(delays) for _ in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]


@needs_ffmpeg
def test_stream_lost_and_restored(data_root):
    video = data_root / "PETS09-S2L1/vtest.mp4"
    port = free_port()
    server = serve(video, port)
    source = LiveSource(f"http://127.0.0.1:{port}/feed.ts", open_timeout=2, read_timeout=2, first_delay=0.2)
    try:
        frames = iter(source)
        first = [next(frames) for _ in range(10)]
        assert first[0][1].shape == (360, 480, 3)
        server.kill()
        server.wait()
        deadline = time.time() + 15
        while not any(e["event"] == "stream_lost" for e in source._events) and time.time() < deadline:
            time.sleep(0.1)
        server = serve(video, port)
        later = [next(frames) for _ in range(10)]  # frames flow again after the reconnection
        assert later[-1][0] > first[-1][0]
        kinds = [e["event"] for e in source.events()]
        assert kinds[:2] == ["stream_lost", "stream_restored"]
    finally:
        source.close()
        server.kill()


@needs_ffmpeg
def test_track_a_stream_that_drops_and_one_that_never_comes_up(data_root, tmp_path, capsys, models_root):
    port = free_port()
    code = main(["track", f"http://127.0.0.1:{port}/none.ts", "-o", str(tmp_path / "none"), "--max-retries", "2"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot open stream" in err and len(err.strip().splitlines()) == 1
    server = serve(data_root / "PETS09-S2L1/vtest.mp4", port)
    try:
        code = main(
            [
                "track",
                f"http://127.0.0.1:{port}/feed.ts",
                "-o",
                str(tmp_path / "live"),
                "--camera",
                "gate",
                "--max-frames",
                "40",
                "--no-attributes",
                "--json",
            ]
        )
        summary = json.loads(capsys.readouterr().out)
    finally:
        server.kill()
    assert code == 0 and summary["sources"][0]["frames"] == 40
    rows = (tmp_path / "live/gate.txt").read_text().splitlines()
    assert rows and (tmp_path / "live/gate.mp4").stat().st_size > 10_000


def test_ctrl_c_leaves_playable_video_and_complete_results(data_root, tmp_path, models_root):
    import signal
    import sys

    import cv2

    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reidkit.cli.main",
            "track",
            str(data_root / "PETS09-S2L1/vtest.mp4"),
            "-o",
            str(out),
            "--no-attributes",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=sigint_default,
    )
    deadline = time.time() + 60
    while not (out / "events.jsonl").exists() or (out / "events.jsonl").stat().st_size == 0:
        assert time.time() < deadline and proc.poll() is None, "tracking did not start"
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    rows = (out / "vtest.txt").read_text().splitlines()
    assert rows and all(len(r.split(",")) == 10 for r in rows)
    assert all(json.loads(line) for line in (out / "events.jsonl").read_text().splitlines())
    cap = cv2.VideoCapture(str(out / "vtest.mp4"))
    ok, frame = cap.read()
    cap.release()
    assert ok and frame.shape == (360, 480, 3)


@needs_ffmpeg
def test_http_mjpeg_stream(data_root):
    port = free_port()
    server = subprocess.Popen(
        [FFMPEG, "-loglevel", "error", "-re", "-i", str(data_root / "PETS09-S2L1/vtest.mp4"), "-an"]
        + ["-c:v", "mjpeg", "-q:v", "5", "-f", "mpjpeg", "-listen", "1", f"http://127.0.0.1:{port}/feed.mjpg"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    source = LiveSource(f"http://127.0.0.1:{port}/feed.mjpg", open_timeout=3, read_timeout=3, first_delay=0.2)
    try:
        frames = iter(source)
        got = [next(frames) for _ in range(5)]
    finally:
        source.close()
        server.kill()
    assert got[-1][1].shape == (360, 480, 3) and got[-1][0] > got[0][0]
