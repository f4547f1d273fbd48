"""The project files a card is drawn from (fonts, logo, photo): resolved paths and content digests.

Both are remembered: a cached card costs a stat and a lookup, not a read.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=32)
def _file_digest(path: Path, mtime_ns: int, size: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# The stamp (mtime in ns, size) each path's last digest was made under: `known_digest`.
_STAMPS: dict[Path, tuple[int, int, str]] = {}


def _digest(path: Path) -> str:
    stat = path.stat()
    digest = _file_digest(path, stat.st_mtime_ns, stat.st_size)
    if len(_STAMPS) > 256:
        _STAMPS.clear()
    _STAMPS[path] = (stat.st_mtime_ns, stat.st_size, digest)
    return digest


def known_digest(path: Path, mtime_ns: int, size: int) -> str | None:
    """The digest `_digest` gave `path` when it had this mtime and size; None if it did not."""
    known = _STAMPS.get(path)
    return known[2] if known is not None and known[:2] == (mtime_ns, size) else None


def _stamp_or_none(path: Path) -> tuple[int, int] | None:
    """(size, mtime in ns) of a file: what a card's key holds of its fonts and logo."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


def _digest_or_none(path: Path) -> str | None:
    try:
        return _digest(path)
    except OSError:
        return None


@lru_cache(maxsize=64)
def _resolved(root: Path, relative: str) -> Path:
    """`project.path(relative)`, remembered: resolving is most of a cache hit's cost."""
    return (root / relative).resolve()
