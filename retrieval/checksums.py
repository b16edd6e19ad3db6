"""sha256 checksums of cached files (indexes, exported models), recorded when they are written and checked when
they are loaded, so a damaged cache is rebuilt or refused instead of used."""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as data:
        while chunk := data.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def folder_checksums(folder: Path, leave_out: tuple[str, ...] = ()) -> dict[str, str]:
    """`{relative path: sha256}` of every file under `folder` (paths with `/`), except the names in `leave_out`."""
    folder = Path(folder)
    return {path.relative_to(folder).as_posix(): sha256_file(path) for path in sorted(folder.rglob("*"))
            if path.is_file() and path.relative_to(folder).as_posix() not in leave_out}


def mismatches(folder: Path, expected: dict[str, str]) -> list[str]:
    """The files of `expected` that are missing under `folder` or whose content differs."""
    folder = Path(folder)
    return [name for name, digest in expected.items()
            if not (folder / name).is_file() or sha256_file(folder / name) != digest]


def file_version_key(path: Path) -> str:
    """A short key that changes when the file at `path` is replaced (its path, size and modification time): names
    the cached copies made from it without reading it."""
    import hashlib

    stat = Path(path).stat()
    return hashlib.sha1(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
