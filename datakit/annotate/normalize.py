"""Label Studio ``result`` lists ↔ the spec's label fields, per task type.

* classification: ``choices`` of the control named after the label field → a class
  (``class``) or a sorted list (``classes``); each attribute's ``choices`` → its value.
* ner: ``labels`` regions → ``[{start, end, label, text}]`` sorted by position; given the
  item's text, offsets that drifted from the span's text are repaired (``spans.py``).
* object_detection: ``rectanglelabels`` → ``[{label, x, y, width, height[, rotation]}]`` in
  percent of the image, rounded to 1e-4.
* transcription: ``textarea`` → the text (several lines joined with a newline).
"""

from __future__ import annotations

from typing import Any

from datakit.annotate.spans import check_spans
from datakit.errors import InputError
from datakit.labels import TASK_DATA_KEY
from datakit.spec.model import ProjectSpec

Fields = dict[str, Any]


def _r(x: Any) -> float:
    v = round(float(x), 4)
    return 0.0 if v == 0 else v


def normalize_result(
    spec: ProjectSpec,
    result: list[dict[str, Any]],
    *,
    file: str | None = None,
    item: str | None = None,
    content: str | None = None,
) -> Fields:
    """The label fields of one annotation (fields nobody filled in are left out).

    ``content`` is the item's text: NER spans are checked against it (``spans.py``)."""
    if not isinstance(result, list):
        raise InputError(
            f"the annotation's result is a {type(result).__name__}, not a list of regions",
            file=file,
            item=item,
            field="result",
        )
    task = spec.task
    label = task.label_field
    out: Fields = {}
    spans: list[dict[str, Any]] = []
    boxes: list[dict[str, Any]] = []
    texts: list[str] = []
    for region in result or []:
        if not isinstance(region, dict):
            raise InputError("a result region is not an object", file=file, item=item)
        try:
            _region_fields(spec, region, out, spans, boxes, texts, file, item)
        except (KeyError, TypeError, ValueError) as exc:
            what = f"{type(exc).__name__}: {exc}"
            raise InputError(
                f"result region {region.get('id', '')!s} ({region.get('type')}) is malformed "
                f"({what})",
                file=file,
                item=item,
                field=str(region.get("from_name") or "result"),
            ) from None
    if task.type == "ner":
        if content is not None and isinstance(content, str):
            spans = check_spans(spans, content, item=item)
        out[label] = sorted(spans, key=lambda s: (s["start"], s["end"], s["label"]))
    elif task.type == "object_detection":
        out[label] = sorted(boxes, key=lambda b: (b["label"], b["x"], b["y"], b["width"]))
    elif task.type == "transcription" and texts:
        out[label] = "\n".join(texts)
    return out


