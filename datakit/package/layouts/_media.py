"""Reading the release's rows back from its shards, and placing their images in a layout."""

from __future__ import annotations

import io
import os
import shutil
import unicodedata
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pyarrow.parquet as pq

from datakit.errors import ReleaseError


def iter_rows(
    out: Path, files: list[dict[str, Any]], columns: list[str], batch_size: int = 256
) -> Iterator[dict[str, Any]]:
    """The rows of one split's shards, in shard order, with only ``columns``."""
    for shard in files:
        pf = pq.ParquetFile(out / shard["path"])
        for batch in pf.iter_batches(batch_size=batch_size, columns=columns):
            yield from batch.to_pylist()


class MediaPlacer:
    """Puts an image of the release at a path of a layout, reading each image once.

    The first placement of an item writes its bytes (embedded media) or hard-links the
    release's ``files/`` copy (referenced media); later placements of the same item hard-link
    the first. Where the file system refuses a link, the file is copied."""

    def __init__(self, out: Path, *, remember: bool = True) -> None:
        self.out = out
        self.remember = remember  # off when only one layout places images: saves the memory
        self._placed: dict[str, tuple[Path, tuple[int, int]]] = {}

    @staticmethod
    def file_name(item: str, cell: Any) -> str:
        """``<id><ext>``: the name the release gives the item's file (NFC)."""
        path = cell.get("path") if isinstance(cell, dict) else cell
        name = PurePosixPath(str(path)).name if path else f"{item}.png"
        return unicodedata.normalize("NFC", name)

    def place(self, item: str, cell: Any, dest: Path) -> tuple[int, int]:
        """Put the item's image at ``dest``; returns its (width, height) in pixels."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        if item in self._placed:
            first, size = self._placed[item]
            _link_or_copy(first, dest)
            return size
        if isinstance(cell, dict):
            data = cell.get("bytes")
            if not data:
                raise ReleaseError(f"item {item}: the shard holds no image bytes")
            dest.write_bytes(data)
            size = image_size(io.BytesIO(data), item)
        elif cell:
            src = self.out / str(cell)
            if not src.is_file():
                raise ReleaseError(f"item {item}: {cell} is not in the release")
            _link_or_copy(src, dest)
            size = image_size(dest, item)
        else:
            raise ReleaseError(f"item {item}: the shard holds no image")
        if self.remember:
            self._placed[item] = (dest, size)
        return size


def image_size(path: Path | io.BytesIO, item: str) -> tuple[int, int]:
    """(width, height) of the stored image, from its header."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:  # reads the header only
            return int(im.width), int(im.height)
    except (UnidentifiedImageError, OSError) as exc:
        raise ReleaseError(f"item {item}: the image cannot be read ({exc})") from exc


def _link_or_copy(src: Path, dest: Path) -> None:
    if dest.exists():
        dest.unlink()
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)
