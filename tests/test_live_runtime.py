"""The live multi-camera runtime against real servers on loopback: an RTSP server (Debian's rtsp-server-perl fed by
ffmpeg) killed and restarted mid-run, a webhook receiver that goes away, a real MQTT broker (Debian's mosquitto),
four cameras stopped by SIGINT, and the live preview page in headless Chromium."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from live_servers import FFMPEG, RTSP_SERVER, RtspServer, free_port, sigint_default, wait_for

from reidkit.cli.main import main

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)


def playable(path: Path) -> tuple[int, int, int]:
    import cv2

    cap = cv2.VideoCapture(str(path))
    ok, frame = cap.read()
    cap.release()
    assert ok, f"{path} is not playable"
    return frame.shape


def mot_rows_ok(path: Path) -> list[str]:
    rows = path.read_text().splitlines()
    assert all(len(r.split(",")) == 10 for r in rows)
    return rows


@pytest.mark.skipif(RTSP_SERVER is None or FFMPEG is None, reason="rtsp-server-perl or ffmpeg missing (`make test`)")
def test_rtsp_stream_killed_and_restarted_mid_run(data_root, tmp_path, models_root):
    server = RtspServer(data_root / "PETS09-S2L1/vtest.mp4")
    server.start()
    out = tmp_path / "out"
    run = subprocess.Popen(
        [sys.executable, "-m", "reidkit.cli.main", "track", server.url, "-o", str(out), "--camera", "door"]
        + ["--max-frames", "60", "--no-attributes", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: (out / "door.txt").exists() and len((out / "door.txt").read_text()) > 500, 90, "tracking")
        server.kill()
        events = out / "events.jsonl"
        wait_for(lambda: "stream_lost" in events.read_text(), 30, "stream_lost")
        time.sleep(1.0)
        server.start(size="320x240")  # the camera comes back at another resolution
        stdout, stderr = run.communicate(timeout=120)
    finally:
        run.kill()
        server.kill()
    assert run.returncode == 0, stderr
    summary = json.loads(stdout)
    assert summary["sources"][0]["frames"] == 60
    kinds = [json.loads(line)["event"] for line in (out / "events.jsonl").read_text().splitlines()]
    assert kinds.index("stream_lost") < kinds.index("stream_restored")
    restored = next(json.loads(x) for x in (out / "events.jsonl").read_text().splitlines() if "stream_restored" in x)
    assert restored["gap_s"] > 0.5 and restored["camera"] == "door"
    rows = [[float(v) for v in r.split(",")] for r in mot_rows_ok(out / "door.txt")]
    late = [r for r in rows if r[0] >= restored["frame"]]
    assert late and all(r[2] + r[4] <= 321 and r[3] + r[5] <= 241 for r in late)  # in the new frames' pixels
    assert playable(out / "door.mp4") == (360, 480, 3)  # the video keeps its first size


class Receiver:
    """A webhook receiver that records POSTed JSON; `stop()` takes it off the network mid-run."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        received = self.events

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_webhook_receiver_going_down_never_blocks_tracking(data_root, tmp_path, capsys, models_root):
    video = str(data_root / "PETS09-S2L1/vtest.mp4")
    receiver = Receiver()
    stopper = threading.Thread(
        target=lambda: (wait_for(lambda: len(receiver.events) >= 3, 120, "webhook events"), receiver.stop())
    )
    stopper.start()
    args = ["track", video, "-o", str(tmp_path / "hook"), "--max-frames", "120", "--no-video", "--no-attributes"]
    start = time.perf_counter()
    code = main(args + ["--webhook", receiver.url, "--json"])
    took = time.perf_counter() - start
    stopper.join()
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and summary["sources"][0]["frames"] == 120
    assert summary["webhook"]["delivered"] >= 3 and summary["webhook"]["failed"] >= 1
    track_events = {"first_seen", "reidentified", "lost", "ended", "refound"}
    run_events = {"reassociated", "identity_merged", "identity_split"}
    assert {e["event"] for e in receiver.events} <= track_events | run_events
    # the same run without a webhook: the dead receiver cost at most the bounded wait at the end
    start = time.perf_counter()
    assert main(args[:3] + [str(tmp_path / "plain")] + args[4:]) == 0
    assert took < (time.perf_counter() - start) + 12


