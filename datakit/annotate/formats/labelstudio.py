"""Label Studio's own exports: JSON (tasks with annotations), JSON-MIN and CSV.

JSON-MIN and CSV hold one flat row per annotation: the task's data keys, ``id`` (the task),
``annotator``, ``annotation_id``, the times, and one key per control whose value Label Studio
"prettified" (``label_studio_sdk.converter.utils.prettify_result``): a single choice or text
as a plain string, anything else as the list of region values without their type. The type
comes back from the project's spec: the label field's control is ``choices``, ``labels``,
``rectanglelabels`` or ``textarea`` by task type, attributes are ``choices``. In CSV, nested
values are JSON text.
"""

from __future__ import annotations

import contextlib
import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from datakit.annotate.client import iter_json_array, task_problem
from datakit.annotate.formats.base import ReadContext, SourceTask
from datakit.errors import InputError

# keys of a JSON-MIN / CSV row that are not task data and not controls
META = {
    "id",
    "annotator",
    "annotation_id",
    "created_at",
    "updated_at",
    "lead_time",
    "agreement",
    "history",
    "drafts",
    "predictions",
}
LABEL_CONTROL = {
    "text_classification": "choices",
    "image_classification": "choices",
    "ner": "labels",
    "object_detection": "rectanglelabels",
    "transcription": "textarea",
}
_REGION_KEYS = {"choices", "labels", "rectanglelabels", "text", "start", "x"}


