"""Gallery workflows with models: enrol images, index images and videos (every detection a sighting), search."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from reidkit.embed import Embedder
from reidkit.errors import InputError, NotFoundError
from reidkit.gallery.store import GalleryStore, Match
from reidkit.images import STILL_SUFFIXES, ImageLike, as_image, load_image
from reidkit.preprocess import crop

THUMB_HEIGHT = 128


def thumbnail(image: np.ndarray, height: int = THUMB_HEIGHT) -> bytes:
    """A small JPEG of a crop, for result pages."""
    h, w = image.shape[:2]
    scale = height / max(h, 1)
    small = cv2.resize(image, (max(1, int(round(w * scale))), height), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return data.tobytes() if ok else b""


def model_key(embedder: Embedder) -> str:
    """The model identity stored with embeddings (precisions of one model are comparable: cosine > 0.99)."""
    return embedder.name


def enroll(
    store: GalleryStore,
    embedder: Embedder,
    name: str,
    images: Sequence[ImageLike],
    identity_id: int | None = None,
    metadata: dict | None = None,
    camera: str = "",
    sources: Sequence[str] | None = None,
) -> tuple[int, list[int]]:
    """Add images of one person (new identity `name`, or an existing `identity_id`); returns ids.

    `sources` names arrays given in `images` (paths name themselves).

    Every image is read and embedded before anything is written, and a new identity is created together with
    its sightings in one transaction: a bad image stores nothing.
    """
    if not images:
        raise InputError("enroll needs at least one image")
    bgr = [as_image(i) for i in images]
    vectors = embedder.embed(bgr)
    store.check_model(model_key(embedder), vectors.shape[1])
    if sources is None:
        sources = [str(i) if isinstance(i, (str, os.PathLike)) else "" for i in images]
    infos = [{"source": s, "camera": camera} for s in sources]
    thumbs = [thumbnail(b) for b in bgr]
    if identity_id is None:
        return store.add_person(name, vectors, model_key(embedder), infos, thumbs, metadata)
    infos = [dict(i, identity_id=identity_id) for i in infos]
    return identity_id, store.add_sightings(vectors, model_key(embedder), infos, thumbs)


def search_image(store: GalleryStore, embedder: Embedder, image: ImageLike, k: int = 5, **filters) -> list[Match]:
    """Gallery matches of one query image (a person crop), best first."""
    query = embedder.embed(as_image(image))[0]
    return store.search(query, model_key(embedder), k, **filters)


def media_files(paths: Sequence[str | Path]) -> list[Path]:
    """The files to index: the given files, and every file under the given folders (hidden ones skipped)."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            try:
                found = sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
            except OSError as exc:  # a symlink loop, an unreadable folder
                raise InputError(f"cannot list {p}: {exc.strerror or exc}") from None
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise NotFoundError(f"not found: {p}")
    return files


def _frames_of(path: Path, stride: int):
    """(frames, fps, reader) of a still image or a video; InputError when neither can be read."""
    from reidkit.video import FrameReader, video_info

    if path.suffix.lower() in STILL_SUFFIXES:
        return [(0, load_image(path))], None, None
    info = video_info(path)
    reader = FrameReader(path, stride=stride)
    return reader, info["fps"] or None, reader


def index_paths(
    store: GalleryStore,
    embedder: Embedder,
    detector,
    paths: Sequence[str | Path],
    stride: int = 10,
    camera: str | None = None,
    progress: bool = True,
    min_height: float = 16.0,
) -> dict:
    """Detect people in images and videos and store every detection as a sighting (box, frame, thumbnail).

    Files that are neither a readable image nor a readable video are skipped and listed under `skipped`;
    a sighting already stored (same source, frame and box) is not stored again, so indexing is idempotent.
    """
    from tqdm import tqdm

    if stride < 1:
        raise InputError(f"stride must be at least 1, got {stride}")
    files = media_files(paths)
    stored = frames = detected = 0
    skipped: list[dict] = []
    warnings: list[str] = []
    for path in files:
        try:
            items, fps, reader = _frames_of(path, stride)
            cam = camera or path.stem
            for index, frame in tqdm(items, desc=path.name, unit="frame", disable=not progress or None, leave=False):
                frames += 1
                count, new = _index_frame(
                    store, embedder, detector, frame, path, cam, index, fps, reader is None, min_height
                )
                detected += count
                stored += new
        except InputError as exc:
            skipped.append({"file": str(path), "reason": str(exc)})
            continue
        notice = reader.shortfall() if reader is not None else None
        if notice:
            warnings.append(notice)
    return {
        "files": len(files) - len(skipped),
        "frames": frames,
        "sightings": stored,
        "already_stored": detected - stored,
        "skipped": skipped,
        "warnings": warnings,
    }


def _index_frame(
    store, embedder, detector, frame, path: Path, cam: str, index: int, fps, still: bool, min_height: float
) -> tuple[int, int]:
    """Store the people of one frame; returns (detections kept, sightings newly stored)."""
    dets = detector.detect(frame)
    keep = [b for b in dets.xyxy if b[3] - b[1] >= min_height and b[2] - b[0] >= 4]
    if not keep:
        return 0, 0
    crops = [crop(frame, b) for b in keep]
    vectors = embedder.embed(crops)
    infos = [
        {
            "source": str(path),
            "camera": cam,
            "frame": None if still else index,
            "time": None if (still or not fps) else index / fps,
            "box": [round(float(v), 1) for v in b],
        }
        for b in keep
    ]
    ids = store.add_sightings(vectors, model_key(embedder), infos, [thumbnail(c) for c in crops])
    return len(keep), len(ids)