@pytest.mark.skipif(MOSQUITTO is None, reason="mosquitto is missing (`make test` installs Debian's)")
def test_events_arrive_at_a_real_mqtt_broker(data_root, tmp_path, capsys, models_root):
    import paho.mqtt.client as mqtt

    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    broker = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    got: list[tuple[str, dict]] = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_message = lambda c, u, m: got.append((m.topic, json.loads(m.payload)))
    try:
        deadline = time.time() + 10
        while True:
            try:
                client.connect("127.0.0.1", port)
                break
            except OSError:
                assert time.time() < deadline, "mosquitto did not start"
                time.sleep(0.2)
        client.subscribe("shop/#", qos=1)
        client.loop_start()
        video = str(data_root / "PETS09-S2L1/vtest.mp4")
        code = main(
            ["track", video, "-o", str(tmp_path / "out"), "--camera", "till", "--max-frames", "40", "--no-video"]
            + ["--no-attributes", "--mqtt", f"mqtt://127.0.0.1:{port}/shop", "--json", "--reassociate"]
        )
        summary = json.loads(capsys.readouterr().out)
        wait_for(lambda: len(got) >= summary["mqtt"]["published"], 10, "MQTT messages")
    finally:
        client.loop_stop()
        broker.terminate()
        broker.wait()
    logged = [json.loads(line) for line in (tmp_path / "out/events.jsonl").read_text().splitlines()]
    assert code == 0 and summary["mqtt"]["published"] == len(logged) > 0
    # the broker got every event as it was sent; the log was rewritten afterwards with the re-associated ids
    assert [m for _, m in got] == [as_sent(e) for e in logged]
    assert logged[-1]["event"] == "reassociated" and got[-1][0] == "shop/run/reassociated"
    assert all(topic == f"shop/till/{m['event']}" for topic, m in got[:-1])


def as_sent(event: dict) -> dict:
    """An event of a rewritten log as the online pass sent it: its online id, and its kind before re-association
    turned a first sighting into a re-identification (or back)."""
    event = dict(event)
    if "online_id" in event:
        event["id"] = event.pop("online_id")
        if event.pop("reassociated", False):
            event["event"] = {"first_seen": "reidentified", "reidentified": "first_seen"}[event["event"]]
    return event


