"""Output files: atomic writes (temp file + rename) and checked output locations, with clear errors."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from reidkit.errors import ConfigError, ConflictError, InputError, NotFoundError


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """Write a file through a temporary file in the same folder, renamed over `path` only on success.

    A crash or an error mid-write leaves the previous file (or none) in place, never half a file.
    """
    path = Path(path)
    check_output_file(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def check_output_file(path: Path, suffixes: Sequence[str] = ()) -> Path:
    """`path` as a file to write: its folder exists, it is not a folder, its suffix is one of `suffixes`."""
    path = Path(path)
    check_suffix(path, suffixes)
    if path.is_dir():
        raise ConflictError(f"{path} is a folder; give a file name")
    if not path.parent.is_dir():
        raise NotFoundError(f"folder {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK):
        raise InputError(f"folder {path.parent} is not writable")
    return path


def check_suffix(path: Path, suffixes: Sequence[str]) -> None:
    """InputError unless `path` ends in one of `suffixes` (any suffix when none are given)."""
    if suffixes and path.suffix.lower() not in suffixes:
        raise InputError(f"{path}: the output must end in {' or '.join(suffixes)}")


def prepare_output_file(path: Path, suffixes: Sequence[str] = ()) -> Path:
    """Like check_output_file, creating missing parent folders first (outputs the user named)."""
    path = Path(path)
    check_suffix(path, suffixes)  # before any folder is made
    make_dir(path.parent)
    return check_output_file(path)


def make_dir(path: Path) -> Path:
    """Create an output folder (and its parents); ConflictError when a file is in the way."""
    path = Path(path)
    for part in (path, *path.parents):
        if part.exists() and not part.is_dir():
            raise ConflictError(f"{part} exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create folder {path}: {exc.strerror or exc}") from None
    return path


def read_toml(path: str | os.PathLike, what: str, missing_hint: str = "") -> dict:
    """A settings file's TOML as a dict: NotFoundError when missing ("{what} not found: PATH{hint}"),
    ConfigError when it is not UTF-8 TOML."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"{what} not found: {p}{missing_hint}")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what} {p} is not valid TOML: {exc}") from None
