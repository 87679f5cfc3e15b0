"""Gallery workflows with models: enrol images, index images and videos (every detection a sighting), search."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from reidkit.embed import Embedder
from reidkit.errors import ImageError, InputError, NotFoundError
from reidkit.gallery.store import GalleryStore, Match
from reidkit.images import STILL_SUFFIXES, ImageLike, as_image, load_image
from reidkit.preprocess import crop

THUMB_HEIGHT = 128
RERANK_POOL = 100  # candidates that k-reciprocal re-ranking reorders
MIN_FACE_TO_STORE = 16  # pixels: smaller faces found in footage are not stored
MIN_FACE_TO_ENROL = 24  # pixels: an enrolment or query face must be at least this wide


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
    attributes=None,
) -> tuple[int, list[int]]:
    """Add images of one person (new identity `name`, or an existing `identity_id`); returns ids.

    With `attributes` (an AttributeRecognizer) each sighting stores the crop's person attributes.

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
    infos = [{"source": s, "camera": camera, **extra} for s, extra in zip(sources, attribute_fields(attributes, bgr))]
    thumbs = [thumbnail(b) for b in bgr]
    if identity_id is None:
        return store.add_person(name, vectors, model_key(embedder), infos, thumbs, metadata)
    infos = [dict(i, identity_id=identity_id) for i in infos]
    return identity_id, store.add_sightings(vectors, model_key(embedder), infos, thumbs)


def search_image(
    store: GalleryStore, embedder: Embedder, image: ImageLike, k: int = 5, rerank: bool = False, **filters
) -> list[Match]:
    """Gallery matches of one query image (a person crop), best first; with `rerank`, the best RERANK_POOL
    candidates are reordered by k-reciprocal re-ranking and the first k returned."""
    query = embedder.embed(as_image(image))[0]
    if not rerank:
        return store.search(query, model_key(embedder), k, **filters)
    pool = store.search(query, model_key(embedder), max(k, RERANK_POOL), **filters)
    return rerank_matches(store, query, pool)[:k]


def rerank_matches(store: GalleryStore, query: np.ndarray, matches: list[Match]) -> list[Match]:
    """Reorder search matches by k-reciprocal re-ranking (Zhong et al. 2017) of the query among them: only the
    candidates' own distances to each other are used, so the cost depends on the pool, not the gallery.
    Scores stay the cosine similarities; the order changes."""
    from reidkit.metrics.reid import cosine_distance, re_ranking

    if len(matches) < 3:
        return matches
    gallery = store.embeddings_of([m.sighting.sighting_id for m in matches])
    q = np.asarray(query, np.float32).reshape(1, -1)
    k1 = min(20, len(matches) - 1)
    dist = re_ranking(
        cosine_distance(q, gallery), cosine_distance(q, q), cosine_distance(gallery, gallery), k1, min(6, k1), 0.3
    )[0]
    return [matches[i] for i in np.argsort(dist, kind="stable")]


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


class PersonFinder:
    """What `index` stores of a frame for persons: detected people, their crops and re-id embeddings."""

    role = "person"

    def __init__(self, embedder: Embedder, detector, min_height: float = 16.0, attributes=None) -> None:
        self.embedder, self.detector, self.min_height = embedder, detector, min_height
        self.attributes = attributes  # an AttributeRecognizer, or None
        self.model = model_key(embedder)

    def __call__(self, frame: np.ndarray) -> tuple[list, list, np.ndarray, list[dict]]:
        """(boxes, crops, embeddings, extra sighting fields) of the people of a frame."""
        dets = self.detector.detect(frame)
        boxes = [b for b in dets.xyxy if b[3] - b[1] >= self.min_height and b[2] - b[0] >= 4]
        crops = [crop(frame, b) for b in boxes]
        vectors = self.embedder.embed(crops) if crops else np.zeros((0, 0), np.float32)
        return boxes, crops, vectors, attribute_fields(self.attributes, crops)


class FaceFinder:
    """What `index --faces` stores of a frame: detected faces, their crops and face embeddings (aligned)."""

    role = "face"

    def __init__(self, face_reid, min_size: float = MIN_FACE_TO_STORE) -> None:
        self.face_reid, self.min_size = face_reid, min_size
        self.model = model_key(face_reid.embedder)

    def __call__(self, frame: np.ndarray) -> tuple[list, list, np.ndarray, list[dict]]:
        """(boxes, crops, embeddings, extra sighting fields) of the faces of a frame."""
        faces = [f for f in self.face_reid.faces(frame) if min(f.box[2:] - f.box[:2]) >= self.min_size]
        boxes = [f.box for f in faces]
        vectors = self.face_reid.embed_faces(frame, faces)
        return boxes, [crop(frame, b) for b in boxes], vectors, [{} for _ in boxes]


def attribute_fields(recognizer, crops: Sequence[np.ndarray]) -> list[dict]:
    """`{"attributes": ...}` per person crop (empty dicts without a recognizer)."""
    if recognizer is None or not len(crops):
        return [{} for _ in crops]
    return [{"attributes": a.as_dict()} for a in recognizer(crops)]


