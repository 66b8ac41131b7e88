"""The COCO detection layout::

    coco/annotations/instances_<split>.json
    coco/images/<split>/<id><ext>

``images[].file_name`` is relative to ``coco/images/<split>/``; ``bbox`` is
``[x, y, width, height]`` in pixels from the top-left corner; category ids are 1… in the
spec's class order. The JSON is ASCII (Korean names escaped) so any reader's default
encoding loads it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from datakit.errors import ReleaseError
from datakit.labels import content_column
from datakit.spec.model import ProjectSpec

from ._media import MediaPlacer, iter_rows

ROOT = "coco"


def pixel_box(box: dict[str, Any], width: int, height: int) -> tuple[float, float, float, float]:
    """A release box (percent of the image, rotated clockwise by ``rotation`` degrees about its
    top-left corner, as Label Studio draws it) as the axis-aligned ``(x, y, w, h)`` in pixels
    that encloses it, clipped to the image."""
    x = float(box["x"]) * width / 100.0
    y = float(box["y"]) * height / 100.0
    w = float(box["width"]) * width / 100.0
    h = float(box["height"]) * height / 100.0
    angle = float(box.get("rotation") or 0.0)
    if angle % 360:
        t = math.radians(angle)
        c, s = math.cos(t), math.sin(t)
        xs = [x + dx * c - dy * s for dx, dy in ((0, 0), (w, 0), (w, h), (0, h))]
        ys = [y + dx * s + dy * c for dx, dy in ((0, 0), (w, 0), (w, h), (0, h))]
        x, y, w, h = min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)
    x0, y0 = min(max(x, 0.0), width), min(max(y, 0.0), height)
    x1, y1 = min(max(x + w, 0.0), width), min(max(y + h, 0.0), height)
    return x0, y0, x1 - x0, y1 - y0


def category_ids(spec: ProjectSpec) -> dict[str, int]:
    return {name: i for i, name in enumerate(spec.task.class_names, 1)}


def class_of(ids: dict[str, int], box: dict[str, Any], item: str, field: str) -> int:
    label = box.get("label")
    if label not in ids:
        raise ReleaseError(
            f"item {item}: {field} has a box labelled {label!r}, which is not a class of the task",
            hint="run `datakit check` and fix the label",
        )
    return ids[label]


def write_coco(
    spec: ProjectSpec,
    out: Path,
    shards: dict[str, list[dict[str, Any]]],
    placer: MediaPlacer,
    date: str,
    version: str,
) -> list[str]:
    content, label = content_column(spec), spec.task.label_field
    cats = category_ids(spec)
    ds = spec.dataset
    head = {
        "info": {
            "description": f"{ds.name_en} ({ds.name_ko})",
            "version": version,
            "year": int(date[:4]),
            "contributor": ds.organizations.builder or ds.id,
            "date_created": date,
        },
        "licenses": [{"id": 1, "name": ds.license, "url": ""}],
        "categories": [{"id": i, "name": n, "supercategory": "object"} for n, i in cats.items()],
    }
    written: list[str] = []
    for split, files in shards.items():
        images: list[dict[str, Any]] = []
        annotations: list[dict[str, Any]] = []
        for row in iter_rows(out, files, ["id", content, label], batch_size=64):
            item = str(row["id"])
            name = placer.file_name(item, row[content])
            width, height = placer.place(item, row[content], out / ROOT / "images" / split / name)
            image_id = len(images) + 1
            images.append(
                {
                    "id": image_id,
                    "file_name": name,
                    "width": width,
                    "height": height,
                    "license": 1,
                }
            )
            for box in row[label] or []:
                x, y, w, h = pixel_box(box, width, height)
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "image_id": image_id,
                        "category_id": class_of(cats, box, item, label),
                        "bbox": [round(v, 4) for v in (x, y, w, h)],
                        "area": round(w * h, 4),
                        "iscrowd": 0,
                    }
                )
            written.append(f"{ROOT}/images/{split}/{name}")
        path = out / ROOT / "annotations" / f"instances_{split}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {**head, "images": images, "annotations": annotations}
        path.write_text(json.dumps(doc, separators=(",", ":")) + "\n", encoding="ascii")
        written.append(path.relative_to(out).as_posix())
    return written
