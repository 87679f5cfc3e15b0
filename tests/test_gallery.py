"""Gallery store, workflows, CLI, REST service, browser page, durability and concurrency — on real crops."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from conftest import launch_chromium, pg_database

from reidkit.cli.main import main
from reidkit.data.market import read_split
from reidkit.errors import ReidkitError
from reidkit.gallery import GalleryError, open_gallery
from reidkit.gallery.ops import enroll, index_paths, search_image
from reidkit.gallery.store import is_url


@pytest.fixture(scope="module")
def embedder(models_root):
    from reidkit.embed import Embedder

    return Embedder("person-reidentification-retail-0288")


@pytest.fixture(scope="module")
def pku_sets(pku):
    return read_split(pku, "query"), read_split(pku, "bounding_box_test")


def test_enroll_search_finds_the_person_across_cameras(new_gallery, embedder, pku_sets):
    query, gallery = pku_sets
    with open_gallery(new_gallery()) as store:
        people = sorted(set(gallery.pids.tolist()))[:8]
        for pid in people:
            paths = [str(p) for p, q, c in zip(gallery.paths, gallery.pids, gallery.camids) if q == pid and c == 1]
            enroll(store, embedder, f"person{pid}", paths, camera="c1")
        hits = 0
        for pid in people:
            probe = next(p for p, q, c in zip(query.paths, query.pids, query.camids) if q == pid and c == 2)
            best = search_image(store, embedder, str(probe), k=1)[0]
            hits += best.name == f"person{pid}"
        assert hits >= 5
        assert store.search(embedder.embed(str(query.paths[0]))[0], embedder.name, k=3, camera="nope") == []


def test_rename_merge_delete_export_import(new_gallery, tmp_path, embedder, pku_sets):
    query, _ = pku_sets
    a, b = [str(p) for p in query.paths[:2]], [str(p) for p in query.paths[4:6]]
    path = new_gallery()
    with open_gallery(path) as store:
        ia, _ = enroll(store, embedder, "a", a)
        ib, _ = enroll(store, embedder, "b", b)
        store.rename(ia, "alice")
        store.merge(ia, ib)
        assert [(i.name, i.sightings) for i in store.identities()] == [("alice", 4)]
        counts = store.export(tmp_path / "dump")
        assert counts["identities"] == 1 and counts["sightings"] == 4
        assert counts["files"] == [str(tmp_path / "dump.npz"), str(tmp_path / "dump.json")]
        store.delete_identity(ia)
        assert store.identities() == [] and store.count() == 0
        assert store.search(embedder.embed(a[0])[0], embedder.name, k=5) == []
    with open_gallery(path) as store:  # deleted for good, index rebuilt on reopen
        assert store.search(embedder.embed(a[0])[0], embedder.name, k=5) == []
        assert store.import_(tmp_path / "dump") == {"identities": 1, "sightings": 4, "skipped": 0}
        assert store.search(embedder.embed(a[0])[0], embedder.name, k=1)[0].name == "alice"
        with pytest.raises(GalleryError, match="no identity 999"):
            store.delete_identity(999)


def test_models_never_mix(new_gallery, embedder, pku_sets):
    query, _ = pku_sets
    with open_gallery(new_gallery()) as store:
        enroll(store, embedder, "a", [str(query.paths[0])])
        with pytest.raises(GalleryError, match="refusing"):
            store.search(np.ones(256, np.float32) / 16, "person-reidentification-retail-0277", k=1)
        with pytest.raises(GalleryError, match="refusing"):
            store.add_sightings(np.ones((1, 256), np.float32) / 16, "other-model", [{}])


def test_stale_or_missing_index_is_rebuilt(tmp_path, embedder, pku_sets):
    query, _ = pku_sets
    path = tmp_path / "g.db"
    with open_gallery(path) as store:
        enroll(store, embedder, "a", [str(p) for p in query.paths[:3]])
        store.search(embedder.embed(str(query.paths[0]))[0], embedder.name, 1)
    (tmp_path / "g.db.index").write_bytes(b"garbage")
    with open_gallery(path) as store:
        assert store.search(embedder.embed(str(query.paths[0]))[0], embedder.name, 1)[0].name == "a"
    # a second process adds rows: this one's saved index is stale and catches up
    with open_gallery(path) as other:
        enroll(other, embedder, "b", [str(query.paths[10])])
    with open_gallery(path) as store:
        assert store.search(embedder.embed(str(query.paths[10]))[0], embedder.name, 1)[0].name == "b"


def test_not_a_gallery_file(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(GalleryError, match="not a reidkit gallery"):
        open_gallery(bad)
    with pytest.raises(GalleryError, match="cannot connect to postgresql://reid:\\*\\*\\*@127.0.0.1:1/x"):
        open_gallery("postgresql://reid:secret@127.0.0.1:1/x", timeout=1)
    with pytest.raises(ReidkitError, match="build_memory"):
        open_gallery("postgresql://reid@127.0.0.1:1/x", build_memory="lots")


def test_index_video_then_where_else(new_gallery, embedder, data_root):
    from reidkit.detect import Detector
    from reidkit.video import read_frames

    video = data_root / "PETS09-S2L1/vtest.mp4"
    with open_gallery(new_gallery()) as store:
        summary = index_paths(
            store, embedder, Detector("person-detection-retail-0013"), [video], stride=100, progress=False
        )
        assert summary["sightings"] > 20 and summary["frames"] == 8
        # the ground-truth crop of the tallest person of frame index 300 leads back to that frame, at that place
        gt = np.loadtxt(data_root / "PETS09-S2L1/gt/gt.txt", delimiter=",")
        rows = gt[(gt[:, 0] == 301) & (gt[:, 6] != 0)]
        row = rows[np.argmax(rows[:, 5])]
        frame = next(f for i, f in read_frames(video) if i == 300)
        x, y, w, h = row[2:6] * 0.625
        crop = frame[int(y) : int(y + h), int(x) : int(x + w)]
        hits = [m.as_dict() for m in search_image(store, embedder, crop, k=5)]
        assert all(h["source"] == str(video) for h in hits)
        at_300 = [h for h in hits if h["frame"] == 300]
        assert hits[0]["frame"] == 300, hits
        assert abs((at_300[0]["box"][0] + at_300[0]["box"][2]) / 2 - (x + w / 2)) < 25


def test_gallery_cli(new_gallery, capsys, pku_sets, models_root):
    query, _ = pku_sets
    db = new_gallery()
    base = ["gallery", "--db", db, "--model", "person-reidentification-retail-0288"]
    assert main(base + ["enroll", str(query.paths[0]), str(query.paths[1]), "--name", "alice", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["identity"] == 1
    assert main(base + ["search", str(query.paths[2]), "-k", "2", "--json"]) == 0
    matches = json.loads(capsys.readouterr().out)["matches"]
    assert len(matches) == 2 and matches[0]["name"] == "alice" and matches[0]["score"] >= matches[1]["score"]
    assert main(base + ["list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sightings"] == 2
    assert main(base + ["delete", "7"]) == 2
    assert "no identity 7" in capsys.readouterr().err
    assert (
        main(["gallery", "--db", db, "--model", "person-reidentification-retail-0287", "search", str(query.paths[2])])
        == 2
    )
    assert "refusing" in capsys.readouterr().err


# -- service -----------------------------------------------------------------------------------
@pytest.fixture()
def client(new_gallery, models_root):
    from fastapi.testclient import TestClient

    from reidkit.service.app import create_app

    app = create_app(new_gallery(), "person-reidentification-retail-0288", api_key="secret", max_upload=200_000)
    with TestClient(app, headers={"X-API-Key": "secret"}) as c:
        yield c


def _png(path) -> bytes:
    return Path(path).read_bytes()


def test_service_endpoints(client, pku_sets):
    query, _ = pku_sets
    a, b, other = query.paths[0], query.paths[1], query.paths[8]
    assert client.get("/healthz").json()["status"] == "ok"
    r = client.post("/gallery/enroll", files={"image": ("a.png", _png(a))}, data={"name": "alice"})
    assert r.status_code == 200 and r.json()["identity"] == 1
    client.post("/gallery/enroll", files={"image": ("o.png", _png(other))}, data={"name": "bob"})
    r = client.post("/gallery/search", files={"image": ("b.png", _png(b))}, data={"k": "2"})
    assert r.status_code == 200 and r.json()["matches"][0]["name"] == "alice"
    assert [i["name"] for i in client.get("/identities").json()["identities"]] == ["alice", "bob"]
    assert client.get("/identities/1").json()["sightings"][0]["id"] == 1
    assert client.get("/sightings/1/thumbnail").headers["content-type"] == "image/jpeg"
    v = client.post("/verify", files={"image_a": ("a.png", _png(a)), "image_b": ("b.png", _png(b))}).json()
    assert 0 <= v["probability"] <= 1
    assert len(client.post("/embed", files={"image": ("a.png", _png(a))}).json()["embedding"]) == 256
    assert client.delete("/identities/1").json()["sightings"] == 1
    assert client.get("/identities/1").status_code == 404
    assert "/gallery/search" in client.get("/openapi.json").json()["paths"]
    assert "reidkit gallery search" in client.get("/").text


def test_service_errors(client, pku_sets):
    assert client.post("/gallery/search", files={"image": ("x.jpg", b"not an image")}).status_code == 400
    assert "decodable" in client.post("/embed", files={"image": ("x.jpg", b"junk")}).json()["detail"]
    assert client.post("/embed", files={"image": ("e.jpg", b"")}).status_code == 400
    assert client.post("/embed", files={"image": ("big.jpg", b"0" * 300_000)}).status_code == 413
    assert client.post("/gallery/enroll", files={"image": ("a.png", _png(pku_sets[0].paths[0]))}).status_code == 422
    assert client.get("/identities", headers={"X-API-Key": "wrong"}).status_code == 401


def _serve(db, port_holder):
    """A real uvicorn server on loopback in a thread (the small 0288 model)."""
    server, thread, url = _serve_app(db, "person-reidentification-retail-0288")
    port_holder.append(int(url.rsplit(":", 1)[1].rstrip("/")))
    return server, thread


def _serve_app(db, model=None):
    """(server, thread, base URL) of the service over `db` on a free loopback port, in a thread."""
    import socket

    import uvicorn

    from reidkit.service.app import create_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    app = create_app(db, model)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}/"


def test_100_concurrent_clients_lose_nothing(new_gallery, pku_sets, models_root):
    import httpx

    query, _ = pku_sets
    holder: list[int] = []
    server, thread = _serve(new_gallery(), holder)
    url = f"http://127.0.0.1:{holder[0]}"
    images = [_png(p) for p in query.paths[:20]]

    def work(k: int) -> int:
        with httpx.Client(timeout=60) as c:
            if k % 2 == 0:
                r = c.post(f"{url}/gallery/enroll", files={"image": ("i.png", images[k % 20])}, data={"name": f"p{k}"})
            else:
                r = c.post(f"{url}/gallery/search", files={"image": ("i.png", images[k % 20])}, data={"k": "3"})
            return r.status_code

    try:
        with ThreadPoolExecutor(max_workers=100) as pool:
            codes = list(pool.map(work, range(100)))
        assert codes == [200] * 100
        with httpx.Client() as c:
            names = {i["name"] for i in c.get(f"{url}/identities").json()["identities"]}
        assert names == {f"p{k}" for k in range(0, 100, 2)}
    finally:
        server.should_exit = True
        thread.join(timeout=10)


ENROLL_LOOP = """
import sys, numpy as np
from reidkit.gallery import open_gallery
store = open_gallery(sys.argv[1])
rng = np.random.default_rng(int(sys.argv[2]))
k = 0
while True:
    ident = store.add_identity(f"w{sys.argv[2]}-{k}")
    v = rng.normal(size=(20, 64)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    store.add_sightings(v, "m", [{"identity_id": ident}] * 20)
    k += 1
    if len(sys.argv) > 3 and k >= int(sys.argv[3]):
        break
store.close()
"""


def test_sigkill_mid_enrol_leaves_a_consistent_store(new_gallery):
    db = new_gallery()
    proc = subprocess.Popen([sys.executable, "-c", ENROLL_LOOP, str(db), "1"])
    time.sleep(3.0)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    if not is_url(db):
        con = sqlite3.connect(db)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()
    else:
        _wait_for_other_sessions_to_end(db)  # the server may still commit what the killed client sent
    with open_gallery(db) as store:
        sightings, identities = store.count(), len(store.identities())
    assert sightings > 0 and sightings % 20 == 0  # every enrolment is whole, or absent
    assert identities in (sightings // 20, sightings // 20 + 1)  # at most the identity of the killed enrol
    with open_gallery(db) as store:
        v = np.zeros(64, np.float32)
        v[0] = 1
        assert len(store.search(v, "m", k=5)) == 5
        assert store.count() == sightings


def _wait_for_other_sessions_to_end(url: str, timeout_s: float = 20.0) -> None:
    """Until no other session of the database is connected (a killed client's backend finishes its last
    transaction, committed or not, before it goes)."""
    import psycopg

    deadline = time.time() + timeout_s
    with psycopg.connect(url, autocommit=True) as con:
        query = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        while con.execute(query).fetchone()[0] and time.time() < deadline:
            time.sleep(0.1)


def test_two_writer_processes_are_serialised(new_gallery):
    db = new_gallery()
    procs = [subprocess.Popen([sys.executable, "-c", ENROLL_LOOP, str(db), str(s), "15"]) for s in (1, 2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    with open_gallery(db) as store:
        assert store.count() == 2 * 15 * 20 and len(store.identities()) == 30


def test_web_page_in_headless_chromium(new_gallery, tmp_path, pku_sets, models_root):
    from playwright.sync_api import sync_playwright

    query, _ = pku_sets
    holder: list[int] = []
    server, thread = _serve(new_gallery(), holder)
    url = f"http://127.0.0.1:{holder[0]}/"
    import httpx

    with httpx.Client() as c:
        for k in range(3):
            c.post(f"{url}gallery/enroll", files={"image": ("i.png", _png(query.paths[k * 4]))}, data={"name": f"p{k}"})
    shot = tmp_path / "page.png"
    try:
        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            page = browser.new_page()
            page.goto(url)
            page.wait_for_selector("#identities tbody tr")
            assert page.locator("#identities tbody tr").count() == 3
            page.locator("#k").fill("3")
            page.set_input_files("#file", str(query.paths[1]))
            page.wait_for_selector(".hit img")
            assert page.locator(".hit").count() == 3
            assert "p0" in page.locator(".hit").first.inner_text()
            page.screenshot(path=str(shot), full_page=True)
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert shot.stat().st_size > 5_000


def test_vector_index_exact_and_hnsw(tmp_path):
    from reidkit.gallery.index import VectorIndex

    rng = np.random.default_rng(0)
    x = rng.standard_normal((3000, 32)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ids = np.arange(100, 3100)
    exact = VectorIndex(32, "exact")
    exact.add(ids[:1000], x[:1000])
    exact.add(ids[1000:], x[1000:])  # grows
    q = x[1234]
    scores, found = exact.search(q, 5)
    brute = np.argsort(-(x @ q))[:5] + 100
    assert found.tolist() == brute.tolist() and scores[0] == pytest.approx(1.0)
    exact.remove(np.array([1334]))
    assert 1334 not in exact.search(q, 5)[1].tolist() and len(exact) == 2999
    exact.save(tmp_path / "e.index")
    again = VectorIndex.load(tmp_path / "e.index", 32, "exact")
    assert again.search(q, 5)[1].tolist() == exact.search(q, 5)[1].tolist()
    hnsw = VectorIndex(32, "hnsw")
    hnsw.add(ids, x)
    assert hnsw.search(q, 1)[1][0] == 1334


def test_video_pipeline_writes_linked_sightings(new_gallery, tmp_path, capsys, data_root, models_root):
    video = data_root / "PETS09-S2L1/vtest.mp4"
    db = new_gallery()
    assert (
        main(
            [
                "track",
                str(video),
                "-o",
                str(tmp_path / "out"),
                "--max-frames",
                "40",
                "--no-video",
                "--gallery",
                str(db),
                "--gallery-stride",
                "10",
            ]
        )
        == 0
    )
    capsys.readouterr()
    with open_gallery(db) as store:
        people = store.identities()
        assert len(people) >= 4 and all(p.name.startswith("person-") for p in people)
        tracks = np.loadtxt(tmp_path / "out/vtest.txt", delimiter=",")
        first = people[0]
        global_id = first.metadata["global_id"]
        sightings = store.sightings_of(first.identity_id)
        assert {s.frame for s in sightings} <= {0, 10, 20, 30}
        s = sightings[0]
        row = tracks[(tracks[:, 0] == s.frame + 1) & (tracks[:, 1] == global_id)][0]
        assert np.allclose(s.box[:2], row[2:4], atol=0.2)
    # where else did person-<id> appear: its own crop finds its own sightings first
    assert (
        main(
            [
                "gallery",
                "--db",
                str(db),
                "search",
                str(data_root / "market1501-samples/query/0001_c1s1_001051_00.jpg"),
                "--json",
            ]
        )
        == 0
    )
    assert len(json.loads(capsys.readouterr().out)["matches"]) == 5


def test_postgres_hnsw_search_uses_the_index_and_follows_deletes(pg_url):
    loc = pg_database(pg_url)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2000, 32)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    with open_gallery(loc, index="hnsw") as store:
        ident = store.add_identity("target")
        ids = store.add_sightings(x, "m", [{"identity_id": ident if i == 1234 else None} for i in range(2000)])
        hits = store.search(x[1234], "m", k=10)
        assert hits[0].sighting.sighting_id == ids[1234] and hits[0].name == "target"
        exact = np.argsort(-(x @ x[1234]))[:10]
        assert len({h.sighting.sighting_id for h in hits} & {ids[i] for i in exact}) >= 9  # recall@10
        with store._db.transaction():
            store._db.execute("SET LOCAL enable_seqscan = off")
            plan = " ".join(
                r[0]
                for r in store._db.execute(
                    "EXPLAIN SELECT id FROM sightings ORDER BY embedding <#> %s::vector LIMIT 5",
                    ("[" + ",".join(["0"] * 32) + "]",),
                )
            )
        assert "sightings_hnsw" in plan
        store.delete_identity(ident)
        assert ids[1234] not in {h.sighting.sighting_id for h in store.search(x[1234], "m", k=10)}


def test_auto_index_crosses_to_hnsw_and_deletes_without_rebuild(tmp_path, monkeypatch):
    """`auto` switches a saved exact index to HNSW once the gallery crosses the threshold (also after reopening),
    and a deletion drops just those rows from the graph (tombstones), not a full rebuild."""
    import reidkit.gallery.sqlite as sqlite_backend

    monkeypatch.setattr(sqlite_backend, "HNSW_ABOVE", 300)
    rng = np.random.default_rng(1)

    def unit(n):
        v = rng.standard_normal((n, 32)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    path = tmp_path / "auto.db"
    first = unit(200)
    with open_gallery(path) as store:
        ident, _ = store.add_person("a", first, "m", [{}] * 200)
        store.search(first[0], "m", 1)
        assert store._index.kind == "exact"
    more = unit(200)
    with open_gallery(path) as store:
        store.add_person("b", more[:150], "m", [{}] * 150)
        other, _ = store.add_person("c", more[150:], "m", [{}] * 50)
        assert store.search(more[155], "m", 1)[0].name == "c"
        assert store._index.kind == "hnsw"
        graph = store._index
        store.delete_identity(other)
        assert store._index is graph  # no rebuild: the deleted rows are tombstones
        hits = store.search(more[155], "m", 10)
        assert len(hits) == 10 and all(h.name != "c" for h in hits)
    with open_gallery(path) as store:  # reopened: the saved graph and its tombstones still hide the rows
        assert all(h.name != "c" for h in store.search(more[157], "m", 10))
        assert store._index.kind == "hnsw"


def test_reranked_search_returns_the_same_set_reordered(new_gallery, embedder, pku_sets, tmp_path, capsys):
    from reidkit.gallery.ops import RERANK_POOL

    query, gallery = pku_sets
    location = new_gallery()
    with open_gallery(location) as store:
        for pid in sorted(set(gallery.pids.tolist()))[:8]:
            paths = [str(p) for p, q in zip(gallery.paths, gallery.pids) if q == pid]
            enroll(store, embedder, f"person{pid}", paths)
        assert store.count() <= RERANK_POOL
        probe = str(query.paths[0])
        plain = search_image(store, embedder, probe, k=RERANK_POOL, rerank=False)
        reranked = search_image(store, embedder, probe, k=RERANK_POOL, rerank=True)
        assert sorted(m.sighting.sighting_id for m in plain) == sorted(m.sighting.sighting_id for m in reranked)
        assert [m.sighting.sighting_id for m in plain] != [m.sighting.sighting_id for m in reranked]
        assert len(search_image(store, embedder, probe, k=3, rerank=True)) == 3
    if not is_url(location):
        code = main(["gallery", "--db", location, "--model", embedder.name, "search", probe, "--rerank", "--json"])
        assert code == 0 and len(json.loads(capsys.readouterr().out)["matches"]) == 5


def test_postgres_role_that_may_only_read(pg_url):
    import re

    import psycopg
    from conftest import pg_database

    from reidkit.errors import GalleryReadOnlyError

    db = pg_database(pg_url)
    v = np.zeros((2, 8), np.float32)
    v[:, 0] = 1
    with open_gallery(db, create=True) as store:
        store.add_identity("alice")
        store.add_sightings(v, "m", [{"source": "a.jpg"}, {"source": "b.jpg"}])
    with psycopg.connect(db, autocommit=True) as con:
        con.execute("DROP ROLE IF EXISTS watcher")
        con.execute("CREATE ROLE watcher LOGIN")
        con.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO watcher")
    reader = re.sub(r"//[^:@/]+(:[^@]*)?@", "//watcher@", db)
    with open_gallery(reader) as store:  # opened for writing: the role decides
        assert store.read_only and store.count() == 2
        assert len(store.search(v[0], "m", k=2)) == 2
        with pytest.raises(GalleryReadOnlyError):
            store.add_identity("bob")
