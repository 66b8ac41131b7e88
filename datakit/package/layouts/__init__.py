"""Label layouts written beside the Parquet shards, for the trainers that read them:

* ``coco`` (object detection): ``coco/annotations/instances_<split>.json`` and
  ``coco/images/<split>/<file>`` — COCO detection JSON, boxes ``[x, y, w, h]`` in pixels,
  category ids 1… in the spec's class order.
* ``yolo`` (object detection): ``yolo/data.yaml``, ``yolo/images/<split>/<file>`` and
  ``yolo/labels/<split>/<stem>.txt`` — the Ultralytics layout, ``class cx cy w h`` in 0…1,
  class ids 0… in the spec's class order.
* ``conll`` (NER): ``conll/<split>.conll`` (``token TAG``, IOB2, one blank line between
  items), ``conll/<split>.ids.txt`` (the item id of each sentence) and ``conll/labels.txt``.

Every layout is written from the finished shards, so each engine gets them the same way.
Images are written once: a second layout hard-links the first one's file, and with
``--media reference`` both hard-link the release's ``files/`` (a copy where the file system
cannot link), so each layout folder loads on its own without doubling the bytes on disk.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

from datakit.errors import InputError
from datakit.spec.model import ProjectSpec

# Layout → (task type, label field type, data type) it needs.
EXPORTS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "coco": ("object_detection", "boxes", ("image",)),
    "yolo": ("object_detection", "boxes", ("image",)),
    "conll": ("ner", "spans", ("text", "tabular")),
}
LAYOUTS = ("huggingface", "aihub", *EXPORTS)


def check_layouts(spec: ProjectSpec, layouts: Collection[str]) -> None:
    """Refuse, before any work, a layout the project's task cannot fill."""
    unknown = sorted(set(layouts) - set(LAYOUTS))
    if unknown:
        raise InputError(
            f"unknown layout {', '.join(map(repr, unknown))}",
            field="layouts",
            hint=f"layouts are {', '.join(LAYOUTS)} (huggingface is always written)",
        )
    for name in layouts:
        if name not in EXPORTS:
            continue
        task, kind, data = EXPORTS[name]
        label = spec.label_field
        if spec.task.type != task or label.type != kind or spec.data.type not in data:
            raise InputError(
                f"layout {name} needs a {task} project ({' or '.join(data)} items, a {kind} "
                "label field); "
                f"this one is {spec.task.type} on {spec.data.type} with {label.name}: {label.type}",
                field="layouts",
                hint=f"leave out --layout {name}",
            )
        if name == "conll":
            spaced = [c for c in spec.task.class_names if any(ch.isspace() for ch in c)]
            if spaced:
                raise InputError(
                    f"class name(s) {', '.join(map(repr, spaced))} contain white space, which "
                    "CoNLL's 'token TAG' lines cannot hold",
                    field="task.classes",
                    hint="rename the classes in datakit.yaml, or leave out --layout conll",
                )


def write_layouts(
    spec: ProjectSpec,
    out: Path,
    shards: dict[str, list[dict[str, Any]]],
    layouts: Collection[str],
    date: str,
    version: str,
) -> list[str]:
    """Write the export layouts named in ``layouts`` into the release folder ``out`` from its
    shards (split → [{path, rows, bytes}]); returns the files written, relative to ``out``."""
    from ._media import MediaPlacer

    placer = MediaPlacer(out, remember="coco" in layouts and "yolo" in layouts)
    written: list[str] = []
    if "coco" in layouts:
        from .coco import write_coco

        written += write_coco(spec, out, shards, placer, date, version)
    if "yolo" in layouts:
        from .yolo import write_yolo

        written += write_yolo(spec, out, shards, placer)
    if "conll" in layouts:
        from .conll import write_conll

        written += write_conll(spec, out, shards)
    return written
