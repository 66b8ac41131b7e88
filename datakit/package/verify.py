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
    check: str  # checksums | metadata | shards | counts | leakage
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
        if figures["total"]:
            report.add("leakage", "splits", f"items shared between splits: {figures}")
        recorded = meta.get("leakage")
        if isinstance(recorded, dict) and recorded.get("total") != figures["total"]:
            report.add(
                "leakage",
                METADATA_FILE,
                f"records leakage {recorded.get('total')}, shards give {figures['total']}",
            )
    report.checks["leakage"] = len(report.problems) == n_before
    return report
