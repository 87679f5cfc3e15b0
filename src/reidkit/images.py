"""Image I/O: read files and uploads into BGR uint8 arrays, with clear errors and a pixel limit.

Every decode reads the size the file declares *before* decoding it, so a small file that declares a huge
picture (a decompression bomb) is refused in microseconds instead of taking gigabytes. The limit is
`MAX_PIXELS` (50 megapixels, more than any phone photo or 8K frame), or `$REIDKIT_MAX_PIXELS`.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Union

DEFAULT_MAX_PIXELS = 50_000_000
# OpenCV's own ceiling (it refuses larger images itself); ours is checked first, with a clearer message
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(4 * DEFAULT_MAX_PIXELS))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from reidkit.errors import ConfigError, ImageError  # noqa: E402
from reidkit.preprocess import to_bgr  # noqa: E402

ImageLike = Union[str, os.PathLike, np.ndarray]
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")  # what dataset folders and frame folders hold
STILL_SUFFIXES = (*IMAGE_SUFFIXES, ".pgm", ".ppm", ".pbm", ".webp", ".gif", ".tif", ".tiff")  # any still image
WRITE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")  # what `faces align -o` can write
MIN_SIDE = 8  # pixels: smaller images cannot hold a recognisable person or face


def max_pixels() -> int:
    """The decode limit in pixels: $REIDKIT_MAX_PIXELS, or DEFAULT_MAX_PIXELS."""
    value = os.environ.get("REIDKIT_MAX_PIXELS", "").strip()
    if not value:
        return DEFAULT_MAX_PIXELS
    try:
        limit = int(float(value))
    except ValueError:
        raise ConfigError(f"REIDKIT_MAX_PIXELS must be a number of pixels, got {value!r}") from None
    if limit < MIN_SIDE * MIN_SIDE:
        raise ConfigError(f"REIDKIT_MAX_PIXELS must be at least {MIN_SIDE * MIN_SIDE}, got {limit}")
    return limit


def declared_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) that an image file's header declares, read without decoding; None if unknown."""
    try:
        return _declared_size(memoryview(data))
    except (struct.error, IndexError, ValueError):
        return None


def _declared_size(b: memoryview) -> tuple[int, int] | None:
    head = bytes(b[:32])
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return struct.unpack(">II", b[16:24])
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return _gif_size(b)
    if head.startswith(b"BM"):
        w, h = struct.unpack("<ii", b[18:26])
        return abs(w), abs(h)
    if head.startswith(b"\xff\xd8"):
        return _jpeg_size(b)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return _webp_size(b)
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return _tiff_size(b)
    if head[:1] == b"P" and head[1:2] in b"123456" and len(head) > 2:
        numbers: list[int] = []
        for line in bytes(b[2:512]).split(b"\n"):
            if not line.startswith(b"#"):
                numbers += [int(t) for t in line.split()]
            if len(numbers) >= 2:
                return numbers[0], numbers[1]
        return None
    return None


