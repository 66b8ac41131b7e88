"""``trace_item(project, item_id)``: an item's whole path — raw file and source, hashes, PII
handling, annotations and annotators, how the label was decided, checks, and every release
and split it is in."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

from datakit.errors import InputError
from datakit.io import csv_safe
from datakit.project import Project

from .gate import evaluate_gate
from .verify import SHARD_RE


@dataclass
class TraceResult:
    item_id: str
    item: dict[str, Any] | None = None
    duplicates: list[str] = field(default_factory=list)
    annotations: list[dict[str, Any]] = field(default_factory=list)
    consensus: dict[str, Any] | None = None
    label: dict[str, Any] | None = None
    checks: dict[str, Any] = field(default_factory=dict)
    releases: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "item": self.item,
            "duplicates": self.duplicates,
            "annotations": self.annotations,
            "consensus": self.consensus,
            "label": self.label,
            "checks": self.checks,
            "releases": self.releases,
        }


def _rows(path: Any, column: str, value: str) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    if not path.is_file():
        return []
    rows: list[dict[str, Any]] = pq.read_table(path, filters=[(column, "=", value)]).to_pylist()
    return rows


def trace_item(project: Project, item_id: str) -> TraceResult:
    import pyarrow.parquet as pq

    paths = project.paths
    result = TraceResult(item_id=item_id)
    rows = _rows(paths.manifest, "id", item_id)
    if rows:
        item = rows[0]
        text = item.pop("text", None)
        if text is not None:
            item["text_preview"] = text[:80] + ("…" if len(text) > 80 else "")
        for key in ("pii", "attributes"):
            if isinstance(item.get(key), str) and item[key]:
                with contextlib.suppress(ValueError):
                    item[key] = json.loads(item[key])
        result.item = item
        if paths.manifest.is_file():
            dups = pq.read_table(
                paths.manifest,
                columns=["id", "duplicate_of"],
                filters=[("duplicate_of", "=", item_id)],
            )
            result.duplicates = dups.column("id").to_pylist()
    for a in _rows(paths.annotations_table, "item_id", item_id):
        if isinstance(a.get("result"), str):
            with contextlib.suppress(ValueError):
                a["result"] = json.loads(a["result"])
        result.annotations.append(a)
    cons = _rows(paths.annotations / "consensus.parquet", "item_id", item_id)
    result.consensus = cons[0] if cons else None
    if paths.labels.is_file():
        needle = json.dumps(item_id, ensure_ascii=False)
        with paths.labels.open(encoding="utf-8") as fh:
            for line in fh:
                if needle in line:
                    rec = json.loads(line)
                    if rec.get("id") == item_id:
                        result.label = rec
                        break
    gate = evaluate_gate(project)
    result.checks = {
        "quality_state": gate.state,
        "reasons": gate.reasons,
        "findings": _findings(project, item_id),
    }
    result.releases = _releases(project, item_id)
    if result.item is None and result.label is None and not result.releases:
        raise InputError(
            "no such item in the manifest, the labels or any release",
            file=paths.rel(paths.manifest),
            item=item_id,
            hint="item ids are in the id column of data/manifest.parquet",
        )
    return result


def _findings(project: Project, item_id: str) -> list[dict[str, Any]]:
    """Lines of the check's error lists (reports/*.jsonl, *.csv) that name the item."""
    out: list[dict[str, Any]] = []
    reports = project.paths.reports
    if not reports.is_dir():
        return out
    for path in sorted(reports.rglob("*")):
        if path.suffix not in (".jsonl", ".csv") or not path.is_file():
            continue
        quoted = json.dumps(item_id, ensure_ascii=False)
        as_cell = csv_safe(item_id)  # how the error lists write an id like "=r1" ("'=r1")
        with path.open(encoding="utf-8", errors="replace") as fh:
            for n, line in enumerate(fh, 1):
                if item_id not in line:
                    continue
                cells = {c.strip().strip('"') for c in line.rstrip("\n").split(",")}
                if (path.suffix == ".jsonl" and quoted in line) or (
                    path.suffix == ".csv" and (item_id in cells or as_cell in cells)
                ):
                    entry: dict[str, Any] = {"file": project.paths.rel(path), "line": n}
                    try:
                        entry["finding"] = (
                            json.loads(line) if path.suffix == ".jsonl" else line.strip()
                        )
                    except ValueError:
                        entry["finding"] = line.strip()
                    out.append(entry)
                    if len(out) >= 50:
                        return out
    return out


def _releases(project: Project, item_id: str) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    out: list[dict[str, Any]] = []
    root = project.paths.releases
    if not root.is_dir():
        return out
    for rel_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for shard in sorted((rel_dir / "data").glob("*.parquet")):
            rel = shard.relative_to(rel_dir).as_posix()
            m = SHARD_RE.match(rel)
            if not m:
                continue
            t = pq.read_table(
                shard, columns=["id", "label_method", "agreement"], filters=[("id", "=", item_id)]
            )
            if t.num_rows:
                out.append({"release": rel_dir.name, "split": m.group(1), "shard": rel})
                break
    return out
