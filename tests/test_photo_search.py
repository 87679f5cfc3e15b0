"""Search from any photo or frame: the person to search is a crop, a chosen box, or the largest person detected;
results grouped by identity and by track; the frame a sighting came from — CLI, REST and the page."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from reidkit.cli.main import main
from reidkit.errors import ImageError, InputError
from reidkit.gallery.ops import group_matches, parse_box, query_crop
from reidkit.gallery.store import Match, Sighting


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _match(sid, identity=None, name=None, source="cam.mp4", time=None, frame=None, box=(0, 0, 20, 60), score=0.9):
    return Match(Sighting(sid, identity, source, "cam", frame, time, box), score, name)


def test_group_matches_by_identity_and_track():
    matches = [
        _match(1, time=10.0, box=(100, 100, 120, 160)),
        _match(2, identity=7, name="alice"),
        _match(3, time=10.5, box=(104, 100, 124, 160)),  # same track as 1
        _match(4, time=10.5, box=(400, 100, 420, 160)),  # same moment, elsewhere: another person
        _match(5, identity=7, name="alice"),
        _match(6, time=30.0, box=(100, 100, 120, 160)),  # much later: another track
        _match(7, source="other.mp4", time=10.0, box=(100, 100, 120, 160)),
    ]
    groups = group_matches(matches)
    assert [[m.sighting.sighting_id for m in g.matches] for g in groups] == [[1, 3], [2, 5], [4], [6], [7]]
    assert groups[1].as_dict()["name"] == "alice" and groups[1].as_dict()["count"] == 2


def test_parse_box_and_query_crop(data_root):
    assert parse_box("10,20,50,120", 100, 200) == [10.0, 20.0, 50.0, 120.0]
    assert parse_box(None, 10, 10) is None
    for bad in ("1,2,3", "a,b,c,d", "0,0,2,2", "500,500,600,600"):
        with pytest.raises(InputError):
            parse_box(bad, 100, 200)
    crop = np.zeros((128, 48, 3), np.uint8)
    assert query_crop(crop, lambda: pytest.fail("a crop needs no detector"))[1] is None
    wall = np.full((360, 480, 3), 128, np.uint8)

    class NoOne:
        def detect(self, image):
            from reidkit.detect import Detections

            return Detections()

    with pytest.raises(ImageError, match="no person found"):
        query_crop(wall, NoOne)
    piece, box = query_crop(wall, NoOne, "10,10,60,150")
    assert piece.shape == (140, 50, 3) and box == [10.0, 10.0, 60.0, 150.0]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, data_root, models_root):
    """A gallery of PETS09 sightings (every 10th frame of the first 300) and a frame to search from."""
    from reidkit.detect import Detector
    from reidkit.embed import Embedder
    from reidkit.gallery import open_gallery
    from reidkit.gallery.ops import index_paths
    from reidkit.video import read_frames

    d = tmp_path_factory.mktemp("photo")
    video = d / "pets.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (480, 360))
    frames = []
    for _, frame in read_frames(data_root / "PETS09-S2L1/vtest.mp4", limit=300):
        writer.write(frame)
        frames.append(frame)
    writer.release()
    db = d / "g.db"
    with open_gallery(db) as store:
        index_paths(store, Embedder(), Detector(confidence=0.5), [video], stride=10, progress=False)
    query = d / "query-frame.jpg"
    cv2.imwrite(str(query), frames[155])  # a frame between two indexed ones
    return db, query


def test_cli_searches_the_largest_person_of_a_frame_and_groups_tracks(indexed, capsys):
    db, query = indexed
    code, text, err = run(capsys, "gallery", "--db", db, "search", query, "-k", "30", "--json")
    assert code == 0, err
    result = json.loads(text)
    assert result["query_box"] is not None and len(result["matches"]) == 30
    groups = result["groups"]
    assert len(groups) < len(result["matches"])  # neighbouring frames of one person fold into one group
    assert sum(g["count"] for g in groups) == 30
    x0, y0, x1, y1 = result["query_box"]
    best = groups[0]["best"]  # the searched person, half a second away, at about the same place
    bx0, by0, bx1, by1 = best["box"]
    assert best["frame"] in (150, 160) and best["score"] >= 0.8
    assert abs((bx0 + bx1) - (x0 + x1)) / 2 < y1 - y0 and abs((by0 + by1) - (y0 + y1)) / 2 < y1 - y0
    code, text, _ = run(capsys, "gallery", "--db", db, "search", query, "--box", f"{x0},{y0},{x1},{y1}", "--json")
    assert json.loads(text)["matches"][0]["sighting"] == result["matches"][0]["sighting"]
    code, _, err = run(capsys, "gallery", "--db", db, "search", query, "--box", "1,2,3")
    assert code == 2 and "x0,y0,x1,y1" in err


def test_rest_detect_search_with_box_and_frame(indexed, models_root):
    from fastapi.testclient import TestClient

    from reidkit.service.app import create_app

    db, query = indexed
    with TestClient(create_app(db)) as client:
        found = client.post("/gallery/detect", files={"image": ("f.jpg", query.read_bytes())}).json()
        assert found["crop"] is False and len(found["people"]) >= 3 and found["width"] == 480
        box = ",".join(str(v) for v in found["people"][1]["box"])
        r = client.post("/gallery/search", files={"image": ("f.jpg", query.read_bytes())}, data={"box": box, "k": "10"})
        body = r.json()
        assert r.status_code == 200 and body["query_box"] == found["people"][1]["box"] and body["groups"]
        best = body["matches"][0]["sighting"]
        frame = client.get(f"/sightings/{best}/frame")
        assert frame.status_code == 200 and frame.headers["content-type"] == "image/jpeg"
        image = cv2.imdecode(np.frombuffer(frame.content, np.uint8), cv2.IMREAD_COLOR)
        assert image.shape == (360, 480, 3)
        assert client.get("/sightings/999999/frame").status_code == 404


def test_page_draws_people_and_searches_the_one_clicked(indexed, tmp_path, models_root):
    from conftest import launch_chromium
    from playwright.sync_api import sync_playwright
    from test_gallery import _serve_app

    db, query = indexed
    server, thread, url = _serve_app(db)
    try:
        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(url)
            page.set_input_files("#file", str(query))
            page.wait_for_selector(".person")
            people = page.locator(".person")
            assert people.count() >= 3
            assert "click the one" in page.locator("#status").inner_text()
            people.nth(1).click()
            page.wait_for_selector(".hit img")
            assert page.locator(".group").count() >= 1
            page.locator("button.more").first.click()  # neighbouring frames of one person fold into a group
            assert page.locator(".extras").first.is_visible()
            href = page.locator("a.frame").first.get_attribute("href")
            assert href and href.startswith("sightings/") and href.endswith("/frame")
            page.screenshot(path=str(tmp_path / "photo-search.png"), full_page=True)
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