def index_paths(
    store: GalleryStore,
    embedder: Embedder,
    detector,
    paths: Sequence[str | Path],
    stride: int = 10,
    camera: str | None = None,
    progress: bool = True,
    min_height: float = 16.0,
    attributes=None,
) -> dict:
    """Detect people in images and videos and store every detection as a sighting (box, frame, thumbnail, and
    person attributes with an AttributeRecognizer)."""
    finder = PersonFinder(embedder, detector, min_height, attributes)
    return index_media(store, finder, paths, stride, camera, progress)


def index_faces(
    store: GalleryStore,
    face_reid,
    paths: Sequence[str | Path],
    stride: int = 10,
    camera: str | None = None,
    progress: bool = True,
) -> dict:
    """Detect faces in images and videos and store every face as a face sighting (box, frame, thumbnail)."""
    return index_media(store, FaceFinder(face_reid), paths, stride, camera, progress)


def index_media(
    store: GalleryStore,
    finder,
    paths: Sequence[str | Path],
    stride: int = 10,
    camera: str | None = None,
    progress: bool = True,
) -> dict:
    """Store what `finder` finds in every frame of images and videos as sightings of its role.

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
                count, new = _index_frame(store, finder, frame, path, cam, index, fps)
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


def _index_frame(store, finder, frame, path: Path, cam: str, index: int, fps) -> tuple[int, int]:
    """Store what the finder finds in one frame; returns (found, sightings newly stored)."""
    boxes, crops, vectors, extras = finder(frame)
    if not boxes:
        return 0, 0
    infos = [
        {
            "source": str(path),
            "camera": cam,
            "frame": index,
            "time": index / fps if fps else None,
            "box": [round(float(v), 1) for v in b],
            **extra,
        }
        for b, extra in zip(boxes, extras)
    ]
    ids = store.add_sightings(vectors, finder.model, infos, [thumbnail(c) for c in crops], role=finder.role)
    return len(boxes), len(ids)


# -- faces ----------------------------------------------------------------------------------------
def face_sightings(face_reid, images: Sequence[ImageLike], liveness: bool = False, sources=None, names=None):
    """(embeddings, sighting dicts, thumbnails) of the main face of each image, every image checked first:
    a face must be found, be at least MIN_FACE_TO_ENROL pixels wide, and (with `liveness`) look live.

    `sources` are stored with the sightings (paths name themselves); `names` name the images in messages."""
    from reidkit.faces.reid import NoFaceError

    pictures = [as_image(i) for i in images]
    if sources is None:
        sources = [str(i) if isinstance(i, (str, os.PathLike)) else "" for i in images]
    names = names or [s or f"image {k + 1}" for k, s in enumerate(sources)]
    found = []
    for picture, source in zip(pictures, names):
        faces = face_reid.faces(picture)
        if not faces:
            raise NoFaceError(f"{source}: no face found")
        face = faces[0]
        width = float(min(face.box[2:] - face.box[:2]))
        if width < MIN_FACE_TO_ENROL:
            raise ImageError(
                f"{source}: the face is only {width:.0f} pixels wide; at least {MIN_FACE_TO_ENROL} are needed"
            )
        if liveness:
            face_reid.require_live(picture, names=[source])
        found.append(face)
    vectors = np.concatenate([face_reid.embed_faces(p, [f]) for p, f in zip(pictures, found)])
    infos = [{"source": s, "box": [round(float(v), 1) for v in f.box]} for s, f in zip(sources, found)]
    thumbs = [thumbnail(crop(p, f.box)) for p, f in zip(pictures, found)]
    return vectors, infos, thumbs


def enroll_faces(
    store: GalleryStore,
    face_reid,
    name: str,
    images: Sequence[ImageLike],
    identity_id: int | None = None,
    metadata: dict | None = None,
    camera: str = "",
    sources: Sequence[str] | None = None,
    liveness: bool = False,
) -> tuple[int, list[int]]:
    """Enrol the main face of each image (new identity `name`, or an existing `identity_id`); returns ids.

    Nothing is written unless every image has a usable face (and, with `liveness`, a live one)."""
    if not images:
        raise InputError("enroll needs at least one image")
    found = face_sightings(face_reid, images, liveness, sources)
    return store_faces(store, face_reid, name, found, identity_id, metadata, camera)


def store_faces(
    store: GalleryStore,
    face_reid,
    name: str,
    found: tuple,
    identity_id: int | None = None,
    metadata: dict | None = None,
    camera: str = "",
) -> tuple[int, list[int]]:
    """Write faces checked and embedded by `face_sightings` as a new identity or to an existing one."""
    vectors, infos, thumbs = found
    infos = [dict(i, camera=camera) for i in infos]
    key = model_key(face_reid.embedder)
    store.check_model(key, vectors.shape[1], "face")
    if identity_id is None:
        return store.add_person(name, vectors, key, infos, thumbs, metadata, role="face")
    infos = [dict(i, identity_id=identity_id) for i in infos]
    return identity_id, store.add_sightings(vectors, key, infos, thumbs, role="face")


def search_face(
    store: GalleryStore, face_reid, image: ImageLike, k: int = 5, liveness: bool = False, **filters
) -> list[Match]:
    """Gallery face matches of the main face of an image, best first."""
    vectors, _, _ = face_sightings(face_reid, [image], liveness)
    return store.search(vectors[0], model_key(face_reid.embedder), k, role="face", **filters)
