"""``datakit annotate import``: labels made elsewhere, brought in as annotations — Label
Studio JSON, JSON-MIN and CSV exports, COCO detection JSON, YOLO folders and AI Hub
per-item label JSON (``datakit.annotate.formats``: the format is detected, or given).
Every reader yields Label Studio–shaped tasks in this project's names (``--map SRC=DST``
renames controls, fields, data keys and classes); from there the path is the same for all:
the matching below, the normalisation and schema check of a pull, then agreement and
consensus.

**Matching tasks to items.** In this order, and the first rule that decides wins:

1. ``data.item_id`` naming an ok item of the manifest (tasks pushed by datakit have it);
2. text tasks: the task's text equals one ok item's text (as written, else in NFC);
3. media tasks: the file's **full relative path** — a local-files URL (``…?d=<path>``), an
   absolute URL (``https://host/<path>``, ``s3://bucket/<path>``) or a bare path — when a
   trailing part of it is an item's stored path (``data/source/…``), its path under
   ``data/source/``, or its source path; or when the whole path (two or more parts) ends
   exactly one item's path;
4. the **file name**, when exactly one item has it (an uploaded file,
   ``/data/upload/<project>/<8 hex>-<name>``, carries only its name);
5. the **stem** (name without extension), when exactly one item has it.

A task that two or more items fit at the deciding rule is an error naming the task and
the candidates: a label is never put on a guessed item. Tasks that fit no item are
skipped and listed; an export none of whose tasks fits is an error.

**Merging.** The import adds to, or updates, the annotations imported earlier, keyed by
Label Studio task id and annotation id (for sources without ids, ids derived from the
matched item and the format: ``formats.stable_id``). Earlier imported annotations that
this source does not hold are kept (and counted); ``replace=True`` (``--replace``) makes
the import the whole of the imported annotations instead, and says how many it removed.
Pulled annotations (origin ``label_studio``) are never touched.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field, fields
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from datakit.annotate import spans
from datakit.annotate.formats import Mapping, ReadContext, SourceTask, stable_id
from datakit.annotate.pull import (
    BuildResult,
    annotation_rows,
    build_outputs,
)
from datakit.annotate.pull import read_rows as _read_rows
from datakit.annotate.pull import write_rows as _write_rows
from datakit.errors import InputError
from datakit.labels import TASK_DATA_KEY
from datakit.project import Project

MATCH_RULES = ("item_id", "text", "path", "name", "stem")
_UPLOAD = re.compile(r"^/?data/upload/\d+/")
_UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-")


@dataclass
class ImportResult(BuildResult):
    """What ``import_export`` did: the rebuilt outputs plus how the tasks were matched,
    what the merge changed, and the NER spans repaired or refused."""

    export: str = ""
    tasks: int = 0
    matched: dict[str, int] = field(default_factory=dict)  # rule → tasks
    unmatched: list[dict[str, str]] = field(default_factory=list)  # {task, value, reason}
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    kept: int = 0  # imported earlier, not in this export, kept
    removed: int = 0  # imported earlier, not in this export, removed (replace=True)
    replace: bool = False
    spans: spans.SpanTally = field(default_factory=spans.SpanTally)
    format: str = "labelstudio"
    mapped: dict[str, int] = field(default_factory=dict)  # --map rule → times applied

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "spans": self.spans.to_dict()}


class Ambiguous(Exception):
    def __init__(self, rule: str, key: str, candidates: list[str]) -> None:
        self.rule, self.key, self.candidates = rule, key, candidates


def _nfc(s: str) -> str:
    return unicodedata.normalize("NFC", s)


def _parts(path: str) -> tuple[str, ...]:
    return tuple(p for p in _nfc(path.replace("\\", "/")).split("/") if p not in ("", "."))


class ItemMatcher:
    """Finds the ok item a task stands for (module docstring, "Matching")."""

    def __init__(self, manifest: list[dict[str, Any]], key: str) -> None:
        self.key = key
        self.ids = {str(r["id"]) for r in manifest}
        self.texts: dict[str, set[str]] = {}
        self.paths: dict[tuple[str, ...], set[str]] = {}  # an item's full paths
        self.tails: dict[tuple[str, ...], set[str]] = {}  # every 2+-part tail of them
        self.names: dict[str, set[str]] = {}
        self.stems: dict[str, set[str]] = {}
        for r in manifest:
            iid = str(r["id"])
            if key == "text":
                if isinstance(r.get("text"), str):
                    self.texts.setdefault(r["text"], set()).add(iid)
                    self.texts.setdefault(_nfc(r["text"]), set()).add(iid)
                continue
            for path in self._item_paths(r):
                self.paths.setdefault(path, set()).add(iid)
                for k in range(len(path) - 1):
                    self.tails.setdefault(path[k:], set()).add(iid)
                self.names.setdefault(path[-1], set()).add(iid)
                self.stems.setdefault(PurePosixPath(path[-1]).stem, set()).add(iid)

    @staticmethod
    def _item_paths(row: dict[str, Any]) -> set[tuple[str, ...]]:
        out = set()
        stored = row.get("stored_path")
        if stored:
            parts = _parts(str(stored))
            out.add(parts)
            if parts[:2] == ("data", "source") and len(parts) > 3:
                out.add(parts[2:])  # under data/source/: the source's folder and below
        source = row.get("source_path")
        if source:
            out.add(_parts(str(source).split("#")[0]))
        return {p for p in out if p}

    def match(self, task: dict[str, Any]) -> tuple[str | None, str, str]:
        """``(item id, rule, value)``; the id is None when nothing fits (then ``rule`` is
        the reason). Raises :class:`Ambiguous` when several items fit."""
        data = task.get("data") or {}
        iid = data.get("item_id")
        if iid is not None and str(iid) in self.ids:
            return str(iid), "item_id", str(iid)
        found, rule, value = self._by_content(data.get(self.key))
        if found is None and iid is not None:
            rule = f"data.item_id {str(iid)!r} is not an ok item of the manifest, and {rule}"
        return found, rule, value

    def _by_content(self, value: Any) -> tuple[str | None, str, str]:
        if not isinstance(value, str) or not value:
            return None, f"no data.{self.key}", ""
        if self.key == "text":
            for text in (value, _nfc(value)):
                found = self.texts.get(text)
                if found:
                    return self._one("text", found, value), "text", value
            return None, "no ok item has this text", value
        parts, upload = _media_path(value)
        if not parts:
            return None, "the media URL holds no file path", value
        if not upload:
            for k in range(len(parts) - 1):
                found = self.paths.get(parts[k:])
                if found:
                    return self._one("path", found, "/".join(parts[k:])), "path", value
            found = self.tails.get(parts) if len(parts) >= 2 else None
            if found:
                return self._one("path", found, "/".join(parts)), "path", value
        names = [parts[-1]]
        if upload and _UPLOAD_PREFIX.match(parts[-1]):
            names.insert(0, parts[-1][9:])  # Label Studio's upload prefix, then as written
        for name in names:
            if name in self.names:
                return self._one("name", self.names[name], name), "name", value
        for name in names:
            stem = PurePosixPath(name).stem
            if stem in self.stems:
                return self._one("stem", self.stems[stem], stem), "stem", value
        return None, "no ok item has this path, file name or stem", value

    @staticmethod
    def _one(rule: str, found: set[str], key: str) -> str:
        if len(found) > 1:
            raise Ambiguous(rule, key, sorted(found))
        return next(iter(found))


def _media_path(value: str) -> tuple[tuple[str, ...], bool]:
    """The file path a task's media value points at, and whether it is an upload (whose
    folder is Label Studio's own, so only the name counts)."""
    url = urlsplit(value.strip())
    query = parse_qs(url.query)
    if query.get("d"):  # /data/local-files/?d=<path relative to the storage root>
        return _parts(query["d"][0]), False
    path = unquote(url.path)
    if url.scheme in ("s3", "gs", "azure-blob", "minio") and url.netloc:
        path = f"{url.netloc}/{path}"
    if _UPLOAD.match(path):
        parts = _parts(path)
        return parts[-1:], True
    return _parts(path), False


