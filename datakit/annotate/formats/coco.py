"""COCO detection JSON: ``images`` (``id``, ``file_name``, ``width``, ``height``),
``categories`` (``id``, ``name``) and ``annotations`` (``image_id``, ``category_id``,
``bbox`` = ``[x, y, width, height]`` in pixels from the top-left corner).

Each image is one task, matched to an item by its ``file_name`` (full relative path, then
unique name or stem); its boxes become ``rectanglelabels`` in percent of the image, as
Label Studio's own COCO importer computes them. An image with no annotations is an image
labelled as holding no objects.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from datakit.annotate.formats.base import ReadContext, SourceTask
from datakit.errors import InputError

TOLERANCE_PX = 1.0  # boxes may overshoot the image by rounding; more than this is an error


def detect(path: Path) -> bool:
    if not (path.is_file() and path.suffix.lower() == ".json"):
        return False
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    if not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return False
    return b'"images"' in head or b'"categories"' in head


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def read(path: Path, ctx: ReadContext) -> Iterator[SourceTask]:
    ctx.require_detection("COCO", path)
    file = str(path)
    try:
        with path.open(encoding="utf-8-sig") as fh:
            coco = json.load(fh)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"not COCO JSON: {exc}", file=file) from None
    if not isinstance(coco, dict):
        raise InputError("is not a JSON object (not COCO JSON)", file=file)
    for key in ("images", "annotations", "categories"):
        if not isinstance(coco.get(key), list):
            raise InputError(
                f"{key} is missing or not a list (not COCO JSON)", file=file, field=key
            )
    categories: dict[Any, str] = {}
    for i, cat in enumerate(coco["categories"]):
        if not isinstance(cat, dict) or "id" not in cat or not isinstance(cat.get("name"), str):
            raise InputError(
                "needs an id and a name", file=file, item=f"categories[{i}]", field="name"
            )
        categories[cat["id"]] = ctx.mapping(cat["name"])
    images: dict[Any, dict[str, Any]] = {}
    for i, img in enumerate(coco["images"]):
        where = f"image {img.get('id')!r}" if isinstance(img, dict) else f"images[{i}]"
        if not isinstance(img, dict) or "id" not in img:
            raise InputError("is not an object with an id", file=file, item=where, field="id")
        if not isinstance(img.get("file_name"), str) or not img["file_name"]:
            raise InputError("has no file_name", file=file, item=where, field="file_name")
        for dim in ("width", "height"):
            v = _number(img.get(dim))
            if v is None or v <= 0:
                raise InputError(
                    f"{dim} is {img.get(dim)!r}, not a size in pixels (boxes are converted "
                    "to percent of the image)",
                    file=file,
                    item=f"{where} ({img['file_name']})",
                    field=dim,
                )
        images[img["id"]] = img
    boxes: dict[Any, list[dict[str, Any]]] = {k: [] for k in images}
    for i, ann in enumerate(coco["annotations"]):
        aid = ann.get("id", i) if isinstance(ann, dict) else i
        where = f"annotation {aid}"
        if not isinstance(ann, dict):
            raise InputError("is not an object", file=file, item=f"annotations[{i}]")
        if ann.get("image_id") not in images:
            raise InputError(
                f"image_id {ann.get('image_id')!r} is not one of the file's images",
                file=file,
                item=where,
                field="image_id",
            )
        if ann.get("category_id") not in categories:
            raise InputError(
                f"category_id {ann.get('category_id')!r} is not one of the file's categories "
                f"{sorted(categories.values())}",
                file=file,
                item=where,
                field="category_id",
            )
        img = images[ann["image_id"]]
        bbox = ann.get("bbox")
        nums = [_number(v) for v in bbox] if isinstance(bbox, list) else []
        if len(nums) != 4 or any(v is None for v in nums):
            raise InputError(
                f"bbox is {bbox!r}, not [x, y, width, height]", file=file, item=where, field="bbox"
            )
        x, y, w, h = (float(v) for v in nums)  # type: ignore[arg-type]
        width, height = float(img["width"]), float(img["height"])
        t = TOLERANCE_PX
        if w <= 0 or h <= 0 or x < -t or y < -t or x + w > width + t or y + h > height + t:
            raise InputError(
                f"bbox {bbox!r} is not inside the {img['width']}×{img['height']} image "
                f"{img['file_name']!r}",
                file=file,
                item=where,
                field="bbox",
            )
        w -= max(-x, 0.0) + max(x + w - width, 0.0)  # clip an overshoot by rounding
        h -= max(-y, 0.0) + max(y + h - height, 0.0)
        x0, y0 = max(x, 0.0), max(y, 0.0)
        boxes[ann["image_id"]].append(
            {
                "from_name": ctx.label_field,
                "to_name": ctx.data_key,
                "type": "rectanglelabels",
                "value": {
                    "x": x0 / width * 100.0,
                    "y": y0 / height * 100.0,
                    "width": w / width * 100.0,
                    "height": h / height * 100.0,
                    "rotation": 0,
                    "rectanglelabels": [categories[ann["category_id"]]],
                },
            }
        )
    for image_id, img in images.items():
        task = {
            "data": {ctx.data_key: img["file_name"]},
            "annotations": [{"completed_by": {"email": "import:coco"}, "result": boxes[image_id]}],
        }
        yield SourceTask(task, f"image {image_id!r} ({img['file_name']})", synthetic=True)
