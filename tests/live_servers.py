"""Real servers on loopback for the live tests and the soak benchmark: free ports, waiting, and an RTSP
stream (Debian's rtsp-server-perl fed by ffmpeg) that can be killed and restarted."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

FFMPEG = shutil.which("ffmpeg")
RTSP_SERVER = shutil.which("rtsp-server-perl")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sigint_default() -> None:
    """Popen(preexec_fn=...) for a child a test stops with SIGINT: a runner started in the background (`cmd &`)
    ignores SIGINT, and a child would inherit that and never see the Ctrl-C the test sends."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


class RtspServer:
    """rtsp-server-perl on two loopback ports, fed by ffmpeg pushing a video in a loop at its own pace."""

    def __init__(self, video: Path, name: str = "pets") -> None:
        self.video, self.name = video, name
        self.client_port, self.source_port = free_port(), free_port()
        self.procs: list[subprocess.Popen] = []

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.client_port}/{self.name}"

    def start(self, size: str | None = None) -> None:
        server = subprocess.Popen(
            [
                RTSP_SERVER,
                "--clientport",
                str(self.client_port),
                "--serverport",
                str(self.source_port),
                "--client_listen_address",
                "127.0.0.1",
                "--source_listen_address",
                "127.0.0.1",
                "--loglevel",
                "1",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        push = subprocess.Popen(
            [FFMPEG, "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", str(self.video), "-an"]
            + (["-s", size] if size else [])
            + [
                "-c:v",
                "mpeg4",
                "-q:v",
                "5",
                "-g",
                "10",
                "-f",
                "rtsp",
                f"rtsp://127.0.0.1:{self.source_port}/{self.name}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.procs = [server, push]

    def kill(self) -> None:
        for p in self.procs:
            p.kill()
            p.wait()
        self.procs = []