def import_export(project: Project, export: Path, *, replace: bool = False) -> ImportResult:
    """Bring in a Label Studio JSON export made in the UI (kept for its callers)."""
    return import_labels(project, export, fmt="labelstudio", replace=replace)


def import_labels(
    project: Project,
    source: Path,
    *,
    fmt: str | None = None,
    mapping: Mapping | dict[str, str] | None = None,
    replace: bool = False,
) -> ImportResult:
    """Bring in labels from ``source`` in format ``fmt`` (detected when None); see the
    module docstring. Nothing is written unless the whole source reads cleanly."""
    from datakit.annotate import formats
    from datakit.annotate.push import ok_items

    if not source.exists():
        raise InputError("file or folder not found", file=str(source))
    fmt = fmt or formats.detect(source)
    mapping = mapping if isinstance(mapping, Mapping) else Mapping(mapping)
    manifest = ok_items(project)
    key = TASK_DATA_KEY[project.spec.data.type]
    texts = {str(r["id"]): r.get("text") for r in manifest} if key == "text" else {}
    matcher = ItemMatcher(manifest, key)
    matched = dict.fromkeys(MATCH_RULES, 0)
    unmatched: list[dict[str, str]] = []
    new: dict[tuple[int, int], dict[str, Any]] = {}
    n = 0
    ctx = ReadContext(project.spec, mapping)
    with spans.tally() as tally:
        try:
            for st in formats.read(source, fmt, ctx):
                n += 1
                task = st.task
                iid, rule = _match(matcher, st, source, key, unmatched)
                if iid is None:
                    continue
                matched[rule] += 1
                if st.synthetic:
                    task = _with_ids(task, fmt, iid)
                if key == "text" and isinstance(texts.get(iid), str):
                    # spans are checked against the item's text, the text labels.jsonl holds
                    task = {**task, "data": {**task["data"], key: texts[iid]}}
                try:
                    rows = annotation_rows(
                        project, task, {}, origin="import", file=st.file or str(source), item_id=iid
                    )
                except InputError as exc:
                    raise _hint_map(exc) from None
                for row in rows:
                    new[(row["task_id"], row["annotation_id"])] = row
        except ValueError as exc:  # not JSON, not an array, not UTF-8
            msg = str(exc).replace(str(source), "the file")
            what = "a Label Studio JSON export" if fmt == "labelstudio" else f"a {fmt} file"
            raise InputError(f"not {what} (after {n} tasks): {msg}", file=str(source)) from None
    tasks = n
    if tasks and not sum(matched.values()):
        first = unmatched[0]
        raise InputError(
            f"none of the {tasks} tasks fits an ok item of the manifest (first: "
            f"{first['task']}: {first['reason']})",
            file=str(source),
            field=f"data.{key}",
            hint="import labels of the items this project collected, match names with "
            "--map, or add item_id to the tasks",
        )
    rows = _read_rows(project)
    pulled = [r for r in rows if r["origin"] != "import"]
    earlier = {(r["task_id"], r["annotation_id"]): r for r in rows if r["origin"] == "import"}
    added = sum(k not in earlier for k in new)
    updated = sum(k in earlier and _differs(earlier[k], new[k]) for k in new)
    unchanged = len(new) - added - updated
    absent = [k for k in earlier if k not in new]
    merged = new if replace else {**earlier, **new}
    _write_rows(project, pulled + list(merged.values()))
    built = build_outputs(project)
    project.record_stage(
        "annotate",
        {
            "imported_from": source.name,
            "import_format": fmt,
            "annotations": len(new),
            "items": built.items,
            "labelled": built.labelled,
            "needs_review": built.needs_review,
        },
    )
    return ImportResult(
        **{f.name: getattr(built, f.name) for f in fields(BuildResult)},
        export=source.name,
        tasks=tasks,
        matched=matched,
        unmatched=unmatched,
        added=added,
        updated=updated,
        unchanged=unchanged,
        kept=0 if replace else len(absent),
        removed=len(absent) if replace else 0,
        replace=replace,
        spans=tally,
        format=fmt,
        mapped=dict(mapping.used),
    )


