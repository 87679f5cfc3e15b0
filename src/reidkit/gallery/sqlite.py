"""Embedded gallery: one SQLite file (WAL) for identities, sightings and embeddings, a FAISS index beside it.

The SQLite file is the truth; `<db>.index` is a cache stamped with the store's write version and rebuilt
when missing or stale. Every write is one IMMEDIATE transaction, so writers in several processes are
serialised by SQLite (waiting up to `timeout` seconds, then refused with a clear error), and a process
killed mid-write leaves the previous consistent state.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np

from reidkit.gallery.index import VectorIndex
from reidkit.gallery.store import (GalleryError, GalleryStore, Identity, Match, Sighting, filter_clauses,
                                   sighting_from_row, sighting_values, write_export)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS identities (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, metadata TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS sightings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    identity_id INTEGER REFERENCES identities(id) ON DELETE CASCADE,
    source TEXT NOT NULL DEFAULT '', camera TEXT NOT NULL DEFAULT '', frame INTEGER, time REAL,
    x0 REAL, y0 REAL, x1 REAL, y1 REAL, thumbnail BLOB, model TEXT NOT NULL, embedding BLOB NOT NULL,
    created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS sightings_identity ON sightings(identity_id);
CREATE INDEX IF NOT EXISTS sightings_camera_time ON sightings(camera, time);
"""


