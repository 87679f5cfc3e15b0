"""Global re-association: constructed tracklets for every constraint, and a run's outputs rewritten consistently."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from reidkit.cameras import Camera, CameraLayout, Link
from reidkit.models.catalog import Calibration
from reidkit.reassociate import (
    LiveCorrections,
    ReassociationConfig,
    cluster,
    ground_speed,
    handovers,
    interleaved,
    log_odds,
    logit,
    reassociate,
    relabel_events,
    rewrite_events,
    rewrite_mot,
    timeline_allowed,
    whole_moves,
)
from reidkit.track.tracklets import Tracklet, TrackletBook, crop_quality, load_book, save_book

CAL = Calibration(10.0, -5.0)  # P(same) = 0.5 at cosine 0.5
RNG = np.random.default_rng(7)
PEOPLE = np.linalg.qr(RNG.normal(size=(64, 8)))[0].T  # 8 orthonormal "appearances"


def tracklet(book, camera, track, person, t0, t1, x=100.0, online=None, fps=10.0, noise=0.02, vx=0.0, look=None):
    """A tracklet of `person` (or of the appearance `look`) in `camera` from t0 to t1 seconds, at x, walking
    `vx` pixels a second."""
    t = Tracklet(camera, track, online if online is not None else track)
    for k in range(int(round((t1 - t0) * fps)) + 1):
        time = t0 + k / fps
        e = (PEOPLE[person] if look is None else look) + noise * RNG.normal(size=64)
        left = x + vx * (time - t0)
        t.add(int(round(time * fps)), (left, 50, left + 40, 150), 0.9, time, e / np.linalg.norm(e), 1.0)
    book.tracklets[t.key] = t
    return t


def test_same_person_across_cameras_is_joined():
    book = TrackletBook()
    tracklet(book, "a", 1, 0, 0, 3)
    tracklet(book, "b", 1, 0, 10, 13)
    tracklet(book, "b", 2, 1, 0, 3)
    r = reassociate(book, CAL)
    assert r.labels[("a", 1)] == r.labels[("b", 1)] != r.labels[("b", 2)]
    assert r.identities_after == 2 and r.identities_before == 2


def test_cannot_link_same_camera_and_two_places_at_once():
    book = TrackletBook()
    tracklet(book, "a", 1, 0, 0, 5)
    tracklet(book, "a", 2, 0, 2, 6, x=400)  # the same look, the same camera, the same time: two people
    tracklet(book, "b", 1, 0, 1, 4)  # and a third in another camera (views that do not overlap), at the same time
    r = reassociate(book, CAL)
    assert len({r.labels[("a", 1)], r.labels[("a", 2)], r.labels[("b", 1)]}) == 3


def test_a_short_hand_over_between_views_is_allowed():
    book = TrackletBook()
    tracklet(book, "a", 1, 0, 0, 5)
    tracklet(book, "b", 1, 0, 4.5, 9)  # both cameras show the person for half a second at the boundary
    assert reassociate(book, CAL).identities_after == 1
    strict = reassociate(book, CAL, config=ReassociationConfig(co_visible_s=0.2))
    assert strict.identities_after == 2


def test_tracklets_too_short_to_judge_follow_their_online_id():
    book = TrackletBook()
    tracklet(book, "a", 1, 0, 0, 3, online=1)
    tracklet(book, "b", 1, 0, 10, 13, online=2)  # joined with (a, 1): online id 2 went to 1
    tracklet(book, "b", 2, 0, 14, 14.1, online=2)  # two boxes of 2: they go where 2 went
    tracklet(book, "c", 1, 0, 2, 2, online=5)  # one box that looks like person 0, alone: it keeps its online id
    r = reassociate(book, CAL)
    assert r.labels == {("a", 1): 1, ("b", 1): 1, ("b", 2): 1, ("c", 1): 5}
    assert r.identities_before == 3 and r.identities_after == 2


def test_transit_window_honoured():
    windowed = CameraLayout(links=(Link("a", "b", 0.0, 10.0),))
    book = TrackletBook()
    tracklet(book, "a", 1, 0, 0, 3)
    tracklet(book, "b", 1, 0, 30, 33)  # 27 s after: outside the 0-10 s window
    assert reassociate(book, CAL, windowed).identities_after == 2
    assert reassociate(book, CAL).identities_after == 1  # without the link: appearance decides
    book = TrackletBook()
    tracklet(book, "a", 1, 0, 0, 3)
    tracklet(book, "b", 1, 0, 8, 10)
    assert reassociate(book, CAL, windowed).identities_after == 1


def test_overlapping_views_merge_at_the_same_ground_point():
    shift = np.array([[1.0, 0, 300], [0, 1, 0], [0, 0, 1]])
    layout = CameraLayout(
        {"a": Camera("a", None, np.eye(3)), "b": Camera("b", None, shift)},
        (Link("a", "b", 0, math.inf, True), Link("b", "a", 0, math.inf, True)),
        ground_radius=20.0,
    )
    book = TrackletBook()
    tracklet(book, "a", 1, 0, 0, 4, x=350)  # ground x = 370
    tracklet(book, "b", 1, 3, 0, 4, x=50)  # another look (a different crop model view), same floor spot: 370
    tracklet(book, "b", 2, 0, 0, 4, x=200)  # the look of a's person, but 150 px away on the floor, at once
    r = reassociate(book, CAL, layout)
    assert r.labels[("a", 1)] == r.labels[("b", 1)] != r.labels[("b", 2)]


def side_by_side(radius=50.0):
    """Cameras a and b, b's view starting 200 px to the right of a's on the floor (pixels as ground units)."""
    shift = np.array([[1.0, 0, 200], [0, 1, 0], [0, 0, 1]])
    return CameraLayout({"a": Camera("a", None, np.eye(3)), "b": Camera("b", None, shift)}, ground_radius=radius)


def test_hand_over_in_space_and_time_joins_a_weaker_look():
    layout = side_by_side()
    alike = 0.7 * PEOPLE[0] + math.sqrt(1 - 0.7**2) * PEOPLE[1]  # cosine 0.7 to person 0: P(same) 0.88 alone

    def pair(**later) -> TrackletBook:
        book = TrackletBook()
        tracklet(book, "a", 1, 0, 0, 3, x=160, vx=10, noise=0.01)  # walks right, leaves a at floor x ≈ 210
        tracklet(book, "b", 1, 0, online=2, noise=0.01, look=alike, **later)
        return book

    handed_over = pair(t0=4, t1=7, x=30, vx=10)  # 1 s later at floor x = 250
    assert reassociate(handed_over, CAL, layout).identities_after == 1
    assert reassociate(pair(t0=40, t1=43, x=30), CAL, layout).identities_after == 2  # there, but 37 s later
    assert reassociate(pair(t0=4, t1=7, x=400), CAL, layout).identities_after == 2  # at once, 400 px further
    off = reassociate(handed_over, CAL, layout, ReassociationConfig(handover_bonus=0.0))
    assert off.identities_after == 2  # the look alone is not enough at P > 0.98
    assert reassociate(handed_over, CAL).identities_after == 2  # no homographies: no floor, no hand-over


def test_a_tracklet_without_appearance_is_joined_by_a_hand_over_alone():
    layout = side_by_side()

    def pair(**later) -> TrackletBook:
        book = TrackletBook()
        tracklet(book, "a", 1, 0, 0, 3, x=160, vx=10, noise=0.01)
        unseen = tracklet(book, "b", 1, 0, online=2, **later)  # every crop cut by the frame edge, say
        unseen.weighted, unseen.weight_sum, unseen.exemplars = None, 0.0, []
        return book

    assert reassociate(pair(t0=4, t1=7, x=30, vx=10), CAL, layout).identities_after == 1
    assert reassociate(pair(t0=40, t1=43, x=30), CAL, layout).identities_after == 2  # no hand-over: nothing to go on
    no_bonus = ReassociationConfig(handover_bonus=0.0)
    assert reassociate(pair(t0=4, t1=7, x=30, vx=10), CAL, layout, no_bonus).identities_after == 2


def test_hand_overs_and_the_runs_own_walking_speed():
    layout = side_by_side(radius=10.0)
    book = TrackletBook()
    walking = [
        tracklet(book, "a", 1, 0, 0, 3, x=100, vx=30),  # ends at floor x = 210 (box centre 100 + 90 + 20)
        tracklet(book, "b", 1, 0, 5, 8, x=50, vx=30),  # 2 s later at floor x = 270: 60 px ≤ 2 s × 30 px/s + 20
        tracklet(book, "b", 2, 0, 4, 5, x=-50, vx=30),  # 1 s later at floor 170: 40 px ≤ 30 + 20; ends at 200
    ]
    ground = [layout.ground_many(t.camera, t.boxes) for t in walking]
    assert ground_speed(walking, ground) == pytest.approx(30.0)
    found = handovers(walking, layout, within_s=5.0)
    assert found.tolist() == [[False, True, True], [True, False, False], [True, False, False]]  # b2 → b1: 70 px
    assert not handovers(walking, CameraLayout(), within_s=5.0).any()  # no homographies: no floor to walk on
    assert handovers(walking, layout, within_s=1.5).tolist()[0] == [False, False, True]  # a gap too long


def test_motion_gate_within_a_camera():
    a, b = Tracklet("a", 1, 1), Tracklet("a", 2, 2)
    a.add(0, (0, 0, 10, 100), 0.9, 0.0, None, 0)
    b.add(5, (900, 0, 910, 100), 0.9, 0.5, None, 0)  # 9 body heights in half a second
    assert not timeline_allowed([a, b], CameraLayout())
    b.rows = [(50, 900, 0, 910, 100, 0.9, 5.0)]  # ... or after 5 s: anyone can come back anywhere
    assert timeline_allowed([a, b], CameraLayout())


def test_cluster_is_average_linkage_with_constraints():
    f = np.array([[1.0, 0], [0.9, 0.1], [0, 1.0], [np.nan, np.nan]])
    f = f @ f.T  # similarities; NaN: not comparable
    cannot = np.zeros((4, 4), bool)
    labels = cluster(f, cannot, [], 0.5)
    assert labels[0] == labels[1] != labels[2] and labels[3] not in labels[:3]
    cannot[0, 1] = cannot[1, 0] = True
    labels = cluster(f, cannot, [], 0.5)
    assert len(set(labels)) == 4
    labels = cluster(f, np.zeros((4, 4), bool), [(2, 3)], 0.5)  # must-link joins a tracklet with no appearance
    assert labels[2] == labels[3]
    bonus = np.zeros((4, 4))
    bonus[0, 2] = bonus[2, 0] = 0.6  # the bonus between any two members counts for their clusters
    labels = cluster(f, np.zeros((4, 4), bool), [], 0.5, bonus=bonus)
    assert labels[0] == labels[1] == labels[2] != labels[3]
    assert log_odds(np.array([[0.6, 0.8]]), CAL)[0, 0] == pytest.approx(5.0)  # 10 × 1.0 - 5
    assert logit(0.5) == 0 and logit(0.95) == pytest.approx(2.944, abs=1e-3)


def test_a_short_fragment_joins_its_best_candidate_on_less_evidence():
    # 0 and 1: two people seen 10 s each; 2: a 1 s piece that looks like 0 (0.7), below the clustering's 0.8
    sim = np.array([[1.0, 0.1, 0.7], [0.1, 1.0, 0.65], [0.7, 0.65, 1.0]])
    free = np.zeros((3, 3), bool)
    assert len(set(cluster(sim, free, [], 0.8))) == 3
    seconds = np.array([10.0, 10.0, 1.0])
    labels = cluster(sim, free, [], 0.8, fragments=(seconds, 0.4, 0.6))
    assert labels[2] == labels[0] != labels[1]
    cannot = free.copy()
    cannot[0, 2] = cannot[2, 0] = True  # 0 is refused: the next best candidate, 1, scores 0.65 > 0.6
    labels = cluster(sim, cannot, [], 0.8, fragments=(seconds, 0.4, 0.6))
    assert labels[2] == labels[1] != labels[0]
    refused = cluster(sim, free, [], 0.8, lambda members: 2 not in members, fragments=(seconds, 0.4, 0.6))
    assert len(set(refused)) == 3  # a transit window or motion gate refuses every candidate: it stays alone
    assert len(set(cluster(sim, free, [], 0.8, fragments=(seconds, 0.4, 0.75)))) == 3  # 0.7 is not enough
    # where everyone passes in a second, nobody is a fragment (the share is of this run's median cluster)
    assert len(set(cluster(sim, free, [], 0.8, fragments=(np.ones(3), 0.4, 0.6)))) == 3


def test_fragments_are_absorbed_in_a_run_and_not_in_live_passes():
    book = TrackletBook()
    for track, person in enumerate(range(4), start=1):
        tracklet(book, "a", track, person, 0, 20)
    # a 2 s piece of person 0 in camera b, too noisy for P>0.98 with its long track but clearly theirs
    piece = tracklet(book, "b", 9, 0, 40, 42, noise=0.09)
    cal = Calibration(10.0, -4.7)  # its log-odds with its long track: 3.4, between P 0.95 (2.9) and 0.98 (3.9)
    assert reassociate(book, cal).labels[piece.key] == 1
    assert reassociate(book, cal, config=ReassociationConfig(fragment_share=0)).labels[piece.key] == 9
    live = LiveCorrections(book, cal, None, ReassociationConfig())
    assert live.config.fragment_share == 0


def test_a_member_without_appearance_does_not_hide_its_cluster():
    nan = np.nan
    sim = np.array([[nan, nan, nan], [nan, 1.0, 0.9], [nan, 0.9, 1.0]])  # item 0 has no appearance
    labels = cluster(sim, np.zeros((3, 3), bool), [(0, 1)], 0.5)  # 0 joins 1 (overlap): 1 still compares with 2
    assert labels[0] == labels[1] == labels[2]
    alone = cluster(sim, np.zeros((3, 3), bool), [], 0.5)  # nothing comparable: 0 stays alone (even odds, 0 < 0.5)
    assert alone[0] != alone[1] == alone[2]


def test_crop_quality():
    boxes = np.array([[0, 10, 40, 110], [100, 10, 140, 110], [110, 20, 150, 120], [300, 10, 320, 60]], float)
    q = crop_quality(boxes, 640, 480)
    assert q[0] == 0  # cut by the left edge
    assert q[1] < 0.5 and q[2] < 0.5  # mostly covering each other
    assert 0 < q[3] < 1  # small, alone
    assert crop_quality(np.array([[100, 10, 140, 110]]), 640, 480)[0] == pytest.approx(1.0)


def test_book_round_trip(tmp_path):
    book = TrackletBook()
    tracklet(book, "a", 1, 0, 0, 2, online=5)
    empty = Tracklet("b", 3, 6)
    empty.add(4, (1, 2, 3, 4), 0.5, 0.4, None, 0)
    book.tracklets[empty.key] = empty
    save_book(book, tmp_path / "t.npz")
    again = load_book(tmp_path / "t.npz")
    assert set(again.tracklets) == set(book.tracklets)
    assert np.allclose(again.tracklets[("a", 1)].feature(), book.tracklets[("a", 1)].feature())
    assert again.tracklets[("a", 1)].online_id == 5 and not again.tracklets[("b", 3)].has_appearance
    assert again.tracklets[("b", 3)].rows == empty.rows
    save_book(TrackletBook(), tmp_path / "none.npz")  # a run that saw nobody
    assert load_book(tmp_path / "none.npz").tracklets == {}
    (tmp_path / "bad.npz").write_bytes(b"junk")
    from reidkit.errors import DatasetError

    with pytest.raises(DatasetError):
        load_book(tmp_path / "bad.npz")


def test_rewritten_outputs_agree(tmp_path, new_gallery):
    """MOT files, the event log and the gallery sightings carry the same final ids after a rewrite."""
    from reidkit.gallery import open_gallery
    from reidkit.pipeline import FrameResult
    from reidkit.sinks import GallerySink

    book = TrackletBook()
    tracklet(book, "a", 1, 0, 0, 2, online=1)
    tracklet(book, "b", 1, 0, 5, 7, online=2)  # the online pass missed it: a new id
    tracklet(book, "b", 2, 1, 0, 2, online=3)
    r = reassociate(book, CAL)
    # ids the online pass gave out are kept where it was right: (b, 2) stays 3, (b, 1) joins 1
    assert r.labels[("a", 1)] == r.labels[("b", 1)] == 1 and r.labels[("b", 2)] == 3
    assert r.events == [{"event": "identity_merged", "id": 1, "merged": [2], "tracks": [["b", 1]]}]
    assert r.summary()["merged"] == 1 and r.summary()["split"] == 0 and r.summary()["identities"] == 2
    rewrite_mot(tmp_path, book, r.labels, ["a", "b"])
    ids = {c: set(np.loadtxt(tmp_path / f"{c}.txt", delimiter=",", ndmin=2)[:, 1].astype(int)) for c in "ab"}
    assert ids == {"a": {1}, "b": {1, 3}}
    events = [
        {"event": "first_seen", "id": 1, "track": 1, "camera": "a", "frame": 1},
        {"event": "first_seen", "id": 3, "track": 2, "camera": "b", "frame": 1},
        {"event": "first_seen", "id": 2, "track": 1, "camera": "b", "frame": 51},
        {"event": "stream_lost", "camera": "b"},
    ]
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    rewrite_events(tmp_path / "events.jsonl", r.labels)
    got = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [(e["event"], e.get("id")) for e in got[:3]] == [("first_seen", 1), ("first_seen", 3), ("reidentified", 1)]
    assert got[2]["reassociated"] and got[2]["online_id"] == 2 and got[3] == {"event": "stream_lost", "camera": "b"}
    assert len(got) == len(events)
    assert relabel_events([{"event": "lost", "id": 9, "track": 9, "camera": "z"}], r.labels)[0]["id"] == 9

    store = open_gallery(new_gallery(), create=True)
    try:
        sink = GallerySink(store, "m", stride=1)
        for t in book.ordered():
            unit = t.feature() / np.linalg.norm(t.feature())
            for row in t.rows[:2]:
                frame = FrameResult(
                    t.camera, row[0], [t.online_id], np.array([row[1:5]]), np.ones(1), time=row[6],
                    embeddings=[unit.astype(np.float32)], image=np.zeros((200, 600, 3), np.uint8), source=t.camera,
                    track_ids=[t.track_id],
                )  # fmt: skip
                sink.frame(frame)
        assert len(store.identities()) == 3
        sink.final(r.labels)
        by_name = {i.name: i for i in store.identities()}
        assert sorted(by_name) == ["person-1", "person-3"]  # person-2 emptied and deleted
        cameras = {s.camera for s in store.sightings_of(by_name["person-1"].identity_id)}
        assert cameras == {"a", "b"} and by_name["person-1"].sightings == 4
    finally:
        store.close()


def test_gallery_follows_a_live_merge_of_the_whole_id(new_gallery):
    """A live merge takes the whole id: every sighting of it moves, also those of tracks the event does not list
    (seen before the live pass's horizon), and its emptied identity goes."""
    from reidkit.gallery import open_gallery
    from reidkit.pipeline import FrameResult
    from reidkit.sinks import GallerySink

    store = open_gallery(new_gallery(), create=True)
    try:
        sink = GallerySink(store, "m", stride=1)
        unit = np.eye(8, dtype=np.float32)[0]
        for frame, (camera, track, identity) in enumerate([("a", 1, 1), ("b", 3, 2), ("b", 1, 2)]):
            sink.frame(
                FrameResult(
                    camera, frame, [identity], np.array([[10.0, 10.0, 60.0, 150.0]]), np.ones(1), time=frame,
                    embeddings=[unit], image=np.zeros((200, 200, 3), np.uint8), source=camera, track_ids=[track],
                )
            )  # fmt: skip
        sink.event({"event": "identity_merged", "id": 1, "merged": [2], "tracks": [["b", 1]], "live": True})
        sink.frame(
            FrameResult(
                "b", 9, [2], np.array([[10.0, 10.0, 60.0, 150.0]]), np.ones(1), time=9, embeddings=[unit],
                image=np.zeros((200, 200, 3), np.uint8), source="b", track_ids=[1],
            )
        )  # fmt: skip
        [person] = store.identities()
        assert person.name == "person-1" and person.sightings == 4
    finally:
        store.close()


def test_online_identities_are_the_starting_point_unless_told_otherwise():
    book = TrackletBook()
    tracklet(book, "a", 1, 0, 0, 3, online=5)
    tracklet(book, "b", 1, 1, 6, 9, online=5)  # the online pass joined two looks 3 s apart: the pass starts from that
    seeded = reassociate(book, CAL)
    assert seeded.labels[("a", 1)] == seeded.labels[("b", 1)] == 5 and not seeded.events
    fresh = reassociate(book, CAL, config=ReassociationConfig(seed_online=False))
    assert fresh.labels[("a", 1)] != fresh.labels[("b", 1)]
    assert [e["event"] for e in fresh.events] == ["identity_split"]


def test_online_reidentifications_after_a_long_absence_are_judged_again():
    book = TrackletBook()
    tracklet(book, "a", 1, 0, 0, 3, online=5)
    tracklet(book, "a", 2, 0, 4, 6, online=5)  # 1 s later, same look: kept
    tracklet(book, "b", 1, 1, 20, 23, online=5)  # 14 s after, another look: the online re-identification is undone
    tracklet(book, "b", 2, 0, 40, 43, online=7)  # the first look again, 34 s later: joined on appearance
    result = reassociate(book, CAL)
    labels = result.labels
    assert labels[("a", 1)] == labels[("a", 2)] == labels[("b", 2)] == 5 and labels[("b", 1)] != 5
    assert sorted(e["event"] for e in result.events) == ["identity_merged", "identity_split"]
    trusting = reassociate(book, CAL, config=ReassociationConfig(seed_gap_s=math.inf))
    assert trusting.labels[("b", 1)] == 5


def test_live_corrections_merge_whole_ids_only():
    """Live, an id is merged into another only when all its recent tracklets go there: the online pass's wrong
    re-identification of person 1 as id 5 must not drag person 0's track into id 7."""
    book = TrackletBook()
    tracklet(book, "a", 1, 0, 0, 3, online=5)
    tracklet(book, "b", 1, 1, 20, 23, online=5)  # person 1, wrongly given id 5 after a long absence
    tracklet(book, "b", 2, 1, 40, 43, online=7)  # person 1 again
    live = LiveCorrections(book, CAL)
    assert live.update(45.0) == [] and live.alias == {}
    tracklet(book, "a", 3, 2, 50, 53, online=9)
    tracklet(book, "b", 3, 2, 60, 63, online=11)  # person 2 in the other camera: id 11 joins id 9 whole
    assert live.update(47.0) == []  # not due yet (every 5 s)
    [event] = live.update(64.0)
    assert event["id"] == 9 and event["merged"] == [11] and event["tracks"] == [["b", 3]] and event["live"]
    assert event["lag_s"] == pytest.approx(4.0) and live.alias == {11: 9}
    assert live.update(70.0) == []  # announced once


def test_whole_moves_leaves_partial_moves():
    book = TrackletBook()
    tracks = [tracklet(book, "a", 1, 0, 0, 3), tracklet(book, "b", 1, 0, 10, 13), tracklet(book, "b", 2, 1, 20, 26)]
    shown = {("a", 1): 5, ("b", 1): 5, ("b", 2): 7}
    # (b, 1) leaves id 5 for id 7's cluster: a split, not a merge of 5
    assert whole_moves(tracks, {("a", 1): 0, ("b", 1): 1, ("b", 2): 1}, shown) == {}
    shown[("b", 1)] = 8
    # id 8's only tracklet goes with id 7's (which covers more rows): 8 joins 7
    assert whole_moves(tracks, {("a", 1): 0, ("b", 1): 1, ("b", 2): 1}, shown) == {8: 7}


def test_live_run_emits_and_applies_merges(data_root, tmp_path, capsys):
    """PETS09 cut into two views with a blind strip, tracked with --live-corrections 5: merges go out while the
    run goes on (tagged live, within 10 s of the newest merged track's start), never undo an earlier one, and
    the gallery follows them (the merged identities' sightings move to the survivor)."""
    import json

    from reidkit.cli.main import main
    from reidkit.gallery import open_gallery

    seq = data_root / "PETS09-S2L1"
    views = tmp_path / "views"
    split = ["data", "split-views", str(seq / "vtest.mp4"), str(seq / "gt/gt.txt"), "-o", str(views)]
    assert main([*split, "--scale", "0.625", "--views", "0:0.42,0.58:1", "--max-frames", "220"]) == 0
    out, db = tmp_path / "out", str(tmp_path / "g.db")
    track = ["track", str(views / "view1.mp4"), str(views / "view2.mp4"), "--cameras", str(views / "cameras.toml")]
    capsys.readouterr()
    args = [*track, "-o", str(out), "--no-video", "--no-attributes", "--gallery", db, "--live-corrections", "5"]
    args.append("--online")  # only the live merges (no end-of-run pass over recorded files)
    assert main([*args, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    merges = [e for e in events if e["event"] == "identity_merged"]
    assert merges and all(e["live"] and e["lag_s"] <= 10.0 for e in merges)
    assert summary["live_corrections"]["merges"] == sum(len(e["merged"]) for e in merges)
    survivors = {e["id"] for e in merges}
    gone = {i for e in merges for i in e["merged"]}
    assert not survivors & gone  # a merge is never undone by a later one
    last_frame = max(e.get("frame", 0) for e in events if e["event"] in ("first_seen", "lost", "refound"))
    assert merges[0]["time_s"] < last_frame / 10.0  # announced during the run, not at its end
    with open_gallery(db, read_only=True) as store:
        names = {i.name: i for i in store.identities()}
    assert all(f"person-{i}" not in names for i in gone)
    assert all(names[f"person-{i}"].sightings > 0 for i in survivors)


def test_preview_follows_live_merges():
    from types import SimpleNamespace

    from reidkit.preview import PreviewHub

    hub = PreviewHub(["a", "b"])
    frame = SimpleNamespace(camera="b", ids=[7], boxes=np.array([[1.0, 2, 30, 80]]), shown=None)
    hub.event({"event": "first_seen", "id": 3, "camera": "a", "frame": 1, "time_s": 0.1})
    hub.event({"event": "first_seen", "id": 7, "camera": "b", "frame": 40, "time_s": 4.0})
    hub.frame(frame)
    assert hub.visible["b"][0]["id"] == 7
    hub.event({"event": "identity_merged", "id": 3, "merged": [7], "tracks": [["b", 1]], "live": True, "time_s": 5})
    hub.frame(frame)  # the tracker still says 7: the preview shows the survivor
    assert hub.visible["b"][0]["id"] == 3
    hub.event({"event": "lost", "id": 7, "camera": "b", "frame": 60, "time_s": 6.0})
    assert [e["event"] for e in hub.history_of("3")] == ["first_seen", "first_seen", "identity_merged", "lost"]
    assert hub.history_of("7") == hub.history_of("3") and hub.history_of("9") is None


def test_replayed_events_are_interleaved_by_time():
    log = [
        {"event": "first_seen", "time_s": 0.0},
        {"event": "stream_lost"},  # no time: stays after the event before it
        {"event": "lost", "time_s": 2.0},
        {"event": "identity_merged"},  # the end-of-run pass: stays last
        {"event": "reassociated"},
    ]
    new = [{"event": "zone_left", "time_s": 3.0}, {"event": "zone_entered", "time_s": 0.5}]
    got = [e["event"] for e in interleaved(log, new)]
    assert got == ["first_seen", "stream_lost", "zone_entered", "lost", "zone_left", "identity_merged", "reassociated"]


def test_stitched_ray_tracks_become_a_tracklet_book_keyed_like_their_events():
    from reidkit.scale.stitch import Track, book_of
    from reidkit.scale.work import Tracklet as SegmentTracklet

    rows = np.array([[10, 0, 0, 10, 20, 0.9], [11, 1, 0, 11, 20, 0.8]])
    unit = np.eye(4, dtype=np.float32)
    a = Track("gate", "gate.mp4", [SegmentTracklet("gate", "gate.mp4", 0, 1, rows, rows[:0], unit[[0, 1]], 5.0)])
    b = Track("hall", "hall.mp4", [SegmentTracklet("hall", "hall.mp4", 0, 1, rows, rows[:0], unit[:0], 5.0)])
    book = book_of([a, b], {0: 7, 1: 9})
    gate, hall = book.tracklets[("gate", 1)], book.tracklets[("hall", 2)]
    assert (gate.online_id, hall.online_id) == (7, 9)
    assert gate.rows[1] == (11, 1.0, 0.0, 11.0, 20.0, 0.8, 11 / 5.0)  # frame, box, score, time in seconds
    assert np.allclose(gate.feature(), [0.5, 0.5, 0, 0]) and not hall.has_appearance


def test_annotated_video_of_a_reassociated_run_draws_the_final_ids(tmp_path):
    """A deferred VideoSink writes the frames plain (masked, unannotated), then draws each box under its track's
    final id when it closes: the MP4 agrees with the rewritten MOT files and events."""
    from types import SimpleNamespace

    import cv2

    from reidkit.annotate import id_colour
    from reidkit.sinks import VideoSink
    from reidkit.video import read_frames

    sink = VideoSink(tmp_path, {"a": 10.0}, lambda result: "status", deferred=True)
    box = np.array([[40.0, 40.0, 120.0, 200.0]])
    for frame in range(5):
        image = np.full((240, 320, 3), 90, np.uint8)
        sink.frame(SimpleNamespace(camera="a", frame=frame, shown=image, boxes=box, ids=[3], track_ids=[1]))
    assert (tmp_path / ".a.plain.mp4").is_file() and not (tmp_path / "a.mp4").exists()
    sink.final({("a", 1): 8})
    sink.close()
    assert not (tmp_path / ".a.plain.mp4").exists()
    frames = [image for _, image in read_frames(tmp_path / "a.mp4")]
    assert len(frames) == 5
    edge = frames[-1][120, 40:42].astype(float).mean(axis=0)  # the box's left edge, in the id's colour
    final, online = np.array(id_colour(8), float), np.array(id_colour(3), float)
    assert np.linalg.norm(edge - final) < np.linalg.norm(edge - online)
    assert cv2.absdiff(frames[0][150:200, 200:300], np.full((50, 100, 3), 90, np.uint8)).max() < 20  # no overlay
