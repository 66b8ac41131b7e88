"""``verify_release(path)``: recompute checksums, validate metadata.json against its schema,
re-read every shard, check counts and the leakage figure. The result is data (a report);
``ok`` decides the exit code (0/1)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datakit.errors import ReleaseError
from datakit.io import read_json, sha256_file

from .leakage import overlap
from .metadata import validate_metadata
from .run import METADATA_FILE, SUMS_FILE

SHARD_RE = re.compile(r"^data/(train|validation|test)-(\d{5})-of-(\d{5})\.parquet$")


@dataclass
class VerifyProblem:
    check: str  # checksums | metadata | layouts | shards | counts | leakage
    where: str
    message: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.where}: {self.message}"


@dataclass
class VerifyReport:
    release: str
    version: str | None = None
    files_checked: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    leakage: dict[str, int] = field(default_factory=dict)
    problems: list[VerifyProblem] = field(default_factory=list)
    checks: dict[str, bool] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, check: str, where: str, message: str) -> None:
        self.problems.append(VerifyProblem(check, where, message))

    def to_dict(self) -> dict[str, Any]:
        return {
            "release": self.release,
            "version": self.version,
            "ok": self.ok,
            "checks": self.checks,
            "files_checked": self.files_checked,
            "rows": self.rows,
            "leakage": self.leakage,
            "problems": [vars(p) for p in self.problems],
        }


def resolve_release(path: str | Path, releases: Path | None = None) -> Path:
    """A release folder from a path, or from a version name under ``releases``."""
    p = Path(path)
    if (p / METADATA_FILE).is_file() or (p / SUMS_FILE).is_file():
        return p
    if releases is not None and (releases / str(path)).is_dir():
        return releases / str(path)
    raise ReleaseError(
        f"{path} is not a release folder (no {METADATA_FILE})",
        hint="pass releases/<version> or a version name inside a project",
    )


def verify_release(path: str | Path) -> VerifyReport:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    root = Path(path)
    report = VerifyReport(release=str(root))
    n_before = 0

    # 1. checksums: every listed file matches, no file is unlisted, none is missing.
    sums = root / SUMS_FILE
    if not sums.is_file():
        report.add("checksums", SUMS_FILE, "missing")
    else:
        listed: dict[str, str] = {}
        for n, line in enumerate(sums.read_text(encoding="utf-8").splitlines(), 1):
            m = re.fullmatch(r"([0-9a-f]{64})  (.+)", line)
            if not m:
                report.add("checksums", f"{SUMS_FILE}:{n}", "not '<sha256>  <path>'")
                continue
            listed[m.group(2)] = m.group(1)
        present = {
            p.relative_to(root).as_posix()
            for p in root.rglob("*")
            if p.is_file() and p.name != SUMS_FILE
        }
        for rel in sorted(present - set(listed)):
            report.add("checksums", rel, "file is not listed in SHA256SUMS")
        for rel, digest in sorted(listed.items()):
            if rel not in present:
                report.add("checksums", rel, "listed in SHA256SUMS but missing")
            elif sha256_file(root / rel) != digest:
                report.add("checksums", rel, "sha256 differs from SHA256SUMS")
            report.files_checked += 1
    report.checks["checksums"] = len(report.problems) == n_before
    n_before = len(report.problems)

    # 2. metadata against its schema.
    meta: dict[str, Any] = {}
    try:
        meta = read_json(root / METADATA_FILE)
    except (OSError, ValueError) as exc:
        report.add("metadata", METADATA_FILE, f"cannot read ({exc})")
    if meta:
        for problem in validate_metadata(meta):
            report.add("metadata", METADATA_FILE, problem)
        report.version = (meta.get("release") or {}).get("version")
        for f in meta.get("files") or []:
            p = root / str(f.get("path"))
            if not p.is_file():
                report.add("metadata", str(f.get("path")), "listed in metadata.json but missing")
            elif sha256_file(p) != f.get("sha256"):
                report.add("metadata", str(f.get("path")), "sha256 differs from metadata.json")
    report.checks["metadata"] = len(report.problems) == n_before
    n_before = len(report.problems)

    # 2b. export layouts (coco, yolo, conll): their files are there, one image per item.
    if meta:
        _check_layouts(report, root, meta)
    report.checks["layouts"] = len(report.problems) == n_before
    n_before = len(report.problems)

    # 3. shards: names, readable, counts per split against the metadata.
    shard_paths = sorted((root / "data").glob("*.parquet")) if (root / "data").is_dir() else []
    per_split: dict[str, list[Path]] = {}
    for p in shard_paths:
        rel = p.relative_to(root).as_posix()
        m = SHARD_RE.match(rel)
        if not m:
            report.add("shards", rel, "name is not <split>-NNNNN-of-NNNNN.parquet")
            continue
        per_split.setdefault(m.group(1), []).append(p)
    for split, files in per_split.items():
        expected = int(SHARD_RE.match(files[0].relative_to(root).as_posix()).group(3))  # type: ignore[union-attr]
        if len(files) != expected:
            report.add(
                "shards", f"data/{split}-*", f"{len(files)} shard(s) found, names say {expected}"
            )
    key_cols = ["id", "source_sha256", "near_dup_cluster"]
    label_parts: list[tuple[Any, str]] = []
    group = (meta.get("splits") or {}).get("group")
    tables = []
    for split, files in sorted(per_split.items()):
        rows = 0
        for p in files:
            rel = p.relative_to(root).as_posix()
            try:
                t = pq.read_table(p)  # reads every column: a corrupt page fails here
            except Exception as exc:  # pyarrow raises several types for corrupt files
                report.add("shards", rel, f"cannot read ({exc})")
                continue
            rows += t.num_rows
            if meta:
                _check_shard(report, rel, t, meta)
                label = (meta.get("task") or {}).get("label_field")
                if label and label in t.column_names:
                    label_parts.append((t.column(label), split))
            cols = [c for c in [*key_cols, group] if c and c in t.column_names]
            part = t.select(cols)
            if group and group in part.column_names:
                part = part.rename_columns(
                    [c if c != group else "_group" for c in part.column_names]
                )
            part = part.append_column("split", pa.array([split] * part.num_rows, pa.string()))
            tables.append(part)
        report.rows[split] = rows
    report.checks["shards"] = len(report.problems) == n_before
    report.checks["values"] = not any(p.check == "values" for p in report.problems)
    n_before = len(report.problems)

    counts = (meta.get("counts") or {}).get("splits") or {}
    for split, n in counts.items():
        if report.rows.get(split, 0) != n:
            report.add(
                "counts", split, f"{report.rows.get(split, 0)} rows in shards, metadata says {n}"
            )
    if meta and sum(report.rows.values()) != (meta.get("counts") or {}).get("total"):
        report.add(
            "counts",
            "total",
            f"{sum(report.rows.values())} rows, metadata says {meta['counts'].get('total')}",
        )
    if tables:
        allrows = pa.concat_tables(tables, promote_options="default")
        ids = allrows.column("id")
        if pc.count_distinct(ids).as_py() != len(ids):
            report.add("counts", "id", "an item id occurs more than once")
    if meta and label_parts:
        _check_class_counts(report, meta, label_parts)
    report.checks["counts"] = len(report.problems) == n_before
    n_before = len(report.problems)

    # 4. leakage, recomputed from the shards.
    if tables:
        figures = {
            "exact_hash": overlap(allrows.column("source_sha256"), allrows.column("split"))
            if "source_sha256" in allrows.column_names
            else 0,
            "near_duplicate": overlap(allrows.column("near_dup_cluster"), allrows.column("split"))
            if "near_dup_cluster" in allrows.column_names
            else 0,
            "group": overlap(allrows.column("_group"), allrows.column("split"))
            if "_group" in allrows.column_names
            else 0,
        }
        figures["total"] = sum(figures.values())
        report.leakage = figures
        # with cross_group_near_duplicates: ignore, near-duplicate leakage is recorded, not banned
        ignored = (meta.get("splits") or {}).get("cross_group_near_duplicates") == "ignore"
        if figures["total"] - (figures["near_duplicate"] if ignored else 0):
            report.add("leakage", "splits", f"items shared between splits: {figures}")
        recorded = meta.get("leakage")
        if isinstance(recorded, dict) and recorded.get("total") != figures["total"]:
            report.add(
                "leakage",
                METADATA_FILE,
                f"records leakage {recorded.get('total')}, shards give {figures['total']}",
            )
    report.checks["leakage"] = len(report.problems) == n_before
    n_before = len(report.problems)

    # 5. split shares: what the shards hold against the plan and the recorded figures.
    if meta.get("splits") and report.checks.get("metadata") is not False:
        _check_shares(report, root, meta["splits"])
    report.checks["split shares"] = len(report.problems) == n_before
    return report


def _check_layouts(report: VerifyReport, root: Path, meta: dict[str, Any]) -> None:
    """The files each export layout named in ``release.layouts`` must hold, per split."""
    import json

    layouts = set((meta.get("release") or {}).get("layouts") or [])
    splits: dict[str, int] = (meta.get("counts") or {}).get("splits") or {}

    def need(rel: str, layout: str) -> bool:
        if (root / rel).is_file():
            return True
        report.add("layouts", rel, f"missing: the {layout} layout needs it")
        return False

    for split, n in splits.items():
        if "coco" in layouts:
            rel = f"coco/annotations/instances_{split}.json"
            if need(rel, "coco"):
                try:
                    images = json.loads((root / rel).read_text(encoding="utf-8"))["images"]
                except (ValueError, KeyError, TypeError) as exc:
                    report.add("layouts", rel, f"not COCO JSON ({exc})")
                    images = None
                if images is not None and len(images) != n:
                    report.add("layouts", rel, f"{len(images)} images, the split has {n} items")
                for img in images or []:
                    need(f"coco/images/{split}/{img.get('file_name')}", "coco")
        if "yolo" in layouts:
            folder = root / "yolo" / "images" / split
            found = sorted(folder.iterdir()) if folder.is_dir() else []
            if len(found) != n:
                report.add("layouts", f"yolo/images/{split}", f"{len(found)} images, expected {n}")
            for img in found:
                need(f"yolo/labels/{split}/{img.stem}.txt", "yolo")
        if "conll" in layouts:
            need(f"conll/{split}.conll", "conll")
            need(f"conll/{split}.ids.txt", "conll")
    if "yolo" in layouts:
        need("yolo/data.yaml", "yolo")
    if "conll" in layouts:
        need("conll/labels.txt", "conll")


def _check_shard(report: VerifyReport, rel: str, table: Any, meta: dict[str, Any]) -> None:
    """One shard against the release's Arrow schema (metadata ``columns``) and value rules
    (metadata ``fields`` and ``task``): classes, choices, ranges, required values."""
    import pyarrow.compute as pc

    def same(t: Any) -> str:  # Parquet names a list's child "element", Arrow "item"
        return str(t).replace("list<element: ", "list<item: ")

    columns = [(c.get("name"), same(c.get("arrow_type"))) for c in meta.get("columns") or []]
    have = [(f.name, same(f.type)) for f in table.schema]
    if columns and have != columns:
        report.add("values", rel, f"schema {have} differs from metadata.json columns {columns}")
        return
    classes = set((meta.get("task") or {}).get("classes") or [])
    for f in meta.get("fields") or []:
        name, kind = f.get("name"), f.get("type")
        if name not in table.column_names:
            continue
        col = table.column(name)
        if f.get("required") and col.null_count:
            report.add("values", f"{rel}:{name}", f"{col.null_count} rows lack a required value")
        allowed: set[str] = set()
        values: Any = None
        if kind == "class":
            allowed, values = classes, col
        elif kind == "classes":
            allowed, values = classes, pc.list_flatten(col)
        elif kind in ("spans", "boxes"):
            allowed, values = classes, pc.struct_field(pc.list_flatten(col), "label")
        elif kind == "choice" and f.get("values"):
            allowed, values = set(f["values"]), col
        if values is not None and allowed:
            found = set(pc.unique(values.drop_null()).to_pylist()) - allowed
            if found:
                report.add(
                    "values",
                    f"{rel}:{name}",
                    f"values outside the declared ones: {', '.join(sorted(map(str, found))[:5])}",
                )
        lo, hi = f.get("minimum"), f.get("maximum")
        if (lo is None and hi is None) or kind not in ("integer", "number", "string"):
            continue
        measured = pc.utf8_length(col) if kind == "string" else col
        if measured.null_count == len(measured):
            continue
        mm = pc.min_max(measured)
        if lo is not None and mm["min"].as_py() < lo:
            report.add("values", f"{rel}:{name}", f"{mm['min'].as_py()} is below the minimum {lo}")
        if hi is not None and mm["max"].as_py() > hi:
            report.add("values", f"{rel}:{name}", f"{mm['max'].as_py()} is above the maximum {hi}")


def _check_class_counts(
    report: VerifyReport, meta: dict[str, Any], parts: list[tuple[Any, str]]
) -> None:
    """Class → split counts recounted from the shards against ``counts.classes``."""
    import numpy as np
    import pyarrow as pa

    from .metadata import count_classes

    task = meta.get("task") or {}
    label = task.get("label_field")
    kind = next((f.get("type") for f in meta.get("fields") or [] if f.get("name") == label), None)
    if kind is None:
        return
    cols = [c.combine_chunks() if hasattr(c, "combine_chunks") else c for c, _ in parts]
    values = pa.concat_arrays(cols)
    names = sorted({split for _, split in parts})
    codes = np.repeat([names.index(split) for _, split in parts], [len(c) for c in cols])
    splits = pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), pa.array(names))
    got = count_classes(kind, task.get("classes") or [], values, splits)
    recorded = (meta.get("counts") or {}).get("classes") or {}
    if got != recorded:
        differ = sorted(k for k in set(got) | set(recorded) if got.get(k) != recorded.get(k))
        report.add(
            "counts",
            "classes",
            "class counts in the shards differ from metadata.json for "
            + ", ".join(f"{k} ({got.get(k)} vs {recorded.get(k)})" for k in differ[:5]),
        )


def _check_shares(report: VerifyReport, root: Path, recorded: dict[str, Any]) -> None:
    from .balance import EXCLUDED_FILE, SplitReport

    try:
        claimed = SplitReport.from_dict(recorded)
    except (KeyError, TypeError, ValueError) as exc:
        report.add("split shares", METADATA_FILE, f"splits section unreadable ({exc})")
        return
    actual = SplitReport(
        claimed.planned,
        {s: report.rows.get(s, 0) for s in claimed.planned},
        claimed.tolerance,
        claimed.cross_group_near_duplicates,
    )
    for s in claimed.planned:
        if abs(actual.achieved[s] - claimed.achieved[s]) > 1e-6:
            report.add(
                "split shares",
                s,
                f"shards hold {actual.achieved[s]:.4%}, metadata says {claimed.achieved[s]:.4%}",
            )
    if actual.outside and not claimed.accepted_deviation:
        misses = ", ".join(
            f"{s} {actual.achieved[s]:.1%} (plan {actual.planned[s]:.1%})" for s in actual.outside
        )
        report.add(
            "split shares",
            "splits",
            f"outside the tolerance of {claimed.tolerance:g} and not accepted: {misses}",
        )
    listed = root / EXCLUDED_FILE
    n_listed = (
        len(listed.read_text(encoding="utf-8-sig").splitlines()) - 1 if listed.is_file() else 0
    )
    if n_listed != claimed.excluded:
        report.add(
            "split shares",
            EXCLUDED_FILE,
            f"lists {n_listed} left-out items, metadata says {claimed.excluded}",
        )
