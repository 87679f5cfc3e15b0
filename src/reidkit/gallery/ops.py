"""Gallery workflows with models: enrol images, index images and videos (every detection a sighting), search."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from reidkit.embed import Embedder
from reidkit.errors import ImageError, InputError, NotFoundError
from reidkit.gallery.store import GalleryStore, Match, Sighting
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
    return store_identity(store, name, vectors, model_key(embedder), infos, thumbs, identity_id, metadata)


def store_identity(
    store: GalleryStore,
    name: str,
    vectors: np.ndarray,
    model: str,
    infos: list[dict],
    thumbs: list[bytes | None],
    identity_id: int | None = None,
    metadata: dict | None = None,
    role: str = "person",
) -> tuple[int, list[int]]:
    """Sightings as a new identity `name` (in one transaction with them) or added to an existing one."""
    if identity_id is None:
        return store.add_person(name, vectors, model, infos, thumbs, metadata, role=role)
    infos = [dict(i, identity_id=identity_id) for i in infos]
    return identity_id, store.add_sightings(vectors, model, infos, thumbs, role=role)


class EnrolledLookup:
    """Is this crop one of the gallery's enrolled people (not an identity a tracking run created)? Embeds with
    the gallery's own person model and answers the identity whose sighting matches with calibrated P(same) of
    at least `threshold` (the bar tracking sets to give a track an old identity), else None. What `--blur ...
    --unblur-enrolled` spares."""

    def __init__(self, store: GalleryStore, threshold: float = 0.97) -> None:
        from reidkit.gallery.store import TRACKED

        self.store, self.threshold, self._tracked_key = store, threshold, TRACKED
        self._embedder: Embedder | None = None
        self._enrolled: dict[int, bool] = {}

    def __call__(self, person: np.ndarray) -> int | None:
        from reidkit.calibration_math import logistic
        from reidkit.verify import UNCALIBRATED

        model = self.store.model_of("person")
        if model is None:
            return None
        if self._embedder is None:
            self._embedder = Embedder(model)
        calibration = (self._embedder.spec.calibration if self._embedder.spec else None) or UNCALIBRATED
        query = self._embedder.embed(person)[0]
        for match in self.store.search(query, model_key(self._embedder), k=5, identities_only=True):
            identity = match.sighting.identity_id
            if identity is None or float(logistic(match.score, calibration)) < self.threshold:
                break  # best first: nothing further down matches either
            if self._is_enrolled(identity):
                return identity
        return None

    def _is_enrolled(self, identity: int) -> bool:
        if identity not in self._enrolled:
            self._enrolled[identity] = self._tracked_key not in self.store.identity(identity).metadata
        return self._enrolled[identity]


def search_image(
    store: GalleryStore, embedder: Embedder, image: ImageLike, k: int = 5, rerank: bool = True, **filters
) -> list[Match]:
    """Gallery matches of one query image (a person crop), best first; with `rerank`, the best RERANK_POOL
    candidates are reordered by k-reciprocal re-ranking and the first k returned."""
    query = embedder.embed(as_image(image))[0]
    if not rerank:
        return store.search(query, model_key(embedder), k, **filters)
    pool = store.search(query, model_key(embedder), max(k, RERANK_POOL), **filters)
    return rerank_matches(store, query, pool)[:k]


def search_photo(
    store: GalleryStore,
    embedder: Embedder,
    image: ImageLike,
    detector_factory,
    k: int = 5,
    box=None,
    rerank: bool = True,
    **filters,
) -> tuple[list[Match], list[float] | None]:
    """Search with any photo: a crop as it is, a given box, or the largest person detected (see query_crop);
    returns the matches and the box searched with (None: the whole image)."""
    person, chosen = query_crop(as_image(image), detector_factory, box)
    return search_image(store, embedder, person, k, rerank=rerank, **filters), chosen


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
    return store_identity(store, name, vectors, key, infos, thumbs, identity_id, metadata, role="face")


def search_face(
    store: GalleryStore, face_reid, image: ImageLike, k: int = 5, liveness: bool = False, **filters
) -> list[Match]:
    """Gallery face matches of the main face of an image, best first."""
    vectors, _, _ = face_sightings(face_reid, [image], liveness)
    return store.search(vectors[0], model_key(face_reid.embedder), k, role="face", **filters)


# -- queries from any photo, readable results ----------------------------------------------------------
CROP_ASPECT = 1.5  # an image at least this much taller than wide is taken as a person crop as it is
TRACK_GAP_S = 2.0  # unnamed sightings of one source this close in time (and place) are one track in results


def detect_people(image: np.ndarray, detector) -> list[dict]:
    """Every person the detector finds in an image, largest first: {"box": [x0, y0, x1, y1], "score": p}."""
    dets = detector.detect(image)
    areas = (dets.xyxy[:, 2] - dets.xyxy[:, 0]) * (dets.xyxy[:, 3] - dets.xyxy[:, 1])
    return [
        {"box": [round(float(v), 1) for v in dets.xyxy[k]], "score": round(float(dets.confidence[k]), 4)}
        for k in np.argsort(-areas, kind="stable")
    ]


def parse_box(text: str | None, width: int, height: int) -> list[float] | None:
    """`x0,y0,x1,y1` (pixels) as a box inside a width×height image; InputError naming what is wrong."""
    if text is None or not str(text).strip():
        return None
    try:
        box = [float(v) for v in str(text).split(",")]
    except ValueError:
        raise InputError(f"a box is x0,y0,x1,y1 in pixels, got {text!r}") from None
    if len(box) != 4 or not all(np.isfinite(box)):
        raise InputError(f"a box is four numbers x0,y0,x1,y1 in pixels, got {text!r}")
    x0, y0, x1, y1 = max(0.0, box[0]), max(0.0, box[1]), min(float(width), box[2]), min(float(height), box[3])
    if x1 - x0 < 4 or y1 - y0 < 8:
        raise InputError(f"the box {text} covers no usable part of the {width}×{height} image")
    return [x0, y0, x1, y1]


def query_crop(image: np.ndarray, detector_factory=None, box=None) -> tuple[np.ndarray, list[float] | None]:
    """The person crop to search with, and its box in the image (None when the image is used whole).

    A given `box` wins; an image already shaped like a person crop (at least CROP_ASPECT times taller than
    wide) is used as it is; otherwise people are detected and the largest one is taken."""
    h, w = image.shape[:2]
    chosen = parse_box(box, w, h) if isinstance(box, (str, type(None))) else parse_box(",".join(map(str, box)), w, h)
    if chosen is None and h >= CROP_ASPECT * w:
        return image, None
    if chosen is None:
        people = detect_people(image, detector_factory())
        if not people:
            raise ImageError(
                f"no person found in the {w}×{h} image: give a person crop, or the person's box (--box x0,y0,x1,y1)"
            )
        chosen = people[0]["box"]
    return crop(image, chosen), chosen


@dataclass
class MatchGroup:
    """Matches of one identity, or of one unnamed track (a source's sightings close in time and place)."""

    identity: int | None
    name: str | None
    matches: list[Match]

    def as_dict(self) -> dict:
        best = self.matches[0]
        return {
            "identity": self.identity,
            "name": self.name,
            "score": round(float(best.score), 6),
            "count": len(self.matches),
            "best": best.as_dict(),
            "matches": [m.as_dict() for m in self.matches],
        }


def group_matches(matches: list[Match]) -> list[MatchGroup]:
    """Group ranked matches by identity, and unnamed ones by track, keeping each group's best first and the
    groups in the order of their best match — so ten consecutive frames of one person fill one row, not ten.

    Unnamed sightings join a group of the same source and camera when one of its sightings is at most
    TRACK_GAP_S seconds away (or 50 frames without a time) and its box centre within a box height per second
    of that gap."""
    groups: list[MatchGroup] = []
    by_identity: dict[int, MatchGroup] = {}
    for m in matches:
        s = m.sighting
        if s.identity_id is not None:
            group = by_identity.get(s.identity_id)
            if group is None:
                group = by_identity[s.identity_id] = MatchGroup(s.identity_id, m.name, [])
                groups.append(group)
            group.matches.append(m)
            continue
        group = next(
            (g for g in groups if g.identity is None and any(_same_track(s, o.sighting) for o in g.matches)), None
        )
        if group is None:
            group = MatchGroup(None, None, [])
            groups.append(group)
        group.matches.append(m)
    return groups


def _same_track(a: Sighting, b: Sighting) -> bool:
    if not a.source or a.source != b.source or a.camera != b.camera or a.box is None or b.box is None:
        return False
    if a.time is not None and b.time is not None:
        gap = abs(a.time - b.time)
        if gap > TRACK_GAP_S:
            return False
    elif a.frame is not None and b.frame is not None:
        gap = abs(a.frame - b.frame) / 25.0
        if gap > 2.0:
            return False
    else:
        return False
    height = max(a.box[3] - a.box[1], b.box[3] - b.box[1], 1.0)
    dx = (a.box[0] + a.box[2] - b.box[0] - b.box[2]) / 2
    dy = (a.box[1] + a.box[3] - b.box[1] - b.box[3]) / 2
    return float(np.hypot(dx, dy)) <= height * (0.5 + gap)


def sighting_frame(sighting: Sighting) -> np.ndarray:
    """The frame a sighting was found in, read again from its source, with its box drawn (NotFoundError when
    the source is no longer readable)."""
    from reidkit.annotate import draw_box
    from reidkit.video import read_frames

    path = Path(sighting.source) if sighting.source else None
    if path is None or not path.is_file():
        raise NotFoundError(f"the source of sighting {sighting.sighting_id} is not available on this server")
    if path.suffix.lower() in STILL_SUFFIXES:
        frame = load_image(path)
    else:
        wanted = int(sighting.frame or 0)
        frame = next((f for i, f in read_frames(path, limit=wanted + 1) if i == wanted), None)
        if frame is None:
            raise NotFoundError(f"frame {wanted} of {path.name} could not be read")
    if sighting.box is not None:
        draw_box(frame, sighting.box, f"#{sighting.sighting_id}")
    return frame
