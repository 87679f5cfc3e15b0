"""Embedded gallery: one SQLite file (WAL) for identities, sightings and embeddings, a vector index beside it.

The SQLite file is the truth; `<db>.index` is a cache stamped with the gallery's id and write version and
brought up to date when stale (new rows added, deleted rows removed through the deletion log), rebuilt when
missing, foreign or corrupt. Every write is one IMMEDIATE transaction, so writers in several processes are
serialised by SQLite (waiting up to `timeout` seconds, then refused with a clear error), and a process killed
mid-write leaves the previous consistent state.

An existing file is first inspected through a read-only connection: a file of another application is refused
without a byte changed, and a file without write permission is opened read-only.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import numpy as np

from reidkit.errors import (
    GalleryBusyError,
    GalleryError,
    GalleryNotFoundError,
    GalleryReadOnlyError,
    IdentityNotFoundError,
    InputError,
)
from reidkit.gallery.index import HNSW_ABOVE, VectorIndex
from reidkit.gallery.store import (
    ROLES,
    TRACKED,
    GalleryStore,
    Identity,
    Match,
    NewIdentity,
    Sighting,
    SightingBatch,
    resolve_identity,
    sighting_from_row,
    sighting_values,
)

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
    created REAL NOT NULL, key TEXT, attributes TEXT);
CREATE TABLE IF NOT EXISTS deleted_sightings (seq INTEGER PRIMARY KEY AUTOINCREMENT, sighting_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '{}');
CREATE INDEX IF NOT EXISTS audit_time ON audit(time);
CREATE INDEX IF NOT EXISTS sightings_identity ON sightings(identity_id);
CREATE INDEX IF NOT EXISTS sightings_camera_time ON sightings(camera, time);
"""
REIDKIT_TABLES = {"meta", "identities", "sightings"}
INSERT_SIGHTING = (
    "INSERT INTO sightings (identity_id, source, camera, frame, time, x0, y0, x1, y1, key, attributes, thumbnail,"
    " model, embedding, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT(key) DO NOTHING"
)
COLUMNS = "s.id, s.identity_id, s.source, s.camera, s.frame, s.time, s.x0, s.y0, s.x1, s.y1, s.attributes"


def _attribute_sql(key: str, numeric: bool) -> str:  # noqa: ARG001 - SQLite's json_extract keeps the type
    """SQLite's expression for one stored person attribute (keys come from reidkit.attributes' fixed lists)."""
    return f"json_extract(s.attributes, '$.{key}')"


