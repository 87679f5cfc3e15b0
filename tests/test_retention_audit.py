"""Retention (prune, [retention], the service's loop) and the audit log, on both gallery backends."""

from __future__ import annotations

import time

import numpy as np
import pytest

from reidkit.cli.main import main
from reidkit.errors import ConfigError, InputError, NotFoundError
from reidkit.gallery import open_gallery
from reidkit.gallery.retention import RetentionLoop, RetentionPolicy
from reidkit.gallery.store import parse_duration

DAY = 86400.0


def _unit(rng, n: int, dim: int = 16) -> np.ndarray:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_parse_duration():
    assert parse_duration("30d") == 30 * DAY and parse_duration("12h") == 43200 and parse_duration("90") == 90
    assert parse_duration(" 1.5m ") == 90 and parse_duration("2w") == 14 * DAY
    for bad in ("", "thirty days", "-1d", "5y"):
        with pytest.raises(InputError, match="looks like 30d"):
            parse_duration(bad)


def test_prune_removes_old_sightings_from_rows_index_and_thumbnails(new_gallery):
    """Old sightings of tracked people go (rows, thumbnails, index entries: a search no longer finds them),
    emptied tracked identities go too; enrolled people and recent sightings stay; both backends alike."""
    rng = np.random.default_rng(0)
    old, enrolled, recent = _unit(rng, 30), _unit(rng, 3), _unit(rng, 5)
    url = new_gallery()
    with open_gallery(url) as store:
        tracked = store.add_identity("person-1", {"global_id": 1})
        old_ids = store.add_sightings(old, "m", [{"identity_id": tracked, "camera": "c1"}] * 30, [b"jpeg"] * 30)
        alice, _ = store.add_person("alice", enrolled, "m", [{}] * 3)
        assert store.search(old[7], "m", 1)[0].sighting.sighting_id == old_ids[7]  # the index holds them
        fresh = store.add_sightings(recent, "m", [{"camera": "c2"}] * 5)
        counts = store.prune(30 * DAY, now=time.time() + 40 * DAY)  # 40 days on: all of it is over 30 days old
        assert counts["sightings"] == 35 and counts["identities"] == 1
        assert {i.name for i in store.identities()} == {"alice"}
        assert store.count() == 3
        hits = store.search(old[7], "m", 10)
        assert all(h.sighting.sighting_id not in old_ids + fresh for h in hits)
        with pytest.raises(NotFoundError):
            store.thumbnail(old_ids[0])
        assert store.prune(0.0, keep_enrolled=False, now=time.time() + 1)["sightings"] == 3
        assert store.identities() == [] and store.search(enrolled[0], "m", 5) == []
        with pytest.raises(InputError, match="older_than"):
            store.prune(-1)
    with open_gallery(url) as store:  # reopened: the index (saved or rebuilt) agrees
        assert store.count() == 0 and store.search(old[3], "m", 5) == []


def test_prune_keeps_what_is_newer_than_the_cutoff(new_gallery):
    rng = np.random.default_rng(1)
    with open_gallery(new_gallery()) as store:
        first = store.add_sightings(_unit(rng, 4), "m", [{}] * 4)
        cutoff = time.time()
        time.sleep(0.05)
        second = store.add_sightings(_unit(rng, 2), "m", [{}] * 2)
        counts = store.prune(time.time() - cutoff, now=time.time())
        assert counts["sightings"] == 4 and store.count() == 2
        assert {h.sighting.sighting_id for h in store.search(_unit(rng, 1)[0], "m", 10)} == set(second)
        assert not set(first) & {h.sighting.sighting_id for h in store.search(_unit(rng, 1)[0], "m", 10)}