def test_four_cameras_at_once_and_sigint_leaves_complete_outputs(data_root, tmp_path, models_root):
    video = str(data_root / "PETS09-S2L1/vtest.mp4")
    out = tmp_path / "out"
    names = ["north", "south", "east", "west"]
    cmd = [sys.executable, "-m", "reidkit.cli.main", "track", video, video, video, video, "-o", str(out)]
    for name in names:
        cmd += ["--camera", name]
    proc = subprocess.Popen(
        cmd + ["--no-attributes"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=sigint_default
    )
    try:
        wait_for(lambda: all((out / f"{n}.txt").exists() and (out / f"{n}.txt").stat().st_size for n in names), 90, "4")
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
    finally:
        proc.kill()
    frames = {}
    for name in names:
        rows = mot_rows_ok(out / f"{name}.txt")
        frames[name] = max(int(r.split(",")[0]) for r in rows)
        assert playable(out / f"{name}.mp4") == (360, 480, 3)
    # the cameras ran at the same time: each got about as far as the others
    assert max(frames.values()) - min(frames.values()) <= 3
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    # every camera's tracks reached the log; run-level events (re-association) name no camera
    assert {e["camera"] for e in events if "track" in e} == set(names)


def test_live_preview_in_chromium_shows_moving_boxes(data_root, tmp_path, models_root):
    from conftest import launch_chromium
    from playwright.sync_api import sync_playwright

    port = free_port()
    out = tmp_path / "out"
    video = str(data_root / "PETS09-S2L1/vtest.mp4")
    proc = subprocess.Popen(
        [sys.executable, "-m", "reidkit.cli.main", "track", video, "-o", str(out), "--camera", "lobby"]
        + ["--realtime", "--no-video", "--no-attributes", "--serve", str(port), "--max-frames", "400"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=sigint_default,
    )
    try:
        import urllib.request

        def snapshot_ready() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/snapshot/lobby.jpg", timeout=2) as r:
                    return r.status == 200
            except OSError:
                return False

        wait_for(snapshot_ready, 90, "the preview")
        with sync_playwright() as p:
            browser = launch_chromium(p)
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_function("document.querySelectorAll('#visible li').length > 0", timeout=30_000)
            image = page.locator("img[alt=lobby]")
            page.wait_for_function("document.querySelector('img[alt=lobby]').naturalWidth > 0", timeout=30_000)
            first = image.screenshot()
            time.sleep(1.5)
            second = image.screenshot()
            page.locator("#visible a").first.click()
            page.wait_for_function("document.getElementById('history').textContent.length > 0", timeout=10_000)
            history = page.locator("#history").text_content()
            browser.close()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    import cv2

    a = cv2.imdecode(np.frombuffer(first, np.uint8), cv2.IMREAD_COLOR).astype(np.int16)
    b = cv2.imdecode(np.frombuffer(second, np.uint8), cv2.IMREAD_COLOR).astype(np.int16)
    assert a.shape == b.shape and np.abs(a - b).mean() > 0.5  # the picture moves
    # boxes are drawn in saturated identity colours, which PETS09's grey-green scene does not have
    hsv = cv2.cvtColor(b.astype(np.uint8), cv2.COLOR_BGR2HSV)
    assert ((hsv[..., 1] > 180) & (hsv[..., 2] > 180)).sum() > 200
    assert "first_seen" in history or "reidentified" in history


def test_bad_runtime_options_are_one_line_errors(data_root, tmp_path, capsys, models_root):
    video = str(data_root / "PETS09-S2L1/vtest.mp4")
    layout = tmp_path / "cameras.toml"
    layout.write_text('[[camera]]\nname = "lobby"\n')
    base = ["track", video, "-o", str(tmp_path / "out"), "--no-video", "--max-frames", "2"]
    cases = [
        (["--webhook", "ftp://x/y"], "--webhook needs an http"),
        (["--mqtt", "http://broker"], "--mqtt needs a URL like mqtt://"),
        (["--serve", "port80"], "--serve needs PORT or HOST:PORT"),
        (["--cameras", str(layout)], "camera 'lobby' of the cameras file is not one of this run's cameras"),
        (["--cameras", str(tmp_path / "none.toml")], "cameras file not found"),
        (["--ray", "--webhook", "http://x/y"], "--webhook does not work with --ray"),
        (["--ray", f"127.0.0.1:{free_port()}"], "no Ray cluster answers at 127.0.0.1:"),
    ]
    for extra, words in cases:
        code = main(base + extra)
        err = capsys.readouterr().err
        assert code == 2 and words in err and len(err.strip().splitlines()) == 1, (extra, err)
    assert main(["track", "-o", str(tmp_path / "x")]) == 2
    assert "give at least one SOURCE" in capsys.readouterr().err


def test_serve_with_track_fills_the_gallery_and_shows_it_live(data_root, tmp_path, models_root):
    import urllib.request

    from conftest import launch_chromium
    from playwright.sync_api import sync_playwright

    port = free_port()
    video = str(data_root / "PETS09-S2L1/vtest.mp4")
    proc = subprocess.Popen(
        [sys.executable, "-m", "reidkit.cli.main", "serve", "--db", str(tmp_path / "g.db"), "--port", str(port)]
        + ["--track", video, "--track-output", str(tmp_path / "live")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=sigint_default,
    )
    base = f"http://127.0.0.1:{port}"

    def get(path: str):
        with urllib.request.urlopen(base + path, timeout=5) as r:
            return json.loads(r.read())

    def linked() -> list:
        try:
            return [p for people in get("/live/identities.json").values() for p in people if p["gallery"]]
        except OSError:
            return []

    try:
        wait_for(lambda: linked(), 120, "people stored in the gallery")
        person = linked()[0]
        history = get(f"/identities/{person['gallery']}")
        assert history["name"] == f"person-{person['id']}" and history["sightings"]
        assert get(f"/live/history/{person['id']}.json")  # this run's events of the person
        report = get("/report.json")  # the Report tab: the live run's site report, read while it is written
        assert report["cameras"] == ["vtest"] and report["visitors"]["total"] >= 1
        with sync_playwright() as p:
            browser = launch_chromium(p)
            page = browser.new_page()
            page.goto(base + "/live")
            page.wait_for_function("document.querySelectorAll('#visible a.gallery').length > 0", timeout=30_000)
            page.wait_for_function("document.querySelector('img').naturalWidth > 0", timeout=30_000)
            href = page.locator("#visible a.gallery").first.get_attribute("href")
            browser.close()
        assert href.startswith("/identities/")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    from reidkit.gallery import open_gallery

    with open_gallery(tmp_path / "g.db", read_only=True) as store:
        actions = {e.action for e in store.audit()}
    assert {"view", "history"} <= actions  # looking at a person is in the audit log
