"""Readers of label files made elsewhere, for ``datakit annotate import``.

Each format has one small module with ``detect(path) -> bool`` and ``read(path, ctx)``,
which yields :class:`SourceTask` records shaped like the tasks of a Label Studio JSON
export (``{"id", "data", "annotations": [{"id", "completed_by", "result"}]}``), in this
project's names (``--map`` already applied). The import then matches, normalises, checks
and merges them exactly as it does a Label Studio export (``importing.py``).

=============  ===========================================================================
format         what is read
=============  ===========================================================================
labelstudio    Label Studio JSON export (``[{"id", "data", "annotations"}]``)
json-min       Label Studio JSON-MIN export (one flat object per annotation)
csv            Label Studio CSV export (the JSON-MIN columns, nested values as JSON)
coco           COCO detection JSON (``images``, ``annotations``, ``categories``)
yolo           a YOLO folder: ``classes.txt`` + ``labels/**/*.txt`` (+ ``images/``)
aihub          AI Hub per-item label JSON: a release, its ``02.라벨링데이터`` folder or
               ``TL_``/``VL_`` zips, or a folder of ``<id>.json`` files
=============  ===========================================================================

Formats without task and annotation ids (coco, yolo, aihub) get ids derived from the item
and the format (:func:`stable_id`), so importing the same source again updates instead of
adding a second annotator.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from datakit.annotate.formats import aihub, coco, labelstudio, yolo
from datakit.annotate.formats.base import (
    CLASS_KEYS,
    FORMATS,
    FormatName,
    Mapping,
    ReadContext,
    SourceTask,
    stable_id,
)
from datakit.errors import InputError

__all__ = [
    "CLASS_KEYS",
    "FORMATS",
    "FormatName",
    "Mapping",
    "ReadContext",
    "SourceTask",
    "detect",
    "read",
    "stable_id",
]


def detect(path: Path) -> FormatName:
    """The format of ``path`` (module docstring), or an InputError that says what was seen."""
    if not path.exists():
        raise InputError("file or folder not found", file=str(path))
    for name, probe in (
        ("yolo", yolo.detect),
        ("coco", coco.detect),
        ("aihub", aihub.detect),
        ("csv", labelstudio.detect_csv),
        ("json-min", labelstudio.detect_json_min),
        ("labelstudio", labelstudio.detect_json),
    ):
        if probe(path):
            return name  # type: ignore[return-value]
    raise InputError(
        "cannot tell the format of this "
        + ("folder" if path.is_dir() else "file")
        + f" (one of {', '.join(FORMATS)})",
        file=str(path),
        field="--format",
        hint="give it with --format",
    )


def read(path: Path, fmt: str, ctx: ReadContext) -> Iterator[SourceTask]:
    readers = {
        "labelstudio": labelstudio.read_json,
        "json-min": labelstudio.read_json_min,
        "csv": labelstudio.read_csv,
        "coco": coco.read,
        "yolo": yolo.read,
        "aihub": aihub.read,
    }
    if fmt not in readers:
        raise InputError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})", field="--format")
    if not path.exists():
        raise InputError("file or folder not found", file=str(path))
    if fmt == "yolo" and not path.is_dir():
        raise InputError("is not a folder: YOLO labels are a folder", file=str(path))
    if fmt in ("labelstudio", "json-min", "csv", "coco") and not path.is_file():
        raise InputError(f"is not a file: {fmt} labels are one file", file=str(path))
    return readers[fmt](path, ctx)