def _region_fields(
    spec: ProjectSpec,
    region: dict[str, Any],
    out: Fields,
    spans: list[dict[str, Any]],
    boxes: list[dict[str, Any]],
    texts: list[str],
    file: str | None,
    item: str | None,
) -> None:
    """Add one result region to the fields (``out``) or the span/box/text lists."""
    task = spec.task
    label = task.label_field
    attrs = {a.name: a for a in task.attributes}
    multi = spec.label_field.type == "classes"
    name = region.get("from_name")
    kind = str(region.get("type", "")).lower()
    value = region.get("value") or {}
    if not isinstance(value, dict):
        raise TypeError(f"value is a {type(value).__name__}, not an object")
    if name == label:
        if kind == "choices":
            chosen = [str(c) for c in _list(value, "choices")]
            _check_classes(spec, chosen, file, item)
            if multi:
                out[label] = sorted(set(chosen), key=task.class_names.index)
            elif chosen:
                out[label] = chosen[0]
        elif kind == "labels":
            for lab in _list(value, "labels"):
                _check_classes(spec, [lab], file, item)
                span = {"start": _int(value, "start"), "end": _int(value, "end"), "label": lab}
                if value.get("text") is not None:
                    span["text"] = str(value["text"])
                spans.append(span)
        elif kind == "rectanglelabels":
            for lab in _list(value, "rectanglelabels"):
                _check_classes(spec, [lab], file, item)
                box = {
                    "label": lab,
                    "x": _r(value["x"]),
                    "y": _r(value["y"]),
                    "width": _r(value["width"]),
                    "height": _r(value["height"]),
                }
                if value.get("rotation"):
                    box["rotation"] = _r(value["rotation"])
                boxes.append(box)
        elif kind == "textarea":
            texts.extend(str(t) for t in _list(value, "text"))
        else:
            raise InputError(
                f"result type {kind!r} does not fit task {task.type}",
                file=file,
                item=item,
                field=label,
            )
    elif name in attrs:
        chosen = [str(c) for c in _list(value, "choices")]
        if chosen:
            if chosen[0] not in attrs[name].values:
                raise InputError(
                    f"value {chosen[0]!r} is not one of {list(attrs[name].values)}",
                    file=file,
                    item=item,
                    field=str(name),
                )
            out[str(name)] = chosen[0]
    else:
        raise InputError(
            f"control {name!r} is not in the labeling config (label field {label!r}, "
            f"attributes {sorted(attrs)})",
            file=file,
            item=item,
            field=str(name),
            hint="was the export made from another project? run `datakit plan` if the spec changed",
        )


def _list(value: dict[str, Any], key: str) -> list[Any]:
    got = value.get(key)
    if got is None:
        return []
    if not isinstance(got, list):
        raise TypeError(f"value.{key} is a {type(got).__name__}, not a list")
    return got


def _int(value: dict[str, Any], key: str) -> int:
    got = value.get(key)
    if isinstance(got, bool) or not isinstance(got, int | float) or int(got) != got:
        raise ValueError(f"value.{key} is {got!r}, not a whole number")
    return int(got)


def _check_classes(
    spec: ProjectSpec, chosen: list[str], file: str | None, item: str | None
) -> None:
    for c in chosen:
        if c not in spec.task.class_names:
            raise InputError(
                f"class {c!r} is not in the spec's classes {list(spec.task.class_names)}",
                file=file,
                item=item,
                field=spec.task.label_field,
            )


def to_result(spec: ProjectSpec, fields: Fields) -> list[dict[str, Any]]:
    """The Label Studio ``result`` list for label fields (predictions, simulated annotators,
    review tasks)."""
    task = spec.task
    label = task.label_field
    to_name = TASK_DATA_KEY[spec.data.type]
    out: list[dict[str, Any]] = []
    value = fields.get(label)
    if value is not None:
        if task.type in ("text_classification", "image_classification"):
            choices = value if isinstance(value, list) else [value]
            out.append(_region(label, to_name, "choices", {"choices": list(choices)}))
        elif task.type == "ner":
            for i, s in enumerate(value):
                v = {"start": s["start"], "end": s["end"], "labels": [s["label"]]}
                if "text" in s:
                    v["text"] = s["text"]
                out.append(_region(label, to_name, "labels", v, rid=f"s{i}"))
        elif task.type == "object_detection":
            for i, b in enumerate(value):
                v = {
                    "x": b["x"],
                    "y": b["y"],
                    "width": b["width"],
                    "height": b["height"],
                    "rotation": b.get("rotation", 0),
                    "rectanglelabels": [b["label"]],
                }
                out.append(_region(label, to_name, "rectanglelabels", v, rid=f"b{i}"))
        elif task.type == "transcription":
            out.append(_region(label, to_name, "textarea", {"text": [str(value)]}))
    for a in task.attributes:
        if fields.get(a.name) is not None:
            out.append(_region(a.name, to_name, "choices", {"choices": [fields[a.name]]}))
    return out


def _region(
    name: str, to_name: str, kind: str, value: dict[str, Any], rid: str | None = None
) -> dict[str, Any]:
    r: dict[str, Any] = {"from_name": name, "to_name": to_name, "type": kind, "value": value}
    if rid:
        r["id"] = rid
    return r
