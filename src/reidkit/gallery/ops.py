"""Gallery workflows with models: enrol images, index images and videos (every detection a sighting), search."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from reidkit.embed import Embedder
from reidkit.errors import ReidkitError
from reidkit.gallery.store import GalleryStore, Match
from reidkit.images import IMAGE_SUFFIXES, ImageLike, as_image, load_image
from reidkit.preprocess import crop

STILL_SUFFIXES = {*IMAGE_SUFFIXES, ".pgm", ".webp"}  # `index` treats these as stills, anything else as video
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


def enroll(store: GalleryStore, embedder: Embedder, name: str, images: Sequence[ImageLike],
           identity_id: int | None = None, metadata: dict | None = None, camera: str = "") -> tuple[int, list[int]]:
    """Add images of one person (new identity `name`, or an existing `identity_id`); returns ids."""
    if not images:
        raise ReidkitError("enroll needs at least one image")
    bgr = [as_image(i) for i in images]
    vectors = embedder.embed(bgr)
    store.check_model(model_key(embedder), vectors.shape[1])
    ident = identity_id if identity_id is not None else store.add_identity(name, metadata)
    sources = [str(i) if isinstance(i, (str, os.PathLike)) else "" for i in images]
    infos = [{"identity_id": ident, "source": s, "camera": camera} for s in sources]
    return ident, store.add_sightings(vectors, model_key(embedder), infos, [thumbnail(b) for b in bgr])


def search_image(store: GalleryStore, embedder: Embedder, image: ImageLike, k: int = 5, **filters) -> list[Match]:
    """Gallery matches of one query image (a person crop), best first."""
    query = embedder.embed(as_image(image))[0]
    return store.search(query, model_key(embedder), k, **filters)


def index_paths(store: GalleryStore, embedder: Embedder, detector, paths: Sequence[str | Path], stride: int = 10,
                camera: str | None = None, progress: bool = True) -> dict:
    """Detect people in images and videos and store every detection as a sighting (box, frame, thumbnail)."""
    from tqdm import tqdm

    from reidkit.video import read_frames, video_info

    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.is_file())
        elif p.exists():
            files.append(p)
        else:
            raise ReidkitError(f"not found: {p}")
    stored = frames = 0
    for path in files:
        is_image = path.suffix.lower() in STILL_SUFFIXES
        if is_image:
            items = [(0, load_image(path))]
            fps = None
        else:
            info = video_info(path)
            items = read_frames(path, stride=stride)
            fps = info["fps"] or None
        cam = camera or path.stem
        for index, frame in tqdm(items, desc=path.name, unit="frame", disable=not progress or None, leave=False):
            frames += 1
            dets = detector.detect(frame)
            keep = [b for b in dets.xyxy if b[3] - b[1] >= 16 and b[2] - b[0] >= 4]
            if not keep:
                continue
            crops = [crop(frame, b) for b in keep]
            vectors = embedder.embed(crops)
            infos = [{"source": str(path), "camera": cam, "frame": None if is_image else index,
                      "time": None if (is_image or not fps) else index / fps,
                      "box": [round(float(v), 1) for v in b]} for b in keep]
            store.add_sightings(vectors, model_key(embedder), infos, [thumbnail(c) for c in crops])
            stored += len(keep)
    return {"files": len(files), "frames": frames, "sightings": stored}