def _match(
    matcher: ItemMatcher,
    st: SourceTask,
    source: Path,
    key: str,
    unmatched: list[dict[str, str]],
) -> tuple[str | None, str]:
    """The item of one source task and the rule that found it; None after listing the
    task as unmatched. An ambiguous fit is an error."""
    try:
        iid, rule, value = matcher.match(st.task)
    except Ambiguous as amb:
        raise InputError(
            f"task fits {len(amb.candidates)} items by {amb.rule} {amb.key!r}: "
            f"{', '.join(amb.candidates[:10])}"
            + (f" (and {len(amb.candidates) - 10} more)" if len(amb.candidates) > 10 else ""),
            file=str(source),
            item=st.where,
            field=f"data.{key}",
            hint="use tasks that carry data.item_id (datakit's own tasks do), or give the "
            "media their full relative paths",
        ) from None
    if iid is None:
        shown = value if len(value) <= 120 else value[:117] + "..."
        unmatched.append({"task": st.where, "value": shown, "reason": rule})
    return iid, rule


def _hint_map(exc: InputError) -> InputError:
    """A class or control the project does not have: point at ``--map``."""
    if "is not in the" in exc.message and "--map" not in (exc.hint or ""):
        tip = "or rename the source's names with --map SRC=DST"
        exc.hint = f"{exc.hint}; {tip}" if exc.hint else tip[3:]
    return exc


def _with_ids(task: dict[str, Any], fmt: str, iid: str) -> dict[str, Any]:
    """Ids for a source without any: one task per item and format, one annotation per
    annotator, so importing the same source again updates what it imported."""
    anns = []
    for ann in task.get("annotations") or []:
        who = ann.get("completed_by") or {}
        annotator = str(who.get("email") if isinstance(who, dict) else who)
        anns.append({**ann, "id": stable_id(fmt, iid, annotator)})
    return {**task, "id": stable_id(fmt, iid), "annotations": anns}


def _differs(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return json.dumps(a, sort_keys=True, default=str) != json.dumps(b, sort_keys=True, default=str)
