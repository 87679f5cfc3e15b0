"""Soak: the service under load for a long time. Four live RTSP streams tracked into the gallery by
`reidkit serve --track` (each stream cut twice for 15 s and restarted), 20 concurrent search clients and one
writer enrolling people, through the real HTTP API with keys. Reports the p50/p95 search latency, errors, the
service's memory (RSS) over the run, and whether any stored sighting or enrolment was lost.

    python benchmarks/soak.py [--minutes 10] [--clients 20] [--streams 4]

Needs ffmpeg and rtsp-server-perl (`make test` installs them).
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from common import data_root, machine, pets_crops  # noqa: E402
from live_servers import FFMPEG, RTSP_SERVER, RtspServer, free_port, wait_for  # noqa: E402

from reidkit.service.auth import add_key  # noqa: E402


def multipart(fields: dict, files: dict) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, data) in files.items():
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
        parts.append(head.encode() + b"Content-Type: image/png\r\n\r\n" + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


class Client:
    def __init__(self, base: str, key: str) -> None:
        self.base, self.key = base, key

    def call(self, method: str, path: str, fields=None, files=None, timeout: float = 120.0):
        data, ctype = multipart(fields or {}, files or {}) if (fields or files) else (None, None)
        req = urllib.request.Request(self.base + path, data=data, method=method, headers={"X-API-Key": self.key})
        if ctype:
            req.add_header("Content-Type", ctype)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, {}
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            return 0, {"error": str(exc)}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def crops_png(n: int) -> list[bytes]:
    import cv2

    return [cv2.imencode(".png", c)[1].tobytes() for c in pets_crops(n, min_height=40)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--outages", type=int, default=2, help="Cuts of 15 s per stream.")
    args = parser.parse_args()
    if RTSP_SERVER is None or FFMPEG is None:
        raise SystemExit("needs ffmpeg and rtsp-server-perl (make test installs them)")
    print(f"machine: {machine()}\n")
    duration = args.minutes * 60
    video = data_root() / "PETS09-S2L1" / "vtest.mp4"
    crops = crops_png(60)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        keys = tmp / "keys.toml"
        viewer, admin = add_key(keys, "searcher", "viewer"), add_key(keys, "writer", "admin")
        streams = [RtspServer(video, f"cam{k + 1}") for k in range(args.streams)]
        for s in streams:
            s.start()
        time.sleep(2)
        port = free_port()
        cmd = [sys.executable, "-m", "reidkit.cli.main", "serve", "--db", str(tmp / "soak.db"), "--keys", str(keys)]
        cmd += ["--port", str(port), "--track-output", str(tmp / "live")]
        for s in streams:
            cmd += ["--track", s.url]
        service = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(tmp / "service.log", "w"))
        base = f"http://127.0.0.1:{port}"
        searcher, writer = Client(base, viewer), Client(base, admin)
        try:
            wait_for(lambda: searcher.call("GET", "/healthz")[0] == 200, 180, "the service")
            status, body = writer.call("POST", "/gallery/enroll", {"name": "warm-up"}, {"image": ("a.png", crops[0])})
            assert status == 200, (status, body, (tmp / "service.log").read_text()[-2000:])
            result = run(args, duration, streams, service.pid, searcher, writer, crops)
        finally:
            service.send_signal(signal.SIGINT)
            try:
                service.wait(60)
            except subprocess.TimeoutExpired:
                service.kill()
            for s in streams:
                s.kill()
        report(args, result, tmp)


def run(args, duration, streams, pid, searcher: Client, writer: Client, crops) -> dict:
    stop = threading.Event()
    latencies, statuses, enrolled, samples = [], {}, [], []
    lock = threading.Lock()

    def search_loop(k: int) -> None:
        i = k
        while not stop.is_set():
            started = time.perf_counter()
            status, _ = searcher.call(
                "POST", "/gallery/search", {"k": "5"}, {"image": ("q.png", crops[i % len(crops)])}
            )
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                if status == 200:
                    latencies.append(time.perf_counter() - started)
            i += args.clients

    def write_loop() -> None:
        i = 0
        while not stop.wait(2.0):
            status, body = writer.call(
                "POST", "/gallery/enroll", {"name": f"p{i}"}, {"image": ("e.png", crops[i % len(crops)])}
            )
            if status == 200:
                enrolled.append(body["identity"])
            i += 1

    def outage_loop() -> None:
        plan = sorted(
            (duration * (0.2 + 0.6 * j / max(1, args.outages - 1)) + 7 * k, k)
            for k in range(len(streams))
            for j in range(args.outages)
        )
        t0 = time.monotonic()
        for at, k in plan:
            if stop.wait(max(0.0, at - (time.monotonic() - t0))):
                return
            streams[k].kill()
            if stop.wait(15):
                return
            streams[k].start()

    threads = [threading.Thread(target=search_loop, args=(k,), daemon=True) for k in range(args.clients)]
    threads += [threading.Thread(target=write_loop, daemon=True), threading.Thread(target=outage_loop, daemon=True)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    while time.monotonic() - t0 < duration:
        _, health = writer.call("GET", "/healthz", timeout=30)
        samples.append((time.monotonic() - t0, rss_mb(pid), health.get("sightings")))
        time.sleep(10)
    stop.set()
    for t in threads:
        t.join(150)
    _, listing = writer.call("GET", "/identities", timeout=60)
    present = {i["id"] for i in listing.get("identities", [])}
    _, health = writer.call("GET", "/healthz", timeout=30)
    return {
        "latencies": np.array(latencies),
        "statuses": statuses,
        "enrolled": enrolled,
        "missing_enrolments": [i for i in enrolled if i not in present],
        "samples": samples,
        "final_sightings": health.get("sightings"),
    }


def report(args, r: dict, tmp: Path) -> None:
    lat = r["latencies"] * 1000
    samples = [s for s in r["samples"] if s[2] is not None]
    counts = [s[2] for s in samples]
    drops = sum(1 for a, b in zip(counts, counts[1:]) if b < a)
    warm = [s for s in r["samples"] if s[0] >= 120] or r["samples"]
    t, rss = np.array([s[0] for s in warm]), np.array([s[1] for s in warm])
    slope = float(np.polyfit(t, rss, 1)[0] * 3600) if len(t) > 2 else float("nan")
    events = (
        [json.loads(line) for line in (tmp / "live" / "events.jsonl").read_text().splitlines() if line.strip()]
        if (tmp / "live" / "events.jsonl").is_file()
        else []
    )
    lost = sum(e["event"] == "stream_lost" for e in events)
    restored = sum(e["event"] == "stream_restored" for e in events)
    print(
        f"{args.streams} live streams for {args.minutes:g} min, {args.outages} outages of 15 s each, "
        f"{args.clients} search clients, 1 writer (an enrolment every 2 s)\n"
    )
    print("| measure | value |\n|---|---|")
    print(f"| searches answered | {len(lat)} ({len(lat) / (args.minutes * 60):.1f}/s) |")
    print(
        f"| search latency p50 / p95 / p99 | {np.percentile(lat, 50):.0f} / {np.percentile(lat, 95):.0f} / "
        f"{np.percentile(lat, 99):.0f} ms |"
    )
    print(f"| answers by status | {dict(sorted(r['statuses'].items()))} |")
    print(f"| enrolments / missing at the end | {len(r['enrolled'])} / {len(r['missing_enrolments'])} |")
    print(f"| sightings stored (end) / times the count went down | {r['final_sightings']} / {drops} |")
    print(f"| stream_lost / stream_restored events | {lost} / {restored} |")
    print(f"| service RSS after 2 min / at the end | {rss[0]:.0f} / {rss[-1]:.0f} MB |")
    print(f"| RSS trend after warm-up | {slope:+.0f} MB/hour |")


if __name__ == "__main__":
    main()