def _jpeg_size(b: memoryview) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(b):
        if b[i] != 0xFF:
            i += 1
            continue
        marker = b[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            i += 1 if marker == 0xFF else 2
            continue
        length = struct.unpack(">H", b[i + 2 : i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", b[i + 5 : i + 9])
            return w, h
        i += 2 + length
    return None


def _gif_size(b: memoryview) -> tuple[int, int] | None:
    """The first frame's size from its image descriptor (the screen size alone proves nothing)."""
    flags = b[10]
    i = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    while i < len(b):
        if b[i] == 0x2C:
            w, h = struct.unpack("<HH", b[i + 5 : i + 9])
            return w, h
        if b[i] != 0x21:
            return None
        i += 2
        while b[i]:  # extension sub-blocks
            i += b[i] + 1
        i += 1
    return None


def _webp_size(b: memoryview) -> tuple[int, int] | None:
    chunk = bytes(b[12:16])
    if chunk == b"VP8 ":
        w, h = struct.unpack("<HH", b[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L":
        bits = int.from_bytes(bytes(b[21:25]), "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        return int.from_bytes(bytes(b[24:27]), "little") + 1, int.from_bytes(bytes(b[27:30]), "little") + 1
    return None


def _tiff_size(b: memoryview) -> tuple[int, int] | None:
    order = "<" if bytes(b[:2]) == b"II" else ">"
    offset = struct.unpack(order + "I", b[4:8])[0]
    count = struct.unpack(order + "H", b[offset : offset + 2])[0]
    size = {}
    for k in range(count):
        entry = offset + 2 + 12 * k
        tag, kind = struct.unpack(order + "HH", b[entry : entry + 4])
        if tag in (256, 257):
            value = struct.unpack(order + ("H" if kind == 3 else "I"), b[entry + 8 : entry + (10 if kind == 3 else 12)])
            size[tag] = value[0]
    return (size[256], size[257]) if len(size) == 2 else None


def check_declared_size(data: bytes, what: str) -> None:
    """ImageError when the header declares more pixels than the limit (or an empty picture)."""
    size = declared_size(data)
    if size is None:
        return
    w, h = size
    limit = max_pixels()
    if w * h > limit:
        raise ImageError(
            f"{what}: declares {w}×{h} pixels ({w * h / 1e6:.0f} MP), over the limit of "
            f"{limit / 1e6:.0f} MP (set REIDKIT_MAX_PIXELS to allow more)"
        )


def normalise_pixels(image: np.ndarray, what: str) -> np.ndarray:
    """Decoded pixels of any depth (8/16-bit, float) as H×W×3 uint8 BGR, refusing tiny images."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype in (np.float32, np.float64):
        image = (np.clip(np.nan_to_num(image), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ImageError(f"{what}: unsupported pixel type {image.dtype}")
    bgr = to_bgr(image, "bgr", what=what)
    if min(bgr.shape[:2]) < MIN_SIDE:
        raise ImageError(
            f"{what}: the image is {bgr.shape[1]}×{bgr.shape[0]} pixels, too small to hold a person "
            f"or a face (at least {MIN_SIDE}×{MIN_SIDE})"
        )
    return bgr


def _imdecode(data: bytes, what: str) -> np.ndarray | None:
    """OpenCV's decode of bytes whose declared size is within the limit; None when OpenCV cannot decode them."""
    check_declared_size(data, what)
    try:
        return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        return None


def decode_image(data: bytes, what: str = "image") -> np.ndarray:
    """Encoded image bytes (JPEG, PNG 8/16-bit, BMP, WebP, TIFF, PNM, ...) as H×W×3 uint8 BGR, or ImageError."""
    if not data:
        raise ImageError(f"{what}: the image is empty (0 bytes)")
    image = _imdecode(data, what)
    if image is None:
        raise ImageError(f"{what}: not a decodable image (corrupt, or not JPEG, PNG, BMP, WebP, TIFF or PNM)")
    return normalise_pixels(image, what)


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file (any format OpenCV decodes, GIF first frame included) as H×W×3 uint8 BGR."""
    p = Path(path)
    what = str(p)
    try:
        if not p.exists():
            raise ImageError(f"image not found: {p}")
        if not p.is_file():
            raise ImageError(f"not a file: {p}")
        data = p.read_bytes()
    except OSError as exc:
        raise ImageError(f"cannot read image {p}: {exc.strerror or exc}") from None
    if not data:
        raise ImageError(f"image file is empty: {p}")
    image = _imdecode(data, what)
    if image is None:
        image = _decode_with_videocapture(p)
    if image is None:
        raise ImageError(f"cannot decode image (corrupt or unsupported format; not a decodable image): {p}")
    return normalise_pixels(image, what)


def _decode_with_videocapture(p: Path) -> np.ndarray | None:
    """Fallback for formats imdecode lacks (GIF): the first frame through VideoCapture."""
    if p.suffix.lower() != ".gif":
        return None
    cap = cv2.VideoCapture(str(p))
    try:
        ok, frame = cap.read()
    except cv2.error:
        ok, frame = False, None
    finally:
        cap.release()
    return frame if ok else None


def as_image(item: ImageLike, color: str = "bgr") -> np.ndarray:
    """A path or an array (in `color` order) as H×W×3 uint8 BGR."""
    if isinstance(item, (str, os.PathLike)):
        return load_image(item)
    return to_bgr(item, color)


def is_single(images: ImageLike | Sequence[ImageLike]) -> bool:
    """True for one image (path or H×W[×C] array), False for a list or an N×H×W×C array."""
    if isinstance(images, (str, os.PathLike)):
        return True
    if isinstance(images, np.ndarray):
        return images.ndim in (2, 3)
    return False


def as_list(images: ImageLike | Iterable[ImageLike]) -> list[ImageLike]:
    """One image or many as a list of images."""
    if is_single(images):
        return [images]  # type: ignore[list-item]
    return list(images)  # type: ignore[arg-type]