class SqliteGallery(GalleryStore):
    """A gallery in one SQLite file with an in-process FAISS index."""

    def __init__(self, path: Path, index: str = "auto", timeout: float = 10.0) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self.index_kind = index
        if self.path.exists() and self.path.is_dir():
            raise GalleryError(f"{self.path} is a folder, not a gallery file")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(str(self.path), timeout=timeout, check_same_thread=False,
                                       isolation_level=None)
            # switching a new file to WAL takes an exclusive lock without waiting: retry while another
            # process creates the same gallery
            deadline = time.monotonic() + timeout
            while True:
                try:
                    self._db.execute("PRAGMA journal_mode=WAL")
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA synchronous=NORMAL")
            with self._write():
                for statement in SCHEMA.strip().split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute("INSERT OR IGNORE INTO meta VALUES ('version', '0'), ('deletions', '0')")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc):
                raise GalleryError(f"{self.path} is locked by another writer ({exc}); try again") from None
            raise GalleryError(f"{self.path} is not a reidkit gallery (or is corrupt): {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise GalleryError(f"{self.path} is not a reidkit gallery (or is corrupt): {exc}") from None
        self._lock = threading.RLock()
        self._index: VectorIndex | None = None
        self._synced = (-1, -1)  # (version, deletions) the index reflects
        self._max_id = 0
        self._dirty = False

    # -- transactions ---------------------------------------------------------------------------
    class _Tx:
        def __init__(self, store: "SqliteGallery") -> None:
            self.store = store

        def __enter__(self):
            try:
                self.store._db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise GalleryError(f"{self.store.path} is locked by another writer ({exc}); try again") from None
            return self.store._db

        def __exit__(self, exc_type, exc, tb) -> None:
            if exc_type is None:
                self.store._db.execute("COMMIT")
            else:
                self.store._db.execute("ROLLBACK")

    def _write(self) -> "_Tx":
        return SqliteGallery._Tx(self)

    def _bump(self, deletions: bool = False) -> None:
        self._db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'version'")
        if deletions:
            self._db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'deletions'")

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    @property
    def model(self) -> str | None:  # type: ignore[override]
        """The model whose embeddings this gallery holds (None while empty)."""
        return self._meta("model")

    @property
    def dim(self) -> int | None:  # type: ignore[override]
        """Embedding size (None while empty)."""
        value = self._meta("dim")
        return int(value) if value else None

    # -- writes ---------------------------------------------------------------------------------
    def _insert_identity(self, name: str, metadata: dict) -> int:
        """Insert a validated identity in one transaction."""
        with self._lock, self._write() as db:
            cur = db.execute("INSERT INTO identities (name, metadata, created) VALUES (?, ?, ?)",
                             (name, json.dumps(metadata), time.time()))
            self._bump()
            return int(cur.lastrowid)

    def _insert_sightings(self, emb: np.ndarray, model: str, sightings: list[dict],
                          thumbnails: list[bytes | None]) -> list[int]:
        """Insert validated embeddings with their metadata in one transaction; returns the new sighting ids."""
        ids = []
        with self._lock, self._write() as db:
            self.check_model(model, emb.shape[1])
            if self._meta("model") is None:
                db.execute("INSERT OR REPLACE INTO meta VALUES ('model', ?), ('dim', ?)", (model, str(emb.shape[1])))
            for vector, info, thumb in zip(emb, sightings, thumbnails):
                values = sighting_values(info)
                if values[0] is not None and db.execute("SELECT 1 FROM identities WHERE id = ?", (values[0],)).fetchone() is None:
                    raise GalleryError(f"no identity {values[0]}")
                cur = db.execute(
                    "INSERT INTO sightings (identity_id, source, camera, frame, time, x0, y0, x1, y1, thumbnail, model,"
                    " embedding, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*values, thumb, model, vector.tobytes(), time.time()))
                ids.append(int(cur.lastrowid))
            self._bump()
        return ids

    def rename(self, identity_id: int, name: str) -> None:
        """Change an identity's name."""
        with self._lock, self._write() as db:
            self._require(identity_id)
            db.execute("UPDATE identities SET name = ? WHERE id = ?", (name.strip(), identity_id))
            self._bump()

    def merge(self, keep: int, absorb: int) -> None:
        """Move every sighting of `absorb` to `keep` and delete `absorb`."""
        if keep == absorb:
            raise GalleryError("cannot merge an identity with itself")
        with self._lock, self._write() as db:
            self._require(keep)
            self._require(absorb)
            db.execute("UPDATE sightings SET identity_id = ? WHERE identity_id = ?", (keep, absorb))
            db.execute("DELETE FROM identities WHERE id = ?", (absorb,))
            self._bump()

    def delete_identity(self, identity_id: int) -> int:
        """Delete an identity and its sightings, from SQLite and the index."""
        with self._lock, self._write() as db:
            self._require(identity_id)
            removed = [r[0] for r in db.execute("SELECT id FROM sightings WHERE identity_id = ?", (identity_id,))]
            db.execute("DELETE FROM sightings WHERE identity_id = ?", (identity_id,))
            db.execute("DELETE FROM identities WHERE id = ?", (identity_id,))
            self._bump(deletions=True)
        if self._index is not None and removed:
            if self._index.supports_removal:
                self._index.remove(np.array(removed))
                self._synced = (self._synced[0], int(self._meta("deletions")))
            self._dirty = True
        return len(removed)

    # -- reads ----------------------------------------------------------------------------------
    def _require(self, identity_id: int) -> None:
        if self._db.execute("SELECT 1 FROM identities WHERE id = ?", (identity_id,)).fetchone() is None:
            raise GalleryError(f"no identity {identity_id} in {self.path}")

    def identities(self) -> list[Identity]:
        """Every identity with its sighting count."""
        rows = self._db.execute(
            "SELECT i.id, i.name, i.metadata, COUNT(s.id) FROM identities i LEFT JOIN sightings s "
            "ON s.identity_id = i.id GROUP BY i.id ORDER BY i.id").fetchall()
        return [Identity(r[0], r[1], json.loads(r[2]), r[3]) for r in rows]

    def sightings_of(self, identity_id: int) -> list[Sighting]:
        """The sightings of one identity."""
        self._require(identity_id)
        rows = self._db.execute(
            "SELECT id, identity_id, source, camera, frame, time, x0, y0, x1, y1 FROM sightings "
            "WHERE identity_id = ? ORDER BY id", (identity_id,)).fetchall()
        return [sighting_from_row(r) for r in rows]

    def count(self) -> int:
        """Number of stored sightings."""
        return int(self._db.execute("SELECT COUNT(*) FROM sightings").fetchone()[0])

    def thumbnail(self, sighting_id: int) -> bytes | None:
        """The JPEG thumbnail of a sighting."""
        row = self._db.execute("SELECT thumbnail FROM sightings WHERE id = ?", (sighting_id,)).fetchone()
        if row is None:
            raise GalleryError(f"no sighting {sighting_id}")
        return row[0]

    def search(self, query: np.ndarray, model: str, k: int = 5, camera: str | None = None,
               time_range: tuple[float, float] | None = None, identities_only: bool = False) -> list[Match]:
        """Top-k sightings by cosine similarity, best first; filters run exactly over the matching rows."""
        q = np.asarray(query, np.float32).reshape(-1)
        if self.model is None:
            return []
        self.check_model(model, q.size)
        with self._lock:
            if camera is not None or time_range is not None or identities_only:
                ids, scores = self._filtered(q, k, camera, time_range, identities_only)
            else:
                self._sync()
                scores, ids = self._index.search(q, k)
                keep = ids >= 0
                ids, scores = ids[keep], scores[keep]
            return self._matches(ids, scores)

    def _filtered(self, q, k, camera, time_range, identities_only):
        where, args = filter_clauses(camera, time_range, identities_only, "?")
        rows = self._db.execute(f"SELECT id, embedding FROM sightings WHERE {' AND '.join(where)}", args).fetchall()
        if not rows:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        ids = np.array([r[0] for r in rows], np.int64)
        scores = np.frombuffer(b"".join(r[1] for r in rows), np.float32).reshape(len(rows), -1) @ q
        order = np.argsort(-scores, kind="stable")[:k]
        return ids[order], scores[order]

    def _matches(self, ids: np.ndarray, scores: np.ndarray) -> list[Match]:
        if not len(ids):
            return []
        marks = ",".join("?" * len(ids))
        rows = self._db.execute(
            f"SELECT s.id, s.identity_id, s.source, s.camera, s.frame, s.time, s.x0, s.y0, s.x1, s.y1, i.name "
            f"FROM sightings s LEFT JOIN identities i ON i.id = s.identity_id WHERE s.id IN ({marks})",
            [int(i) for i in ids]).fetchall()
        by_id = {r[0]: r for r in rows}
        return [Match(sighting_from_row(by_id[int(i)][:10]), float(s), by_id[int(i)][10]) for i, s in zip(ids, scores)
                if int(i) in by_id]

    # -- the index ------------------------------------------------------------------------------
    def _index_paths(self) -> tuple[Path, Path]:
        return self.path.with_name(self.path.name + ".index"), self.path.with_name(self.path.name + ".index.json")

    def _state(self) -> tuple[int, int]:
        return int(self._meta("version")), int(self._meta("deletions"))

    def _sync(self) -> None:
        """Bring the index up to the store: load the saved one if current, add new rows, or rebuild."""
        state = self._state()
        if self._index is not None and state == self._synced:
            return
        if self._index is None:
            self._load_saved(state)
        if self._index is not None and state[1] == self._synced[1]:
            self._add_rows(self._max_id)
        else:
            self._rebuild()
        self._synced = state

    def _load_saved(self, state) -> None:
        index_file, stamp_file = self._index_paths()
        try:
            stamp = json.loads(stamp_file.read_text())
            if int(stamp["deletions"]) != state[1] or int(stamp["version"]) > state[0]:
                return  # rows were deleted since (or the stamp is from elsewhere): rebuild
            self._index = VectorIndex.load(index_file, self.dim, stamp["kind"])
            self._max_id = int(stamp["max_id"])
            self._synced = (int(stamp["version"]), int(stamp["deletions"]))
        except Exception:  # a missing, truncated or foreign index file: rebuild from SQLite
            self._index = None

    def _add_rows(self, after: int) -> None:
        cursor = self._db.execute("SELECT id, embedding FROM sightings WHERE id > ? ORDER BY id", (after,))
        while True:
            rows = cursor.fetchmany(50_000)
            if not rows:
                break
            ids = np.array([r[0] for r in rows], np.int64)
            self._index.add(ids, np.frombuffer(b"".join(r[1] for r in rows), np.float32).reshape(len(rows), -1))
            self._max_id = max(self._max_id, int(ids[-1]))
            self._dirty = True

    def _rebuild(self) -> None:
        self._index = VectorIndex(self.dim, self.index_kind, expected=self.count())
        self._max_id = 0
        self._add_rows(0)
        self._dirty = True

    def save_index(self) -> None:
        """Persist the index with its stamp (done on close)."""
        with self._lock:
            if self._index is None or not self._dirty:
                return
            index_file, stamp_file = self._index_paths()
            self._index.save(index_file)
            stamp = {"version": self._synced[0], "deletions": self._synced[1], "max_id": self._max_id,
                     "count": len(self._index), "kind": self._index.kind}
            tmp = stamp_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(stamp))
            tmp.replace(stamp_file)
            self._dirty = False

    # -- export -------------------------------------------------------------------------------
    def export(self, path: Path) -> dict:
        """Write `<path>.npz` (ids, embeddings) and `<path>.json` (model, identities, sightings)."""
        rows = self._db.execute("SELECT id, identity_id, source, camera, frame, time, x0, y0, x1, y1, embedding "
                                "FROM sightings ORDER BY id").fetchall()
        emb = (np.frombuffer(b"".join(r[10] for r in rows), np.float32).reshape(len(rows), -1)
               if rows else np.zeros((0, self.dim or 0), np.float32))
        return write_export(Path(path), self.model, self.dim, self.identities(), [r[:10] for r in rows], emb)

    def close(self) -> None:
        """Save the index if it changed and close the database."""
        try:
            self.save_index()
        finally:
            self._db.close()
