"""Scale-out on a real Ray cluster on this machine: a two-node cluster indexing videos into PostgreSQL loses a node
mid-job and still stores every sighting exactly once; tracking on Ray matches the file format and the single-process
quality; a camera actor killed mid-stream comes back and its people keep their global ids."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="Ray is missing (`make test` installs reidkit[ray])")

from reidkit.gallery import open_gallery  # noqa: E402

FFMPEG = shutil.which("ffmpeg")
# Nodes of a test cluster run on this machine only; Ray names them by this machine's own address (it rewrites
# 127.0.0.1 to it when connecting), so no node_ip_address is forced.
RAY_NODE = {"include_dashboard": False}


@pytest.fixture
def videos(data_root, tmp_path) -> list[Path]:
    """Two copies of PETS09 under different names, and a corrupt video."""
    folder = tmp_path / "footage"
    folder.mkdir()
    for name in ("gate", "hall"):
        (folder / f"{name}.mp4").symlink_to(data_root / "PETS09-S2L1/vtest.mp4")
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(5000))
    return sorted(folder.iterdir())


def test_two_node_index_survives_losing_a_node(videos, tmp_path, pg_url, models_root, capsys):
    from conftest import pg_database
    from ray.cluster_utils import Cluster

    from reidkit.cli.main import main
    from reidkit.scale.ray_jobs import ray_index

    single = pg_database(pg_url)
    assert main(["gallery", "--db", single, "index", *map(str, videos), "--stride", "20", "--json"]) == 0
    capsys.readouterr()

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, **RAY_NODE})
    worker = cluster.add_node(num_cpus=1, **RAY_NODE)
    ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False)
    db = pg_database(pg_url)
    result: dict = {}
    try:
        job = threading.Thread(
            target=lambda: result.update(ray_index(videos, db, stride=20, segment_s=16, workers=2, progress=False))
        )
        job.start()

        def stored() -> int:
            try:
                with open_gallery(db, read_only=True) as store:
                    return store.count()
            except Exception:
                return 0

        deadline = time.time() + 120
        while stored() == 0:
            assert time.time() < deadline and job.is_alive(), "no segment finished"
            time.sleep(0.3)
        cluster.remove_node(worker)  # a machine goes away mid-job
        job.join(timeout=300)
        assert not job.is_alive()
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert result["retried"] >= 1  # the lost node's segments ran again elsewhere
    assert [s["file"] for s in result["skipped"]] == [str(videos[0])], result["skipped"]  # broken.mp4, by name
    assert "broken.mp4" in result["skipped"][0]["file"]
    with open_gallery(single, read_only=True) as a, open_gallery(db, read_only=True) as b:
        assert a.count() == b.count() == result["sightings"] > 0
        q = np.zeros(a.dim, np.float32)
        q[0] = 1.0
        model = a.model_of("person")
        ra, rb = a.search(q, model, k=10), b.search(q, model, k=10)
        # the same sightings in the same order (gate.mp4 and hall.mp4 are the same footage: their twins tie, so
        # which file comes first is open), scores equal up to inference arithmetic
        assert ranked(ra) == ranked(rb)
        assert np.allclose([m.score for m in ra], [m.score for m in rb], atol=5e-3)


def ranked(matches) -> list:
    out = []
    for m in matches:
        key = (m.sighting.frame, tuple(m.sighting.box))
        if not out or out[-1] != key:
            out.append(key)
    return out


def test_track_on_ray_matches_the_single_process_format(data_root, tmp_path, capsys, models_root):
    from reidkit.cli.main import main

    video = str(data_root / "PETS09-S2L1/vtest.mp4")
    gt = str(data_root / "PETS09-S2L1/gt/gt.txt")
    out = tmp_path / "ray"
    cameras = tmp_path / "cameras.toml"  # a zone over the left third of the picture, a line down its middle
    cameras.write_text(
        '[[camera]]\nname = "pets"\n[[camera.zone]]\nname = "left"\n'
        "polygon = [[0, 0], [160, 0], [160, 360], [0, 360]]\n"
        '[[camera.line]]\nname = "middle"\npoints = [[240, 0], [240, 360]]\n'
    )
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        args = ["track", video, "-o", str(out), "--ray", "--segment-s", "25", "--camera", "pets"]
        code = main([*args, "--cameras", str(cameras), "--json"])
    finally:
        ray.shutdown()
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and summary["segments"] == 4 and summary["frames"] == 795
    rows = (out / "pets.txt").read_text().splitlines()
    assert rows and all(len(r.split(",")) == 10 for r in rows)
    frames = np.loadtxt(out / "pets.txt", delimiter=",")[:, 0]
    assert frames.min() >= 1 and frames.max() <= 795 and np.all(np.diff(frames) >= 0)
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert {e["event"] for e in events} >= {"first_seen", "ended"}
    # re-associated as a single-machine run of files is: the MOT file and the event log carry the final ids
    assert events[-1]["event"] == "reassociated" and summary["reassociation"]["identities"] == summary["identities"]
    assert summary["identities"] <= summary["online_identities"]
    mot_ids = set(np.loadtxt(out / "pets.txt", delimiter=",")[:, 1].astype(int).tolist())
    assert mot_ids == {e["id"] for e in events if e["event"] == "first_seen"} and len(mot_ids) == summary["identities"]
    # zone visits and line crossings replayed on the stitched tracks with the final ids, in time order
    entered = [e for e in events if e["event"] == "zone_entered"]
    left = [e for e in events if e["event"] == "zone_left"]
    crossed = [e for e in events if e["event"] == "line_crossed"]
    assert entered and crossed and len(left) == len(entered)
    assert {e["id"] for e in entered + crossed} <= mot_ids and {e["direction"] for e in crossed} == {"in", "out"}
    timed = [e["time_s"] for e in events if "time_s" in e]
    assert timed == sorted(timed)
    assert main(["eval", "mot", "--pred", str(out / "pets.txt"), "--gt", gt, "--gt-scale", "0.625", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    # segments stitched across their boundaries: tracking quality stays at the single-process run's (IDF1 0.82)
    assert report["IDF1"] > 0.78 and report["MOTA"] > 0.75


@pytest.mark.skipif(FFMPEG is None, reason="ffmpeg is missing (`make test` installs Debian's ffmpeg)")
def test_a_killed_camera_actor_comes_back_and_ids_continue(data_root, tmp_path, models_root):
    from test_sources import free_port, serve

    from reidkit.pipeline import PipelineConfig
    from reidkit.scale.ray_live import ray_live

    video = data_root / "PETS09-S2L1/vtest.mp4"
    port = free_port()
    server = serve(video, port)
    out = tmp_path / "live"
    result: dict = {}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        job = threading.Thread(
            target=lambda: result.update(
                ray_live([f"http://127.0.0.1:{port}/feed.ts"], out, PipelineConfig(), ["door"], max_frames=60)
            )
        )
        job.start()
        txt = out / "door.txt"
        deadline = time.time() + 120
        while not (txt.exists() and len({r.split(",")[0] for r in txt.read_text().splitlines()}) >= 25):
            assert time.time() < deadline and job.is_alive(), "the camera did not start"
            time.sleep(0.2)
        before = {int(r.split(",")[1]) for r in txt.read_text().splitlines()}
        last_frame = max(int(r.split(",")[0]) for r in txt.read_text().splitlines())
        ray.kill(ray.get_actor("reidkit-camera-door"), no_restart=False)  # its process dies; Ray restarts it
        server.kill()
        server.wait()
        server = serve(video, port)  # ffmpeg's -listen 1 serves one client: serve the new incarnation
        job.join(timeout=180)
        assert not job.is_alive()
    finally:
        server.kill()
        ray.shutdown()
    assert result["restarts"] == {"door": 1}
    rows = [r.split(",") for r in (out / "door.txt").read_text().splitlines()]
    after = {int(r[1]) for r in rows if int(r[0]) > last_frame}
    assert after and after & before  # people in view keep their global ids across the restart
    assert result["sources"][0]["frames"] == 60
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert any(e["event"] == "camera_restarted" for e in events)
    assert any(e["event"] == "reidentified" and e["id"] in before for e in events)


def test_inference_threads_follow_the_free_cpus():
    from reidkit.scale.ray_jobs import _free_share, cpu_busy_share, default_threads

    assert default_threads(1.0) == 2 and default_threads(2.0) == 4  # idle: twice each worker's CPUs
    assert default_threads(1.0, 0.5) == 1 and default_threads(2.0, 0.5) == 2  # half the machine busy elsewhere
    assert default_threads(1.0, 0.0) == 1 and default_threads(1.0, 7.0) == 2  # at least one, at most twice
    # /proc/stat cpu lines: user nice system idle iowait irq softirq steal
    assert cpu_busy_share([0] * 8, [50, 0, 0, 50, 0, 0, 0, 0]) == 0.5
    assert cpu_busy_share([0] * 8, [0, 0, 0, 90, 10, 0, 0, 0]) == 0.0  # waiting on disk is not busy
    assert cpu_busy_share([5] * 8, [5] * 8) == 0.0  # no time passed
    assert 0.0 <= _free_share(0.05) <= 1.0
