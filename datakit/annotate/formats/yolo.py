"""A YOLO folder: ``classes.txt`` (one class name a line; the line number is the class
index) or an Ultralytics ``data.yaml`` (``names``, as ``datakit package --layout yolo``
writes it), ``labels/**/<name>.txt`` (one box a line: ``class cx cy w h [score]``, centre
and size as fractions of the image) and, optionally, ``images/**/<name>.<ext>``.

A label file is matched to its image by relative path (``labels/a/x.txt`` ↔
``images/a/x.jpg``), else by a stem only one image has; that image's path (relative to the
folder) then finds the item like a Label Studio task's URL. Without images, the label
file's path without ``.txt`` stands in. An empty label file is an image with no objects;
an image without a label file is not imported.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from datakit.annotate.formats.base import ReadContext, SourceTask
from datakit.errors import InputError

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
TOLERANCE = 1e-4  # edges may overshoot 0..1 by rounding; more than this is an error


def detect(path: Path) -> bool:
    return path.is_dir() and any(
        (path / name).exists() for name in ("classes.txt", "labels", "data.yaml")
    )


def class_names(path: Path) -> list[str]:
    """``classes.txt``, else the ``names`` of an Ultralytics ``data.yaml`` (a list, or a
    mapping of index to name)."""
    classes_file = path / "classes.txt"
    if classes_file.is_file():
        text = classes_file.read_text(encoding="utf-8-sig")
        return [line.strip() for line in text.splitlines() if line.strip()]
    data_yaml = path / "data.yaml"
    if data_yaml.is_file():
        import yaml

        try:
            doc = yaml.safe_load(data_yaml.read_text(encoding="utf-8-sig"))
        except yaml.YAMLError as exc:
            raise InputError(f"not YAML: {exc}", file=str(data_yaml)) from None
        names = doc.get("names") if isinstance(doc, dict) else None
        if isinstance(names, dict) and set(names) == set(range(len(names))):
            names = [names[k] for k in range(len(names))]
        if isinstance(names, list) and all(isinstance(n, str) for n in names):
            return names
        raise InputError(
            "names is not a list of class names (or a mapping 0, 1, … → name)",
            file=str(data_yaml),
            field="names",
        )
    raise InputError(
        "not found: a YOLO folder needs classes.txt (one class name a line) or data.yaml",
        file=str(classes_file),
        hint="put the class names, in class-index order, in classes.txt",
    )


def read(path: Path, ctx: ReadContext) -> Iterator[SourceTask]:
    ctx.require_detection("YOLO", path)
    classes_file = path / "classes.txt"
    classes = [ctx.mapping(name) for name in class_names(path)]
    labels_dir = path / "labels" if (path / "labels").is_dir() else path
    images_dir = path / "images"
    images = (
        sorted(p for p in images_dir.rglob("*") if p.suffix.lower() in IMAGE_EXTS)
        if images_dir.is_dir()
        else []
    )
    by_rel = {p.relative_to(images_dir).with_suffix("").as_posix(): p for p in images}
    by_stem: dict[str, list[Path]] = {}
    for p in images:
        by_stem.setdefault(p.stem, []).append(p)
    files = sorted(
        p for p in labels_dir.rglob("*.txt") if p != classes_file and p.name != "classes.txt"
    )
    if not files:
        raise InputError("no label files (labels/**/*.txt)", file=str(labels_dir))
    for label_file in files:
        rel = label_file.relative_to(labels_dir).with_suffix("").as_posix()
        where = label_file.relative_to(path).as_posix()
        image = by_rel.get(rel)
        if image is None:
            found = by_stem.get(label_file.stem, [])
            if len(found) > 1:
                raise InputError(
                    f"{len(found)} images have the stem {label_file.stem!r}: "
                    + ", ".join(p.relative_to(path).as_posix() for p in found[:10]),
                    file=str(label_file),
                    item=where,
                    field="image",
                    hint="give labels/ the same sub-folders as images/",
                )
            image = found[0] if found else None
        media = image.relative_to(path).as_posix() if image else rel
        result = list(_boxes(label_file, where, classes, ctx))
        task = {
            "data": {ctx.data_key: media},
            "annotations": [{"completed_by": {"email": "import:yolo"}, "result": result}],
        }
        yield SourceTask(task, where, synthetic=True, file=str(label_file))


def _boxes(
    label_file: Path, where: str, classes: list[str], ctx: ReadContext
) -> Iterator[dict[str, object]]:
    for n, line in enumerate(label_file.read_text(encoding="utf-8-sig").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split()
        item = f"{where} line {n}"

        def bad(message: str, field: str, item: str = item) -> InputError:
            return InputError(message, file=str(label_file), item=item, field=field)

        if len(parts) not in (5, 6):
            raise bad(
                f"has {len(parts)} values, not 5 (class cx cy w h; polygons are not boxes)",
                "line",
            )
        try:
            index = int(parts[0])
        except ValueError:
            raise bad(f"class {parts[0]!r} is not a class index", "class") from None
        if not 0 <= index < len(classes):
            raise bad(
                f"class index {index} is outside classes.txt ({len(classes)} classes: "
                f"0..{len(classes) - 1})",
                "class",
            )
        try:
            cx, cy, w, h = (float(v) for v in parts[1:5])
        except ValueError:
            raise bad(f"{' '.join(parts[1:5])!r} are not numbers", "box") from None
        for name, v in (("cx", cx), ("cy", cy), ("w", w), ("h", h)):
            if not 0.0 <= v <= 1.0:
                raise bad(f"{name} is {v}, outside 0..1 (YOLO boxes are fractions)", name)
        x0, y0, x1, y1 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
        if w <= 0 or h <= 0 or min(x0, y0) < -TOLERANCE or max(x1, y1) > 1 + TOLERANCE:
            raise bad(f"box {' '.join(parts[1:5])} is not inside the image (0..1)", "box")
        # clip an overshoot by rounding; sizes stay as written otherwise (as Label Studio's
        # own YOLO importer computes them)
        w -= max(-x0, 0.0) + max(x1 - 1.0, 0.0)
        h -= max(-y0, 0.0) + max(y1 - 1.0, 0.0)
        yield {
            "from_name": ctx.label_field,
            "to_name": ctx.data_key,
            "type": "rectanglelabels",
            "value": {
                "x": max(x0, 0.0) * 100.0,
                "y": max(y0, 0.0) * 100.0,
                "width": w * 100.0,
                "height": h * 100.0,
                "rotation": 0,
                "rectanglelabels": [classes[index]],
            },
        }
