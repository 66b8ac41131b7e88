"""The Ultralytics YOLO detection layout::

    yolo/data.yaml                      train/val/test image folders, names {0: class, …}
    yolo/images/<split>/<id><ext>
    yolo/labels/<split>/<id>.txt        one "class cx cy w h" line per box, 0…1 of the image

Ultralytics finds each image's label file by replacing ``/images/`` with ``/labels/`` and the
extension with ``.txt``; an image without boxes gets an empty file (a background image).
``data.yaml`` has no ``path``: Ultralytics then reads the folders relative to the yaml file,
so the folder can be moved as it is. The validation split is ``val`` in ``data.yaml``, as
Ultralytics requires; the folders keep the release's split names.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from datakit.labels import content_column
from datakit.spec.model import ProjectSpec

from ._media import MediaPlacer, iter_rows
from .coco import class_of, pixel_box

ROOT = "yolo"
YAML_KEYS = {"train": "train", "validation": "val", "test": "test"}


def write_yolo(
    spec: ProjectSpec,
    out: Path,
    shards: dict[str, list[dict[str, Any]]],
    placer: MediaPlacer,
) -> list[str]:
    content, label = content_column(spec), spec.task.label_field
    ids = {name: i for i, name in enumerate(spec.task.class_names)}
    root = out / ROOT
    written: list[str] = []
    for split, files in shards.items():
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        for row in iter_rows(out, files, ["id", content, label], batch_size=64):
            item = str(row["id"])
            name = placer.file_name(item, row[content])
            width, height = placer.place(item, row[content], root / "images" / split / name)
            lines = []
            for box in row[label] or []:
                cls = class_of(ids, box, item, label)
                x, y, w, h = pixel_box(box, width, height)
                cx, cy = (x + w / 2) / width, (y + h / 2) / height
                lines.append(f"{cls} {cx:.6f} {cy:.6f} {w / width:.6f} {h / height:.6f}\n")
            txt = root / "labels" / split / f"{PurePosixPath(name).stem}.txt"
            txt.write_text("".join(lines), encoding="utf-8")
            written += [f"{ROOT}/images/{split}/{name}", txt.relative_to(out).as_posix()]
    data: dict[str, Any] = {
        YAML_KEYS.get(split, split): f"images/{split}" for split in shards if split in YAML_KEYS
    }
    data["nc"] = len(ids)
    data["names"] = {i: name for name, i in ids.items()}
    body = (
        f"# {spec.dataset.name_en} ({spec.dataset.name_ko}) {spec.dataset.version}: "
        "Ultralytics YOLO detection layout, folders relative to this file\n"
        + yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    )
    (root / "data.yaml").write_text(body, encoding="utf-8")
    return [*written, f"{ROOT}/data.yaml"]