def _readonly_file(path: Path) -> bool:
    """True when the file has no write permission for anyone, or the process may not write it or its folder."""
    mode = path.stat().st_mode
    return (
        not (mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        or not os.access(path, os.W_OK)
        or not os.access(path.parent, os.W_OK)
    )


def _uri(path: Path, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"file:{quote(str(path.resolve()))}?{query}"


class SqliteGallery(GalleryStore):
    """A gallery in one SQLite file with an in-process vector index."""

    def __init__(
        self, path: Path, index: str = "auto", timeout: float = 10.0, create: bool = True, read_only: bool = False
    ) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        if index not in ("auto", "exact", "hnsw"):
            raise InputError(f"unknown index kind {index!r}: use auto, exact or hnsw")
        self.index_kind = index
        self.timeout = timeout
        exists = self.path.exists()
        if exists and self.path.is_dir():
            raise GalleryError(f"{self.path} is a folder, not a gallery file")
        if exists:
            tables = self._inspect()
            if not tables and not create:
                raise GalleryNotFoundError(
                    f"{self.path} is an empty file, not a gallery yet (enroll, index or import create one)"
                )
            self.read_only = read_only or _readonly_file(self.path)
            if self.read_only and not tables:
                raise GalleryReadOnlyError(f"{self.path} is read-only and empty: nothing to read")
        else:
            if not create:
                raise GalleryNotFoundError(f"no gallery at {self.path} (enroll, index or import create one)")
            if read_only:
                raise GalleryNotFoundError(f"no gallery at {self.path} to open read-only")
            from reidkit.files import make_dir

            make_dir(self.path.parent)
            self.read_only = False
        self._db = self._connect()
        self._lock = threading.RLock()
        self._caches: dict[str, _IndexCache] = {}  # role -> its vector index
        has_attributes = any(r[1] == "attributes" for r in self._db.execute("PRAGMA table_info(sightings)"))
        # a read-only gallery from before attributes were stored reads them as none
        self._columns = COLUMNS if has_attributes else COLUMNS.replace("s.attributes", "NULL AS attributes")

    # -- opening ----------------------------------------------------------------------------------
    def _inspect(self) -> set[str]:
        """The tables of an existing file, read through a read-only connection; refuses foreign files."""
        try:
            con = sqlite3.connect(_uri(self.path, mode="ro"), uri=True, timeout=self.timeout)
        except sqlite3.Error as exc:
            raise GalleryError(f"cannot open {self.path}: {exc}") from None
        try:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            raise GalleryError(f"{self.path} is not a reidkit gallery (or is corrupt): {exc}") from None
        finally:
            con.close()
        tables.discard("sqlite_sequence")
        if tables and not REIDKIT_TABLES <= tables:
            shown = ", ".join(sorted(tables)[:5])
            raise GalleryError(
                f"{self.path} is not a reidkit gallery: it holds other tables ({shown}); it was left unchanged"
            )
        return tables

    def _connect(self) -> sqlite3.Connection:
        try:
            if self.read_only:
                db = sqlite3.connect(
                    _uri(self.path, mode="ro"),
                    uri=True,
                    timeout=self.timeout,
                    check_same_thread=False,
                    isolation_level=None,
                )
                db.execute("SELECT COUNT(*) FROM meta").fetchone()
                return db
            db = sqlite3.connect(str(self.path), timeout=self.timeout, check_same_thread=False, isolation_level=None)
            self._prepare(db)
            return db
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise GalleryBusyError(f"{self.path} is locked by another writer ({exc}); try again") from None
            if "readonly" in str(exc) or "read-only" in str(exc):
                raise GalleryReadOnlyError(f"{self.path} is read-only: {exc}") from None
            raise GalleryError(f"{self.path} is not a reidkit gallery (or is corrupt): {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise GalleryError(f"{self.path} is not a reidkit gallery (or is corrupt): {exc}") from None

    def _prepare(self, db: sqlite3.Connection) -> None:
        """WAL, pragmas, and the schema (created, or brought up to date) in one transaction."""
        # switching a new file to WAL takes an exclusive lock without waiting: retry while another process
        # creates the same gallery
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    db.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in SCHEMA.strip().split(";"):
                if statement.strip():
                    db.execute(statement)
            columns = {r[1] for r in db.execute("PRAGMA table_info(sightings)")}
            if "key" not in columns:  # galleries made before sightings had a natural key
                db.execute("ALTER TABLE sightings ADD COLUMN key TEXT")
            if "attributes" not in columns:  # ... or person attributes
                db.execute("ALTER TABLE sightings ADD COLUMN attributes TEXT")
            db.execute("CREATE UNIQUE INDEX IF NOT EXISTS sightings_key ON sightings(key)")
            db.execute(
                "INSERT OR IGNORE INTO meta VALUES ('version', '0'), ('deletions', '0'), ('gallery_id', ?)",
                (uuid.uuid4().hex,),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # -- transactions ---------------------------------------------------------------------------
    class _Tx:
        def __init__(self, store: "SqliteGallery") -> None:
            self.store = store

        def __enter__(self):
            store = self.store
            if store.read_only:
                raise GalleryReadOnlyError(f"{store.path} is opened read-only: cannot change it")
            try:
                store._db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if "readonly" in str(exc):
                    raise GalleryReadOnlyError(f"{store.path} is read-only: {exc}") from None
                raise GalleryBusyError(f"{store.path} is locked by another writer ({exc}); try again") from None
            return store._db

        def __exit__(self, exc_type, exc, tb) -> bool:
            db = self.store._db
            if exc_type is None:
                try:
                    db.execute("COMMIT")
                    return False
                except sqlite3.Error as err:
                    exc = err
            if db.in_transaction:
                db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError) and "readonly" in str(exc):
                raise GalleryReadOnlyError(f"{self.store.path} is read-only: {exc}") from None
            if isinstance(exc, sqlite3.Error):
                raise GalleryError(f"{self.store.path}: {exc}") from None
            return False

    def _write(self) -> "_Tx":
        return SqliteGallery._Tx(self)

    def _bump(self) -> None:
        self._db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'version'")

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _meta_value(self, key: str) -> str | None:
        return self._meta(key)

    # -- writes ---------------------------------------------------------------------------------
    def _write_batch(self, identities: list[NewIdentity], batches: list[SightingBatch]) -> tuple[list[int], list[int]]:
        """Create identities and add sightings in one transaction; duplicates of a sighting key are skipped."""
        with self._lock, self._write() as db:
            now = time.time()
            new_ids = [
                int(
                    db.execute(
                        "INSERT INTO identities (name, metadata, created) VALUES (?, ?, ?)",
                        (i.name, json.dumps(i.metadata), now),
                    ).lastrowid
                )
                for i in identities
            ]
            ids: list[int] = []
            for batch in batches:
                ids += self._insert_sightings(db, batch, new_ids, now)
            self._bump()
        return new_ids, ids

    def _insert_sightings(self, db, batch: SightingBatch, new_ids: list[int], now: float) -> list[int]:
        self.check_model(batch.model, batch.embeddings.shape[1], batch.role)
        model_key, dim_key = ROLES[batch.role]
        if self._meta(model_key) is None:
            db.execute(
                "INSERT OR REPLACE INTO meta VALUES (?, ?), (?, ?)",
                (model_key, batch.model, dim_key, str(batch.embeddings.shape[1])),
            )
        for owner in {i.get("identity_id") for i in batch.sightings if i.get("new_identity") is None} - {None}:
            self._require(owner)
        ids = []
        for vector, info, thumb in zip(batch.embeddings, batch.sightings, batch.thumbnails):
            values = sighting_values(info, resolve_identity(info, new_ids))
            cur = db.execute(INSERT_SIGHTING, (*values, thumb, batch.model, vector.tobytes(), now))
            if cur.rowcount:
                ids.append(int(cur.lastrowid))
        return ids

    def _rename(self, identity_id: int, name: str) -> None:
        with self._lock, self._write() as db:
            self._require(identity_id)
            db.execute("UPDATE identities SET name = ? WHERE id = ?", (name, identity_id))
            self._bump()

    def _merge(self, keep: int, absorb: int) -> None:
        with self._lock, self._write() as db:
            self._require(keep)
            self._require(absorb)
            db.execute("UPDATE sightings SET identity_id = ? WHERE identity_id = ?", (keep, absorb))
            db.execute("DELETE FROM identities WHERE id = ?", (absorb,))
            self._bump()

    def _move_sightings(self, sighting_ids: list[int], identity_id: int) -> int:
        with self._lock, self._write() as db:
            self._require(identity_id)
            marks = ",".join("?" * len(sighting_ids))
            moved = db.execute(
                f"UPDATE sightings SET identity_id = ? WHERE id IN ({marks})", (identity_id, *sighting_ids)
            ).rowcount
            self._bump()
        return int(moved)

    def _delete_identity(self, identity_id: int) -> int:
        """Delete an identity and its sightings; the deletion log lets every index drop just those rows."""
        with self._lock:
            with self._write() as db:
                self._require(identity_id)
                removed = [r[0] for r in db.execute("SELECT id FROM sightings WHERE identity_id = ?", (identity_id,))]
                db.executemany("INSERT INTO deleted_sightings (sighting_id) VALUES (?)", [(i,) for i in removed])
                db.execute("DELETE FROM sightings WHERE identity_id = ?", (identity_id,))
                db.execute("DELETE FROM identities WHERE id = ?", (identity_id,))
                self._bump()
            for role in list(self._caches):
                if self._caches[role].index is not None:
                    self._sync(role)
        return len(removed)

    def _prune(self, cutoff: float, keep_enrolled: bool) -> tuple[int, int]:
        """Old sightings through the deletion log (every index drops just those rows), then emptied identities."""
        spared = f"AND (s.identity_id IS NULL OR json_extract(i.metadata, '$.{TRACKED}') IS NOT NULL)"
        with self._lock:
            with self._write() as db:
                removed = [
                    r[0]
                    for r in db.execute(
                        "SELECT s.id FROM sightings s LEFT JOIN identities i ON i.id = s.identity_id "
                        f"WHERE s.created < ? {spared if keep_enrolled else ''}",
                        (cutoff,),
                    )
                ]
                for start in range(0, len(removed), 900):
                    chunk = removed[start : start + 900]
                    db.executemany("INSERT INTO deleted_sightings (sighting_id) VALUES (?)", [(i,) for i in chunk])
                    db.execute(f"DELETE FROM sightings WHERE id IN ({','.join('?' * len(chunk))})", chunk)
                emptied = f"(json_extract(metadata, '$.{TRACKED}') IS NOT NULL OR (? = 0 AND created < ?))"
                gone = db.execute(
                    f"DELETE FROM identities WHERE {emptied} "
                    "AND NOT EXISTS (SELECT 1 FROM sightings s WHERE s.identity_id = identities.id)",
                    (int(keep_enrolled), cutoff),
                ).rowcount
                self._bump()
            for role in list(self._caches):
                if self._caches[role].index is not None:
                    self._sync(role)
        return len(removed), int(gone)

    def _append_audit(self, when: float, actor: str, action: str, target: str) -> None:
        with self._lock, self._write() as db:
            db.execute(
                "INSERT INTO audit (time, actor, action, target) VALUES (?, ?, ?, ?)", (when, actor, action, target)
            )

    def _audit_rows(self, limit, actor, action, since) -> list:
        if not self._has_table("audit"):  # a read-only gallery from before the audit log
            return []
        where, args = ["1 = 1"], []
        for clause, value in (("actor = ?", actor), ("action = ?", action), ("time >= ?", since)):
            if value is not None:
                where.append(clause)
                args.append(value)
        return self._db.execute(
            f"SELECT id, time, actor, action, target FROM audit WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
            (*args, limit),
        ).fetchall()

    # -- reads ----------------------------------------------------------------------------------
    def _require(self, identity_id: int) -> None:
        if self._db.execute("SELECT 1 FROM identities WHERE id = ?", (identity_id,)).fetchone() is None:
            raise IdentityNotFoundError(f"no identity {identity_id} in {self.path}")

    def identities(self) -> list[Identity]:
        """Every identity with its sighting count."""
        rows = self._db.execute(
            "SELECT i.id, i.name, i.metadata, COUNT(s.id) FROM identities i LEFT JOIN sightings s "
            "ON s.identity_id = i.id GROUP BY i.id ORDER BY i.id"
        ).fetchall()
        return [Identity(r[0], r[1], json.loads(r[2]), r[3]) for r in rows]

    def _sightings_of(self, identity_id: int) -> list[Sighting]:
        self._require(identity_id)
        rows = self._db.execute(
            f"SELECT {self._columns} FROM sightings s WHERE identity_id = ? ORDER BY id",
            (identity_id,),
        ).fetchall()
        return [sighting_from_row(r) for r in rows]

    def count(self) -> int:
        """Number of stored sightings."""
        return int(self._db.execute("SELECT COUNT(*) FROM sightings").fetchone()[0])

    def _thumbnail(self, sighting_id: int) -> bytes | None:
        row = self._db.execute("SELECT thumbnail FROM sightings WHERE id = ?", (sighting_id,)).fetchone()
        if row is None:
            raise IdentityNotFoundError(f"no sighting {sighting_id}")
        return row[0]

    def _search(self, q, k, filters, role) -> list[Match]:
        """Through the role's vector index; filtered searches run exactly over the matching rows."""
        with self._lock:
            if filters:
                ids, scores = self._filtered(q, k, filters, role)
            else:
                cache = self._sync(role)
                scores, ids = cache.index.search(q, k)
                keep = ids >= 0
                ids, scores = ids[keep], scores[keep]
            return self._matches(ids, scores)

    def _where(self, filters, role) -> tuple[str, list]:
        where, args = filters.sql("?", _attribute_sql)
        return " AND ".join(["s.model = ?", *where]), [self.model_of(role), *args]

    def _sighting(self, sighting_id: int) -> Sighting | None:
        row = self._db.execute(f"SELECT {self._columns} FROM sightings s WHERE s.id = ?", (sighting_id,)).fetchone()
        return None if row is None else sighting_from_row(row)

    def _embeddings(self, sighting_ids: list[int]) -> dict[int, np.ndarray]:
        found: dict[int, np.ndarray] = {}
        for start in range(0, len(sighting_ids), 900):  # SQLite's limit on bound parameters
            chunk = sighting_ids[start : start + 900]
            rows = self._db.execute(
                f"SELECT id, embedding FROM sightings WHERE id IN ({','.join('?' * len(chunk))})", chunk
            ).fetchall()
            found.update({int(r[0]): np.frombuffer(r[1], np.float32) for r in rows})
        return found

    def _select(self, filters, role) -> list:
        where, args = self._where(filters, role)
        rows = self._db.execute(
            f"SELECT {self._columns}, i.name FROM sightings s LEFT JOIN identities i ON i.id = s.identity_id "
            f"WHERE {where} ORDER BY s.id",
            args,
        ).fetchall()
        return [(sighting_from_row(r[:11]), r[11]) for r in rows]

    def _filtered(self, q, k, filters, role):
        where, args = self._where(filters, role)
        rows = self._db.execute(f"SELECT s.id, s.embedding FROM sightings s WHERE {where}", args).fetchall()
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
            f"SELECT {self._columns}, i.name FROM sightings s LEFT JOIN identities i ON i.id = s.identity_id "
            f"WHERE s.id IN ({marks})",
            [int(i) for i in ids],
        ).fetchall()
        by_id = {r[0]: r for r in rows}
        return [
            Match(sighting_from_row(by_id[int(i)][:11]), float(s), by_id[int(i)][11])
            for i, s in zip(ids, scores)
            if int(i) in by_id
        ]

    # -- the index ------------------------------------------------------------------------------
    def _cache(self, role: str) -> "_IndexCache":
        if role not in self._caches:
            stem = self.path.name if role == "person" else f"{self.path.name}.{role}"
            self._caches[role] = _IndexCache(self.path.with_name(stem + ".index"))
        return self._caches[role]

    @property
    def _index(self) -> VectorIndex | None:
        """The person index (None until a search built or loaded it)."""
        return self._cache("person").index

    def _state(self) -> tuple[int, int]:
        seq = (
            self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM deleted_sightings").fetchone()[0]
            if self._has_table("deleted_sightings")
            else 0
        )
        return int(self._meta("version")), int(seq)

    def _has_table(self, name: str) -> bool:
        return (
            self._db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone()
            is not None
        )

    def _wanted_kind(self, count: int) -> str:
        if self.index_kind != "auto":
            return self.index_kind
        return "hnsw" if count > HNSW_ABOVE else "exact"

    def _sync(self, role: str = "person") -> "_IndexCache":
        """Bring a role's index up to the store: load the saved one if it is this gallery's, add new rows, drop
        deleted ones, or rebuild (missing, foreign or corrupt index; `auto` crossing to HNSW)."""
        cache = self._cache(role)
        state = self._state()
        if cache.index is not None and state == cache.synced:
            return cache
        model, dim = self.model_of(role), self.dim_of(role)
        if cache.index is None:
            cache.load(self._meta("gallery_id"), state, dim)
        if cache.index is not None:
            self._remove_deleted(cache, cache.synced[1])
            self._add_rows(cache, model)
        index = cache.index
        if index is None or index.needs_rebuild or index.kind != self._wanted_kind(len(index)):
            count = self._db.execute("SELECT COUNT(*) FROM sightings WHERE model = ?", (model,)).fetchone()[0]
            cache.reset(VectorIndex(dim, self._wanted_kind(count), expected=count))
            self._add_rows(cache, model)
        cache.synced = state
        return cache

    def _remove_deleted(self, cache: "_IndexCache", after_seq: int) -> None:
        removed = [
            r[0] for r in self._db.execute("SELECT sighting_id FROM deleted_sightings WHERE seq > ?", (after_seq,))
        ]
        if removed:
            cache.index.remove(np.array(removed, np.int64))
            cache.dirty = True

    def _add_rows(self, cache: "_IndexCache", model: str) -> None:
        cursor = self._db.execute(
            "SELECT id, embedding FROM sightings WHERE id > ? AND model = ? ORDER BY id", (cache.max_id, model)
        )
        while True:
            rows = cursor.fetchmany(50_000)
            if not rows:
                break
            ids = np.array([r[0] for r in rows], np.int64)
            cache.index.add(ids, np.frombuffer(b"".join(r[1] for r in rows), np.float32).reshape(len(rows), -1))
            cache.max_id = max(cache.max_id, int(ids[-1]))
            cache.dirty = True

    def save_index(self) -> None:
        """Persist every changed index with its stamp (done on close); skipped where the folder cannot be written."""
        with self._lock:
            gallery_id = self._meta("gallery_id")
            for cache in self._caches.values():
                cache.save(gallery_id)

    # -- export -------------------------------------------------------------------------------
    def _export_rows(self, role: str) -> tuple[list, np.ndarray]:
        rows = self._db.execute(
            f"SELECT {self._columns}, s.embedding FROM sightings s WHERE model = ? ORDER BY id",
            (self.model_of(role),),
        ).fetchall()
        emb = (
            np.frombuffer(b"".join(r[11] for r in rows), np.float32).reshape(len(rows), -1)
            if rows
            else np.zeros((0, self.dim_of(role) or 0), np.float32)
        )
        return [r[:11] for r in rows], emb

    def close(self) -> None:
        """Save the index if it changed and close the database."""
        try:
            self.save_index()
        finally:
            self._db.close()


class _IndexCache:
    """One role's vector index and what it reflects: (version, deletion seq), the last sighting id it holds,
    whether it changed since saved; saved as `<file>` plus `<file>.json`, stamped with the gallery's id."""

    def __init__(self, index_file: Path) -> None:
        self.index_file = index_file
        self.stamp_file = index_file.with_name(index_file.name + ".json")
        self.reset(None)
        self.synced = (-1, -1)

    def reset(self, index: VectorIndex | None) -> None:
        self.index = index
        self.max_id = 0
        self.dirty = index is not None

    def load(self, gallery_id: str | None, state: tuple[int, int], dim: int | None) -> None:
        """Adopt the saved index if it is this gallery's and not newer than the store; else leave none."""
        try:
            stamp = json.loads(self.stamp_file.read_text())
            if gallery_id is None or stamp.get("gallery_id") != gallery_id:
                return  # another gallery's index (a deleted and re-created file): never adopt it
            if int(stamp["version"]) > state[0] or int(stamp["deletions"]) > state[1]:
                return  # newer than the store: not ours to trust
            self.index = VectorIndex.load(self.index_file, dim, stamp["kind"])
            self.max_id = int(stamp["max_id"])
            self.synced = (int(stamp["version"]), int(stamp["deletions"]))
            self.dirty = False
        except Exception:  # a missing, truncated or foreign index file: rebuilt from SQLite
            self.reset(None)

    def save(self, gallery_id: str | None) -> None:
        """Write the index and its stamp, when changed; a folder that cannot be written is left alone."""
        if self.index is None or not self.dirty:
            return
        stamp = {
            "gallery_id": gallery_id,
            "version": self.synced[0],
            "deletions": self.synced[1],
            "max_id": self.max_id,
            "count": len(self.index),
            "kind": self.index.kind,
        }
        try:
            self.index.save(self.index_file)
            tmp = self.stamp_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(stamp))
            tmp.replace(self.stamp_file)
        except OSError:
            return  # a read-only folder: the index is a cache, rebuilt next time
        self.dirty = False
