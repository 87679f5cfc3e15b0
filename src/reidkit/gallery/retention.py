"""Retention: how long sightings are kept, as data (`[retention]` of a settings file), and the loop that applies
it to a gallery in the background of the service."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass

from reidkit.errors import ConfigError, ReidkitError
from reidkit.gallery.store import parse_duration

log = logging.getLogger("reidkit.retention")


@dataclass(frozen=True)
class RetentionPolicy:
    """Sightings stored longer than `older_than_s` ago are deleted every `every_s`; enrolled identities' sightings
    are kept when `keep_enrolled`."""

    older_than_s: float
    keep_enrolled: bool = True
    every_s: float = 3600.0

    @classmethod
    def parse(cls, table: dict, origin: str) -> "RetentionPolicy":
        """From a `[retention]` table: older_than = "30d", keep_enrolled = true, every = "1h"."""
        unknown = set(table) - {"older_than", "keep_enrolled", "every"}
        if unknown:
            raise ConfigError(f"{origin}: unknown [retention] settings {sorted(unknown)}")
        if "older_than" not in table:
            raise ConfigError(f'{origin}: [retention] needs older_than, e.g. older_than = "30d"')
        keep = table.get("keep_enrolled", True)
        if not isinstance(keep, bool):
            raise ConfigError(f"{origin}: [retention] keep_enrolled is true or false, got {keep!r}")
        try:
            older = parse_duration(table["older_than"], "[retention] older_than")
            every = parse_duration(table.get("every", "1h"), "[retention] every")
        except ReidkitError as exc:
            raise ConfigError(f"{origin}: {exc}") from None
        if every <= 0:
            raise ConfigError(f"{origin}: [retention] every must be longer than 0 s")
        return cls(older, keep, every)

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> "RetentionPolicy | None":
        """The `[retention]` table of a settings file (None when it has none)."""
        from reidkit.files import read_toml

        table = read_toml(path, "settings file").get("retention")
        if table is None:
            return None
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [retention] must be a table")
        return cls.parse(table, str(path))


class RetentionLoop:
    """Applies a policy to a gallery now and then every `every_s` in a daemon thread, holding `lock` (the lock
    that serialises the gallery's connection) while it prunes; each run is recorded in the audit log."""

    def __init__(self, store, policy: RetentionPolicy, lock: threading.Lock | None = None) -> None:
        self.store, self.policy = store, policy
        self.lock = lock or threading.Lock()
        self.runs: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="reidkit-retention", daemon=True)

    def run_once(self) -> dict:
        with self.lock:
            counts = self.store.prune(self.policy.older_than_s, self.policy.keep_enrolled)
            self.store.record("retention", "prune", {k: counts[k] for k in ("sightings", "identities", "before")})
        self.runs.append(counts)
        return counts

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                counts = self.run_once()
                if counts["sightings"]:
                    log.info("retention: pruned %d sightings, %d identities", counts["sightings"], counts["identities"])
            except ReidkitError as exc:  # a busy or unreachable gallery: try again next time
                log.warning("retention: %s", exc)
            self._stop.wait(self.policy.every_s)

    def start(self) -> "RetentionLoop":
        self._thread.start()
        return self

    def close(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
