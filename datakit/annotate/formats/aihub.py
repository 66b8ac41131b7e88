"""AI Hub per-item label JSON, as ``datakit package --layout aihub`` writes it
(``datakit/package/aihub.py``): one ``<id>.json`` object per item holding the record's
fields, inside ``…/02.라벨링데이터/TL_<분류>.zip`` (and ``VL_``).

Accepted: a release folder (every ``02.라벨링데이터`` below it), one such folder, a
``TL_``/``VL_`` zip, a folder of ``<id>.json`` files, or one record file. A record's ``id``
finds its item (then its text, ``file_name`` or the JSON's stem); its label field and task
attributes become the annotation, the other fields are the item's and are not imported.
"""

from __future__ import annotations

import functools
import json
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from datakit.annotate.formats.base import ReadContext, SourceTask
from datakit.errors import InputError

LABEL_DIR = "02.라벨링데이터"


def _is_label_zip(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if not n.endswith("/")]
    except (zipfile.BadZipFile, OSError):
        return False
    return bool(names) and all(n.lower().endswith(".json") for n in names)


def detect(path: Path) -> bool:
    if path.is_file():
        if path.suffix.lower() == ".zip":
            return _is_label_zip(path)
        if path.suffix.lower() == ".json":
            with path.open("rb") as fh:
                return fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")
        return False
    if not path.is_dir():
        return False
    if path.name == LABEL_DIR or any(path.rglob(LABEL_DIR)):
        return True
    return any(path.glob("*.json")) or any(_is_label_zip(p) for p in path.glob("*.zip"))


Entry = tuple[str, str, Callable[[], bytes]]  # (file for messages, member or name, reader)


def _entries(path: Path) -> Iterator[Entry]:
    if path.is_file() and path.suffix.lower() == ".zip":
        yield from _zip_entries(path)
        return
    if path.is_file():
        yield str(path), path.name, path.read_bytes
        return
    dirs = [path] if path.name == LABEL_DIR else sorted(path.rglob(LABEL_DIR))
    roots = dirs or [path]
    for root in roots:
        for p in sorted(root.rglob("*")):
            if p.suffix.lower() == ".zip" and (dirs or _is_label_zip(p)):
                yield from _zip_entries(p)
            elif p.suffix.lower() == ".json" and p.is_file():
                yield str(p), p.name, p.read_bytes


def _zip_entries(path: Path) -> Iterator[Entry]:
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"not a readable zip: {exc}", file=str(path)) from None
    with z:
        for name in sorted(z.namelist()):
            if name.lower().endswith(".json"):
                yield str(path), name, functools.partial(z.read, name)


def read(path: Path, ctx: ReadContext) -> Iterator[SourceTask]:
    from datakit.annotate.normalize import to_result

    spec = ctx.spec
    label = ctx.label_field
    attrs = {a.name for a in spec.task.attributes}
    found = 0
    for file, name, load in _entries(path):
        found += 1
        try:
            rec = json.loads(load().decode("utf-8-sig"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(f"not JSON: {exc}", file=file, item=name) from None
        if not isinstance(rec, dict):
            raise InputError(
                f"is a {type(rec).__name__}, not a label record object", file=file, item=name
            )
        rec = {ctx.mapping(str(k)): v for k, v in rec.items()}
        item = str(rec.get("id") or PurePosixPath(name).stem)
        fields: dict[str, Any] = {}
        if rec.get(label) is not None:
            fields[label] = _map_classes(rec[label], ctx)
        for a in attrs:
            if isinstance(rec.get(a), str):
                fields[a] = ctx.mapping(rec[a])
        try:
            result = to_result(spec, fields)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(
                f"{label} is not a {spec.label_field.type} value ({type(exc).__name__}: {exc})",
                file=file,
                item=f"{name} (id {item})",
                field=label,
            ) from None
        data: dict[str, Any] = {}
        if rec.get("id") is not None:
            data["item_id"] = str(rec["id"])
        content = rec.get("text") if ctx.data_key == "text" else rec.get("file_name")
        data[ctx.data_key] = content if isinstance(content, str) else PurePosixPath(name).stem
        task = {
            "data": data,
            "annotations": [{"completed_by": {"email": "import:aihub"}, "result": result}],
        }
        where = f"{PurePosixPath(file).name}:{name}" if file.endswith(".zip") else name
        yield SourceTask(task, where, synthetic=True, file=file)
    if not found:
        raise InputError(
            "no label JSON found (looked for 02.라벨링데이터/*.zip, TL_/VL_ zips and *.json)",
            file=str(path),
        )


def _map_classes(value: Any, ctx: ReadContext) -> Any:
    m = ctx.mapping
    if ctx.spec.task.type == "transcription":
        return value
    if isinstance(value, str):
        return m(value)
    if isinstance(value, list):
        return [
            {**v, "label": m(v["label"])}
            if isinstance(v, dict) and isinstance(v.get("label"), str)
            else m(v)
            if isinstance(v, str)
            else v
            for v in value
        ]
    return value
