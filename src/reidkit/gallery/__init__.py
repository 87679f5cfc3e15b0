"""Identity gallery: enrol, search, persist. Embedded SQLite + FAISS by default, PostgreSQL + pgvector by URL."""

from reidkit.gallery.store import GalleryError, GalleryStore, Identity, Match, Sighting, open_gallery

__all__ = ["GalleryError", "GalleryStore", "Identity", "Match", "Sighting", "open_gallery"]