def _first_char(path: Path) -> str:
    with path.open("rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return chr(head[0]) if head else ""


def _first_element(path: Path) -> Any:
    try:
        for el in iter_json_array(path):
            return el
    except (ValueError, UnicodeDecodeError):
        return None
    return None


def detect_json(path: Path) -> bool:
    """Any other ``.json`` file: read as a Label Studio export (its errors then say why not)."""
    return path.is_file() and path.suffix.lower() == ".json"


def detect_json_min(path: Path) -> bool:
    if not (path.is_file() and path.suffix.lower() == ".json" and _first_char(path) == "["):
        return False
    el = _first_element(path)
    return (
        isinstance(el, dict)
        and "data" not in el
        and "annotations" not in el
        and ("annotation_id" in el or "annotator" in el)
    )


def detect_csv(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in (".csv", ".tsv")


def read_json(path: Path, ctx: ReadContext) -> Iterator[SourceTask]:
    for n, task in enumerate(iter_json_array(path), 1):
        _check_task(task, n, path)
        yield SourceTask(ctx.mapping.task(task), f"task {task.get('id', f'#{n}')}")


def _check_task(task: Any, n: int, export: Path) -> None:
    problem = task_problem(task, require_id=False)
    if problem is None:
        return
    where, message = problem
    tid = task.get("id") if isinstance(task, dict) else None
    raise InputError(
        f"{where} {message} (not a Label Studio export task)",
        file=str(export),
        item=f"task {tid}" if tid is not None else f"element {n} of the array",
        field=where,
        hint="export JSON from Label Studio (Export → JSON), unedited",
    )


def read_json_min(path: Path, ctx: ReadContext) -> Iterator[SourceTask]:
    for n, row in enumerate(iter_json_array(path), 1):
        if not isinstance(row, dict):
            raise InputError(
                f"is a {type(row).__name__}, not an object (not a JSON-MIN row)",
                file=str(path),
                item=f"element {n} of the array",
            )
        task = row_task(row, ctx, file=str(path), where=f"row {n}", from_csv=False)
        if task is not None:
            yield task


def read_csv(path: Path, ctx: ReadContext) -> Iterator[SourceTask]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        sample = fh.read(65536)
        fh.seek(0)
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
        if delimiter == "," and sample.count("\t") > sample.count(","):
            delimiter = "\t"
        reader = csv.DictReader(fh, delimiter=delimiter)
        if not reader.fieldnames or "annotation_id" not in reader.fieldnames:
            raise InputError(
                "no annotation_id column: not a Label Studio CSV export "
                f"(columns: {', '.join(reader.fieldnames or [])})",
                file=str(path),
                field="annotation_id",
                hint="export CSV from Label Studio (Export → CSV), or give --format",
            )
        for n, raw in enumerate(reader, 2):  # line 1 is the header
            row = {k: v for k, v in raw.items() if k is not None and v not in (None, "")}
            task = row_task(row, ctx, file=str(path), where=f"line {n}", from_csv=True)
            if task is not None:
                yield task


def row_task(
    row: dict[str, Any], ctx: ReadContext, *, file: str, where: str, from_csv: bool
) -> SourceTask | None:
    """A JSON-MIN / CSV row as a Label Studio task with one annotation (None when the row
    is a task nobody annotated)."""
    mapped = {ctx.mapping(str(k)) if k not in META else k: v for k, v in row.items()}
    aid = mapped.get("annotation_id")
    if aid is None:
        return None
    tid = mapped.get("id")
    item = f"task {tid}" if tid is not None else where
    try:
        aid_int = _whole(aid, "annotation_id")
        tid_int = _whole(tid, "id") if tid is not None else 0
    except ValueError as exc:
        raise InputError(str(exc), file=file, item=item, field=str(exc).split()[0]) from None
    result: list[dict[str, Any]] = []
    data: dict[str, Any] = {}
    for key, value in mapped.items():
        if key in META:
            continue
        if from_csv and isinstance(value, str) and value[:1] in "[{":
            with contextlib.suppress(json.JSONDecodeError):
                value = json.loads(value)
        if key in ctx.controls:
            kind = LABEL_CONTROL[ctx.spec.task.type] if key == ctx.label_field else "choices"
            result += _regions(key, kind, value, ctx, file=file, item=item)
        elif _looks_like_regions(value):
            # a control of another project: normalisation names it (and hints at --map)
            result.append({"from_name": key, "type": "unknown", "value": {}})
        else:
            data[key] = value
    who = mapped.get("annotator")
    annotation = {
        "id": aid_int,
        "completed_by": {"email": str(who)} if who is not None else None,
        "result": result,
        "created_at": _text(mapped.get("created_at")),
        "updated_at": _text(mapped.get("updated_at")),
        "lead_time": _number(mapped.get("lead_time")),
    }
    return SourceTask({"id": tid_int, "data": data, "annotations": [annotation]}, item)


def _regions(
    name: str, kind: str, value: Any, ctx: ReadContext, *, file: str, item: str
) -> list[dict[str, Any]]:
    to = ctx.data_key
    m = ctx.mapping

    def region(v: dict[str, Any]) -> dict[str, Any]:
        v = dict(v)
        if kind != "textarea" and isinstance(v.get(kind), list):
            v[kind] = [m(x) if isinstance(x, str) else x for x in v[kind]]
        return {"from_name": name, "to_name": to, "type": kind, "value": v}

    if kind in ("choices", "textarea"):
        key = "choices" if kind == "choices" else "text"
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return [region({key: [str(value)]})]
        if isinstance(value, dict):
            return [region(value)]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return [region({key: list(value)})]
        if isinstance(value, list) and all(isinstance(v, dict) for v in value):
            return [region(v) for v in value]
    elif isinstance(value, list) and all(isinstance(v, dict) for v in value):
        return [
            region({k: x for k, x in v.items() if not k.startswith("original_")}) for v in value
        ]
    raise InputError(
        f"value {str(value)[:80]!r} is not a {kind} result",
        file=file,
        item=item,
        field=name,
    )


def _looks_like_regions(value: Any) -> bool:
    items = value if isinstance(value, list) else [value]
    return bool(items) and all(isinstance(v, dict) and _REGION_KEYS & set(v) for v in items)


def _whole(value: Any, name: str) -> int:
    try:
        f = float(value)
    except (TypeError, ValueError):
        f = float("nan")
    if f != f or int(f) != f or isinstance(value, bool):
        raise ValueError(f"{name} is {value!r}, not a whole number")
    return int(f)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _number(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None