def test_audit_log_on_both_backends(new_gallery):
    url = new_gallery()
    with open_gallery(url) as store:
        store.record("desk", "search", {"k": 5, "results": 2})
        store.record("ops", "delete", {"identity": 3, "sightings": 7})
        store.record("desk", "view", {"identity": 3})
        with pytest.raises(InputError, match="unknown audit action"):
            store.record("desk", "peek", {})
    with open_gallery(url, read_only=True) as store:
        entries = store.audit()
        assert [e.action for e in entries] == ["view", "delete", "search"]  # newest first
        assert entries[1].actor == "ops" and entries[1].target == {"identity": 3, "sightings": 7}
        assert [e.action for e in store.audit(actor="desk")] == ["view", "search"]
        assert [e.actor for e in store.audit(action="delete")] == ["ops"]
        assert store.audit(since=time.time() + 60) == [] and len(store.audit(limit=1)) == 1
        assert entries[0].as_dict()["identity"] == 3 and abs(entries[0].time - time.time()) < 60


def test_retention_policy_from_settings(tmp_path):
    path = tmp_path / "service.toml"
    path.write_text('[retention]\nolder_than = "30d"\nevery = "6h"\n')
    assert RetentionPolicy.from_file(path) == RetentionPolicy(30 * DAY, True, 6 * 3600)
    path.write_text("[other]\nx = 1\n")
    assert RetentionPolicy.from_file(path) is None
    for text, message in (
        ('[retention]\nevery = "1h"\n', "needs older_than"),
        ('[retention]\nolder_than = "soon"\n', "looks like 30d"),
        ('[retention]\nolder_than = "1d"\nkeep_enrolled = "no"\n', "true or false"),
        ('[retention]\nolder_than = "1d"\nforever = true\n', "unknown"),
        ("[retention\n", "not valid TOML"),
    ):
        path.write_text(text)
        with pytest.raises(ConfigError, match=message):
            RetentionPolicy.from_file(path)
    with pytest.raises(NotFoundError, match="settings file not found"):
        RetentionPolicy.from_file(tmp_path / "none.toml")


def test_retention_loop_prunes_and_is_audited(tmp_path):
    rng = np.random.default_rng(2)
    with open_gallery(tmp_path / "g.db") as store:
        store.add_sightings(_unit(rng, 6), "m", [{}] * 6)
        time.sleep(0.02)
        loop = RetentionLoop(store, RetentionPolicy(0.01, True, 3600)).start()
        deadline = time.monotonic() + 10
        while not loop.runs and time.monotonic() < deadline:
            time.sleep(0.02)
        loop.close()
        assert loop.runs[0]["sightings"] == 6 and store.count() == 0
        [entry] = store.audit(action="prune")
        assert entry.actor == "retention" and entry.target["sightings"] == 6


def test_gallery_prune_and_audit_cli(tmp_path, capsys, models_root, pku):
    db = str(tmp_path / "g.db")
    crops = sorted((pku / "query").glob("*.png"))[:2]
    model = "person-reidentification-retail-0288"
    assert main(["gallery", "--db", db, "-m", model, "enroll", str(crops[0]), "--name", "alice"]) == 0
    assert main(["gallery", "--db", db, "-m", model, "search", str(crops[1]), "-k", "1"]) == 0
    assert main(["gallery", "--db", db, "prune", "--older-than", "30d"]) == 0
    assert "pruned 0 sightings" in capsys.readouterr().out
    assert main(["gallery", "--db", db, "prune", "--older-than", "0s", "--include-enrolled", "--json"]) == 0
    assert '"sightings": 1' in capsys.readouterr().out
    assert main(["gallery", "--db", db, "audit", "--json"]) == 0
    import json

    entries = json.loads(capsys.readouterr().out)["entries"]
    assert [e["action"] for e in entries] == ["prune", "prune", "search", "enroll"]
    assert all(e["actor"].startswith("cli:") for e in entries)
    assert main(["gallery", "--db", db, "audit", "--action", "search", "--since", "1h"]) == 0
    assert "search" in capsys.readouterr().out
    assert main(["gallery", "--db", db, "prune", "--older-than", "a month"]) == 2
    assert "--older-than looks like 30d" in capsys.readouterr().err
