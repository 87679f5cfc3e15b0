"""Person attributes: the model wrapper, colour names, filters, and attribute search in both gallery backends,
through Python, the CLI, REST, the tracker's events and the web page."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from reidkit.attributes import COLOURS, Condition, attribute_score, colour_name, parse_where
from reidkit.cli.main import main
from reidkit.errors import InputError


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_colour_names_of_constructed_colours():
    cases = {
        (0, 0, 0): "black",
        (255, 255, 255): "white",
        (128, 128, 128): "grey",
        (0, 0, 200): "red",
        (0, 140, 255): "orange",
        (0, 220, 230): "yellow",
        (0, 180, 0): "green",
        (200, 60, 0): "blue",
        (160, 40, 120): "purple",
        (180, 130, 255): "pink",
        (20, 60, 110): "brown",
    }
    for bgr, name in cases.items():
        assert colour_name(np.array(bgr, np.uint8)) == name, (bgr, name)
    assert set(cases.values()) == set(COLOURS)


def test_parse_where_and_scores():
    conditions = parse_where(" backpack=yes , upper=Red,gender=female")
    assert conditions == [Condition("backpack", True), Condition("upper", "red"), Condition("male", False)]
    attrs = {"backpack": 0.8, "male": 0.3, "upper": "red"}
    assert all(c.holds(attrs) for c in conditions)
    assert attribute_score(attrs, conditions) == pytest.approx(0.8 * 0.7)
    assert attribute_score(None, conditions) == 0.0
    for bad in ("colour=red", "backpack=maybe", "upper=teal", "gender=x", "backpack"):
        with pytest.raises(InputError):
            parse_where(bad)
    assert parse_where("") == [] and parse_where(None) == []


def _unit(n: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, 16)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _attrs(male, backpack, upper, lower="black"):
    return {
        "male": male,
        "bag": 0.1,
        "backpack": backpack,
        "hat": 0.0,
        "longsleeves": 0.5,
        "longpants": 0.9,
        "longhair": 0.1,
        "coat": 0.1,
        "gender": "male" if male >= 0.5 else "female",
        "upper": upper,
        "lower": lower,
    }


def test_attribute_filters_return_only_matching_sightings(new_gallery):
    from reidkit.gallery import open_gallery

    people = [
        _attrs(0.9, 0.95, "red"),
        _attrs(0.8, 0.6, "red"),
        _attrs(0.2, 0.9, "red"),
        _attrs(0.9, 0.1, "blue"),
        _attrs(0.7, 0.99, "blue"),
    ]
    vectors = _unit(len(people) + 1, 0)
    with open_gallery(new_gallery()) as store:
        store.add_sightings(vectors[:-1], "m", [{"attributes": a} for a in people])
        store.add_sightings(vectors[-1:], "m", [{}])  # no attributes: never matches a filter
        found = store.find("gender=male,backpack=yes,upper=red", k=10)
        assert [m.sighting.sighting_id for m in found] == [1, 2]  # 0.9*0.95 > 0.8*0.6
        assert found[0].score == pytest.approx(0.9 * 0.95, abs=1e-6)
        assert found[0].sighting.attributes["upper"] == "red"
        hits = store.search(vectors[4], "m", k=10, where="backpack=yes")
        assert {m.sighting.sighting_id for m in hits} == {1, 2, 3, 5} and hits[0].sighting.sighting_id == 5
        assert store.search(vectors[0], "m", k=10, where="upper=green") == []
        assert store.find("lower=black", k=2)[0].score == 1.0
        with pytest.raises(InputError):
            store.find("", k=3)


@pytest.fixture(scope="module")
def pets_frames(tmp_path_factory, data_root) -> Path:
    import cv2

    from reidkit.video import read_frames

    folder = tmp_path_factory.mktemp("frames")
    for index, frame in read_frames(data_root / "PETS09-S2L1/vtest.mp4", stride=200):
        cv2.imwrite(str(folder / f"f{index:04d}.jpg"), frame)
    return folder


def test_cli_index_stores_attributes_and_find_uses_them(tmp_path, capsys, pets_frames, models_root):
    db = tmp_path / "a.db"
    assert run(capsys, "gallery", "--db", db, "index", pets_frames)[0] == 0
    code, text, err = run(capsys, "gallery", "--db", db, "find", "--where", "gender=male", "-k", "50", "--json")
    assert code == 0, err
    matches = json.loads(text)["matches"]
    assert matches and all(m["attributes"]["male"] >= 0.5 for m in matches)
    assert [m["score"] for m in matches] == sorted((m["score"] for m in matches), reverse=True)
    query = next(pets_frames.iterdir())
    code, text, _ = run(capsys, "gallery", "--db", db, "search", query, "--where", "upper=black,gender=male", "--json")
    assert code == 0
    assert all(m["attributes"]["upper"] == "black" for m in json.loads(text)["matches"])
    code, _, err = run(capsys, "gallery", "--db", db, "find", "--where", "shoes=red")
    assert code == 2 and "unknown attribute" in err
    code, _, err = run(capsys, "gallery", "--db", db, "search", query, "--face", "--where", "backpack=yes")
    assert code == 2


def test_rest_find_and_filtered_search(tmp_path, pets_frames, models_root):
    from fastapi.testclient import TestClient

    from reidkit.attributes import AttributeRecognizer
    from reidkit.detect import Detector
    from reidkit.embed import Embedder
    from reidkit.gallery import open_gallery
    from reidkit.gallery.ops import index_paths
    from reidkit.service.app import create_app

    db = tmp_path / "r.db"
    embedder = Embedder("person-reidentification-retail-0288")
    with open_gallery(db) as store:
        index_paths(store, embedder, Detector(), [pets_frames], progress=False, attributes=AttributeRecognizer())
    with TestClient(create_app(db, "person-reidentification-retail-0288")) as client:
        r = client.get("/gallery/find", params={"where": "gender=male", "k": 5})
        assert r.status_code == 200 and all(m["attributes"]["male"] >= 0.5 for m in r.json()["matches"])
        assert client.get("/gallery/find", params={"where": "nose=big"}).status_code == 400
        image = next(pets_frames.iterdir()).read_bytes()
        r = client.post("/gallery/search", files={"image": ("q.jpg", image)}, data={"where": "gender=female"})
        assert r.status_code == 200 and all(m["attributes"]["male"] < 0.5 for m in r.json()["matches"])


def test_track_events_carry_attributes(tmp_path, data_root, capsys, models_root):
    out = tmp_path / "out"
    video = data_root / "PETS09-S2L1/vtest.mp4"
    code, _, err = run(capsys, "track", video, "-o", out, "--max-frames", "25", "--no-video")
    assert code == 0, err
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    firsts = [e for e in events if e["event"] == "first_seen"]
    assert firsts and all(e["attributes"]["upper"] in COLOURS and 0 <= e["attributes"]["male"] <= 1 for e in firsts)


def test_page_faces_tab_and_find_by_description(tmp_path, pets_frames, data_root, models_root):
    import httpx
    from conftest import launch_chromium
    from playwright.sync_api import sync_playwright
    from test_gallery import _serve

    holder: list[int] = []
    server, thread = _serve(str(tmp_path / "page.db"), holder)
    url = f"http://127.0.0.1:{holder[0]}/"
    faces = data_root / "faces/att_faces"
    frame = next(pets_frames.iterdir())
    with httpx.Client(timeout=60) as c:
        for k in (1, 2, 3):
            photo = (faces / f"s{k}/1.pgm").read_bytes()
            assert c.post(f"{url}faces/enroll", files={"image": ("f.pgm", photo)}, data={"name": f"face{k}"}).is_success
        assert c.post(f"{url}gallery/enroll", files={"image": ("p.jpg", frame.read_bytes())}, data={"name": "walker"})
        hit = c.post(f"{url}gallery/search", files={"image": ("p.jpg", frame.read_bytes())}).json()["matches"][0]
        lower = hit["attributes"]["lower"]
    try:
        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            page = browser.new_page()
            page.goto(url)
            page.check("input[value=faces]")
            assert not page.locator("#filters").is_visible()
            page.set_input_files("#file", str(faces / "s2/5.pgm"))
            page.wait_for_selector(".hit img")
            assert "face2" in page.locator(".hit").first.inner_text()
            page.check("input[value=people]")
            page.fill("#where", f"lower={lower}")
            page.click("#find")
            page.wait_for_selector(".hit img")
            assert page.locator(".hit").count() == 1 and "walker" in page.locator(".hit").first.inner_text()
            assert f"{lower} bottom" in page.locator(".hit").first.inner_text()
            page.fill("#where", "shoes=red")
            page.click("#find")
            page.wait_for_function("document.querySelector('#status').textContent.includes('error')")
            page.screenshot(path=str(tmp_path / "faces.png"), full_page=True)
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
