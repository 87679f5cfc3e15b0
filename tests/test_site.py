"""Zones and lines (cameras file, events), site analytics (visitors, dwell, zones, lines, moves, heatmap) and
`reidkit report`: constructed tracks with known answers, then a real tracking run on PETS09."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from reidkit.analytics import SiteTracks, dwell, site_report, transitions, visitors, zones_and_lines
from reidkit.cameras import load_layout, parse_layout
from reidkit.cli.main import main
from reidkit.errors import ConfigError, NotFoundError
from reidkit.site_report import load_run, render_csv, report_run, write_report
from reidkit.zones import ZoneWatcher, edge_distance, inside, replay

LAYOUT = {
    "camera": [
        {
            "name": "a",
            "zone": [{"name": "shop", "polygon": [[0, 0], [100, 0], [100, 100], [0, 100]]}],
            "line": [{"name": "door", "points": [[200, 0], [200, 300]]}],  # drawn downwards: "in" goes left
        },
        {"name": "b"},
    ]
}


def _box(x: float, y: float) -> list[float]:
    """A 10×20 box standing at (x, y)."""
    return [x - 5, y - 20, x + 5, y]


def test_geometry():
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], float)
    assert inside(square, np.array([5, 5])) and not inside(square, np.array([15, 5]))
    assert edge_distance(square, np.array([15, 5])) == 5 and edge_distance(square, np.array([13, 14])) == 5
    assert edge_distance(square, np.array([5, 8])) == pytest.approx(2)


def test_ground_shapes_follow_people_across_views():
    """A zone and a line on the ground plane belong to the site: a person seen by two overlapping views enters
    the zone once, and a step across the blind strip between two views crosses a line drawn in it."""
    layout = parse_layout(
        {
            "ground_radius": 2.0,
            "camera": [
                {
                    "name": name,
                    "homography": [[1, 0, dx], [0, 1, 0], [0, 0, 1]],
                    "zone": [{"name": "hall", "polygon": [[0, 0], [100, 0], [100, 100], [0, 100]], "ground": True}],
                    "line": [{"name": "gap", "points": [[150, 0], [150, 100]], "ground": True}],
                }
                for name, dx in (("left", 0), ("right", 160))
            ],
        }
    )
    w = ZoneWatcher(layout)
    events = w.update("left", 0, 0.0, [1], [_box(50, 50)], [1]) + w.update("right", 0, 0.0, [1], [_box(-110, 50)], [4])
    assert [e["event"] for e in events] == ["zone_entered"]  # once, though both views see the person
    assert w.update("left", 2, 0.2, [1], [_box(100.8, 50)], [1]) == []  # on the edge (margin 1): still inside
    assert w.update("left", 3, 0.3, [1], [_box(99, 50)], [1]) == []  # wavering back in is not a second visit
    events = w.update("left", 5, 0.5, [1], [_box(140, 50)], [1])  # walked out of the hall, before the line
    assert [e["event"] for e in events] == ["zone_left"]
    assert w.update("right", 7, 0.7, [1], [_box(5, 50)], [9]) == []  # the left view still follows the person
    [cross] = w.update("right", 12, 1.2, [1], [_box(5, 50)], [9])  # left lost them: ground x 165, past the strip
    assert cross["event"] == "line_crossed" and cross["direction"] == "out" and cross["camera"] == "right"
    assert w.update("right", 13, 1.3, [1], [_box(-11, 50)], [9]) == []  # within the margin of the line: no change
    assert w.update("right", 14, 1.4, [1], [_box(5, 50)], [9]) == []  # jitter near the line is no crossing
    [back] = w.update("right", 15, 1.5, [1], [_box(-15, 50)], [9])
    assert back["direction"] == "in"


def test_zones_and_lines_in_the_cameras_file(tmp_path):
    layout = parse_layout(LAYOUT)
    assert layout.has_zones and layout.cameras["a"].zones[0].name == "shop"
    from reidkit.cameras import layout_toml

    path = tmp_path / "c.toml"
    path.write_text(layout_toml(layout))
    again = load_layout(path)
    assert np.allclose(again.cameras["a"].lines[0].points, [[200, 0], [200, 300]])
    bad = [
        ({"camera": [{"name": "a", "zone": [{"name": "z", "polygon": [[0, 0], [1, 1]]}]}]}, "at least 3 points"),
        ({"camera": [{"name": "a", "line": [{"name": "l", "points": [[0, 0], [0, 0]]}]}]}, "the same"),
        ({"camera": [{"name": "a", "line": [{"name": "l", "points": [[0, 0]]}]}]}, "exactly 2 points"),
        ({"camera": [{"name": "a", "zone": [{"polygon": [[0, 0], [1, 0], [1, 1]]}]}]}, "needs a name"),
        (
            {"camera": [{"name": "a", "zone": [{"name": "z", "polygon": [[0, 0], [1, 0], [1, 1]], "ground": True}]}]},
            "no homography",
        ),
        ({"camera": [{"name": "a", "zone": [{"name": "z", "points": [[0, 0], [1, 0], [1, 1]]}]}]}, "unknown key"),
    ]
    for data, message in bad:
        with pytest.raises(ConfigError, match=message):
            parse_layout(data)


def test_watcher_events_enter_leave_cross_and_lost():
    w = ZoneWatcher(parse_layout(LAYOUT), gone_s=2.0)
    assert w.update("a", 0, 0.0, [7], [_box(50, 50)], [1])[0]["event"] == "zone_entered"
    assert w.update("a", 1, 1.0, [7], [_box(50, 60)], [1]) == []
    [left] = w.update("a", 2, 2.0, [7], [_box(150, 60)], [1])
    assert left["event"] == "zone_left" and left["dwell_s"] == 2.0 and left["reason"] == "walked out"
    [cross] = w.update("a", 3, 3.0, [7], [_box(250, 60)], [1])
    assert cross["event"] == "line_crossed" and cross["direction"] == "out" and cross["line"] == "door"
    [back] = w.update("a", 4, 4.0, [7], [_box(190, 60)], [1])
    assert back["direction"] == "in" and back["track"] == 1 and back["id"] == 7
    w.update("a", 5, 5.0, [8], [_box(10, 10)], [2])  # another person enters the shop
    [lost] = w.update("a", 9, 9.0, [], [], [])  # both unseen for > 2 s: person 8 leaves the shop
    assert lost["event"] == "zone_left" and lost["reason"] == "lost" and lost["id"] == 8 and lost["dwell_s"] == 0.0
    w.update("a", 10, 10.0, [9], [_box(10, 10)], [3])
    [end] = w.finish()
    assert end["reason"] == "end" and end["id"] == 9
    assert w.update("b", 0, 0.0, [1], [_box(50, 50)]) == []  # a camera without zones says nothing


def _tracks() -> SiteTracks:
    """Person 1: camera a for 0–9 s (through the shop, across the door), then camera b at 12–19 s;
    person 2: camera b 0–4 s; at 1 frame/s."""
    a = [[f + 1, 1, 45 + 20 * f, 30, 10, 20] for f in range(10)]  # walks right along y = 50
    b = [[f + 1, 1, 50, 50, 10, 20] for f in range(12, 20)] + [[f + 1, 2, 80, 50, 10, 20] for f in range(5)]
    return SiteTracks({"a": np.array(a, float), "b": np.array(b, float)}, {"a": 1.0, "b": 1.0}, parse_layout(LAYOUT))


def test_analytics_of_constructed_tracks():
    t = _tracks()
    v = visitors(t)
    assert v["total"] == 2 and v["per_camera"] == {"a": 1, "b": 2} and v["per_hour"] == {"hour 0": 2}
    d = dwell(t)
    assert d["per_identity"] == {1: 19.0, 2: 4.0} and d["count"] == 2
    moves = transitions(t)
    assert moves["matrix"] == {"a": {"a": 0, "b": 1}, "b": {"a": 0, "b": 0}}
    assert moves["transit_s"]["a -> b"]["values"] == [3.0]
    found = zones_and_lines(replay(t.layout, t.rows, t.fps))
    assert found["zones"]["a/shop"]["visits"] == 1 and found["zones"]["a/shop"]["peak_occupancy"] == 1
    assert found["zones"]["a/shop"]["dwell"]["max_s"] == 3.0  # in at x 50, 70, 90; out at 110 (t = 3 s)
    assert found["lines"]["a/door"] == {"in": 0, "out": 1, "people": 1}
    report = site_report(t)
    assert report["duration_s"] == 19.0 and report["heatmap"]["space"] == "image (cameras overlaid)"
    assert sum(map(sum, report["heatmap"]["counts"])) == 23  # one count per person per second
    rows = list(csv.reader(io.StringIO(render_csv(report))))
    assert ["line", "a/door", "out", "1"] in rows and ["visitors", "all", "people", "2"] in rows


def test_report_of_a_run_folder(tmp_path, capsys):
    t = _tracks()
    run = tmp_path / "run"
    run.mkdir()
    for camera, rows in t.rows.items():
        np.savetxt(run / f"{camera}.txt", np.column_stack([rows, np.ones((len(rows), 4))]), fmt="%.2f", delimiter=",")
    (run / "run.json").write_text(json.dumps({"cameras": ["a", "b"], "video_fps": {"a": 1, "b": 1}, "started_at": 0}))
    from reidkit.cameras import layout_toml

    (run / "cameras.toml").write_text(layout_toml(t.layout))
    tracks, upper = load_run(run)
    assert upper and tracks.layout.has_zones  # online ids of two cameras: visitors are an upper bound
    report = report_run(run)
    assert report["lines"]["a/door"]["out"] == 1 and report["visitors_are_upper_bound"]
    for suffix in (".html", ".json", ".csv"):
        assert main(["report", str(run), "-o", str(tmp_path / f"r{suffix}")]) == 0
    page = (tmp_path / "r.html").read_text()
    assert "upper bound" in page and page.count("<img") >= 5 and "a/door" in page
    assert json.loads((tmp_path / "r.json").read_text())["visitors"]["total"] == 2
    assert main(["report", str(tmp_path / "nowhere"), "-o", str(tmp_path / "x.html")]) == 2
    assert "run folder not found" in capsys.readouterr().err
    assert main(["report", str(tmp_path), "-o", str(tmp_path / "x.html")]) == 2
    assert "run.json not found" in capsys.readouterr().err
    assert main(["report", str(run), "-o", str(tmp_path / "x.pdf")]) == 2
    with open(run / "a.txt", "a") as fh:
        fh.write("3,1,4")  # a last line still being written is left out
    assert report_run(run)["visitors"]["total"] == 2
    with pytest.raises(NotFoundError):
        write_report(report, tmp_path / "none" / "r.html")


def test_tracking_run_emits_zone_events_and_reports(data_root, tmp_path, models_root, capsys):
    """A real run on PETS09 with a zone over the left half and a line across the middle: the zone and line
    events the run emitted are those a replay of its MOT file gives, and the report counts them."""
    cameras = tmp_path / "cameras.toml"
    cameras.write_text(
        '[[camera]]\nname = "pets"\n'
        '[[camera.zone]]\nname = "left"\npolygon = [[0, 0], [240, 0], [240, 360], [0, 360]]\n'
        '[[camera.line]]\nname = "middle"\npoints = [[240, 0], [240, 360]]\n'
    )
    video = data_root / "PETS09-S2L1" / "vtest.mp4"
    out = tmp_path / "out"
    args = ["track", str(video), "--camera", "pets", "--cameras", str(cameras), "-o", str(out)]
    assert main([*args, "--max-frames", "150", "--no-video", "--no-attributes"]) == 0
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    kinds = {e["event"] for e in events}
    assert {"zone_entered", "zone_left", "line_crossed"} <= kinds
    tracks, upper = load_run(out)
    assert not upper
    replayed = replay(tracks.layout, tracks.rows, tracks.fps)
    live = [e for e in events if e["event"] in ("zone_entered", "zone_left", "line_crossed")]
    assert len(live) == len(replayed)
    key = lambda e: (e["event"], e["id"], e.get("zone") or e.get("line"), e.get("direction"))  # noqa: E731
    assert sorted(map(key, live)) == sorted(map(key, replayed))
    capsys.readouterr()
    assert main(["report", str(out), "-o", str(tmp_path / "r.json"), "--json"]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    crossings = sum(e["event"] == "line_crossed" for e in live)
    assert report["lines"]["pets/middle"]["in"] + report["lines"]["pets/middle"]["out"] == crossings


def test_learn_links_from_moves(tmp_path, capsys):
    """Constructed moves: a and b overlap (people in both at once), b -> c takes 8–12 s, c and d never share a
    person: the learned file links a–b as overlapping, b–c with a window around 8–12 s, and leaves c–d alone."""
    from reidkit.analytics import learn_links

    rows = {c: [] for c in "abcd"}
    for person in range(6):
        t0 = 40 * person
        rows["a"] += [[t0 + f + 1, person, 10, 10, 10, 20] for f in range(10)]
        rows["b"] += [[t0 + f + 1, person, 10, 10, 10, 20] for f in range(5, 15)]  # overlaps a for 5 s
        gap = 8 + (person % 5)  # 8..12 s of transit
        rows["c"] += [[t0 + 15 + gap + f, person, 10, 10, 10, 20] for f in range(5)]
        rows["d"] += [[1000 + t0 + f, 100 + person, 10, 10, 10, 20] for f in range(5)]
    tracks = SiteTracks({c: np.array(r, float) for c, r in rows.items()}, {c: 1.0 for c in rows})
    links = {(x.a, x.b): x for x in learn_links(tracks)}
    assert set(links) == {("a", "b"), ("b", "c")}  # a -> c is never a direct move: b lies between
    assert links[("a", "b")].overlap and not links[("b", "c")].overlap
    bc = links[("b", "c")]
    assert bc.min_s <= 8 and 12 <= bc.max_s <= 20 and bc.moves == 6

    run = tmp_path / "run"
    run.mkdir()
    for camera, r in tracks.rows.items():
        np.savetxt(run / f"{camera}.txt", r, fmt="%.2f", delimiter=",")
    (run / "run.json").write_text(json.dumps({"cameras": list("abcd"), "video_fps": dict.fromkeys("abcd", 1)}))
    assert main(["cameras", "learn", str(run), "-o", str(tmp_path / "learned.toml")]) == 0
    assert "from online ids" in capsys.readouterr().out
    layout = load_layout(tmp_path / "learned.toml")
    assert layout.overlap("a", "b") and layout.link("b", "c").max_s == bc.max_s and layout.link("c", "d") is None
    assert layout.outside_penalty == 0.2  # learned windows are estimates: outside them costs, never refuses
    assert main(["cameras", "learn", str(run), "-o", str(tmp_path / "learned.toml")]) == 2
    assert "exists" in capsys.readouterr().err
