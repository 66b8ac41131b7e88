"""``package(project)``: build ``releases/<version>/`` in a temporary folder, rename it into
place at the end. Never overwrites a version; the same inputs give byte-identical files."""

from __future__ import annotations

import os
import re
import shutil
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from datakit import __version__
from datakit.errors import InputError, ReleaseError
from datakit.io import (
    file_sha256,
    prefetch_sha256,
    read_json,
    sha256_file,
    with_path,
    write_json,
    write_text,
)
from datakit.labels import content_column
from datakit.project import Project
from datakit.spec.model import ProjectSpec

from .balance import (
    EXCLUDED_FILE,
    SplitDeviationError,
    SplitReport,
    write_excluded,
)
from .engine import BuildOptions, BuiltRelease, PackageEngine
from .gate import GateResult, enforce_gate
from .metadata import check_metadata
from .shards import (
    LINEAGE_NAMES,
    MediaMode,
    is_media,
    release_schema,
)

Layout = Literal["huggingface", "aihub", "coco", "yolo", "conll"]
Progress = Callable[[int, int | None], None]
SPLIT_ALGORITHM = "datakit-units-fnv1a64-splitmix-large-first-midpoint/v2"
SUMS_FILE = "SHA256SUMS"
METADATA_FILE = "metadata.json"


@dataclass
class PackageResult:
    version: str
    path: Path
    splits: dict[str, int]
    total: int
    leakage: dict[str, int]
    gate: dict[str, Any]
    layouts: list[str]
    files: int
    bytes: int
    release_date: str
    skipped: dict[str, int] = field(default_factory=dict)
    split_report: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "path": str(self.path),
            "release_date": self.release_date,
            "total": self.total,
            "splits": self.splits,
            "leakage": self.leakage,
            "quality": self.gate,
            "layouts": self.layouts,
            "files": self.files,
            "bytes": self.bytes,
            "skipped": self.skipped,
            "split_report": self.split_report,
        }


def release_date(spec: ProjectSpec, latest_collected_at: str | None = None) -> tuple[str, str]:
    """(YYYY-MM-DD, where it came from): the spec, SOURCE_DATE_EPOCH, else the latest
    collection time in the manifest. Never the clock, so rebuilds are byte-identical."""
    if spec.dataset.release_date:
        return spec.dataset.release_date, "spec"
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            return datetime.fromtimestamp(int(epoch), UTC).date().isoformat(), "SOURCE_DATE_EPOCH"
        except ValueError as exc:
            raise ReleaseError(
                f"SOURCE_DATE_EPOCH={epoch!r} is not a number of seconds",
                hint="unset it or set it to a Unix time, e.g. SOURCE_DATE_EPOCH=1767225600",
            ) from exc
    if latest_collected_at:
        return latest_collected_at[:10], "manifest.collected_at"
    raise ReleaseError(
        "no release date",
        hint="set dataset.release_date in datakit.yaml or the SOURCE_DATE_EPOCH variable",
    )


def _check_version(version: str) -> str:
    version = unicodedata.normalize("NFC", version.strip())
    if not re.fullmatch(r"[0-9A-Za-z][0-9A-Za-z._+-]*", version):
        raise ReleaseError(
            f"release version {version!r} cannot be a folder name",
            hint="use letters, digits, dots and dashes, e.g. 1.0 or 1.1-beta",
        )
    return version


def package(
    project: Project,
    *,
    version: str | None = None,
    layouts: Iterable[Layout] = ("huggingface",),
    media: MediaMode = "embed",
    accept_failed_check: bool = False,
    accept_split_deviation: bool = False,
    rows_per_shard: int | None = None,
    progress: Progress | None = None,
    engine: str | None = None,
) -> PackageResult:
    """Build a release of the project's labelled items. See docs/package.md.

    ``engine`` is ``local`` or ``spark`` (default: ``DATAKIT_ENGINE``, then the spec); both
    give the same split per item, the same figures and a release that passes ``verify``.

    Raises :class:`~datakit.package.balance.SplitDeviationError` (exit 1) when a split's share
    misses its ratio by more than ``splits.tolerance``, unless ``accept_split_deviation``."""
    spec = project.spec
    version = _check_version(version or spec.dataset.version)
    layouts = list(layouts)
    from .layouts import check_layouts, write_layouts

    check_layouts(spec, layouts)
    if media not in ("embed", "reference"):
        raise InputError(
            f"unknown media mode {media!r}", field="media", hint="use 'embed' or 'reference'"
        )
    if rows_per_shard is not None and rows_per_shard < 1:
        raise InputError(
            f"rows_per_shard must be at least 1, not {rows_per_shard}", field="rows_per_shard"
        )
    layout_names: list[str] = sorted({"huggingface", *layouts})
    final = project.paths.releases / version
    if final.exists():
        raise ReleaseError(
            f"release {version} already exists ({project.paths.rel(final)})",
            hint="releases are never overwritten: raise dataset.version in datakit.yaml "
            "(or pass --release-version), or delete the folder yourself",
        )
    from datakit.engine import resolve_engine

    engine_name = resolve_engine(engine, spec)
    # Refuse early on a missing, failed or spec-stale check; whether the data changed since
    # the check needs their hashes, which run on a thread while pass one reads the inputs.
    prefetch_sha256([project.paths.manifest, project.paths.labels])
    enforce_gate(project, accept_failed_check=accept_failed_check, check_data=False)
    gate: GateResult | None = None

    def full_gate() -> None:
        nonlocal gate
        gate = enforce_gate(project, accept_failed_check=accept_failed_check)

    def split_check(report: SplitReport) -> SplitReport:
        if report.within_tolerance:
            return report
        if accept_split_deviation:
            return report.accepted()
        raise SplitDeviationError(report)

    root = project.paths.releases
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(f".tmp-{version}-*"):  # left by an interrupted run
        shutil.rmtree(stale, ignore_errors=True)
    tmp = root / f".tmp-{version}-{os.getpid()}"
    tmp.mkdir()
    try:
        options = BuildOptions(media, rows_per_shard, progress, full_gate, split_check)
        built = _engine(engine_name).build(project, spec, tmp, options)
        assert gate is not None
        allowed = built.leakage["near_duplicate"] if _ignores_links(spec) else 0
        if built.leakage["total"] > allowed:  # pragma: no cover - the units rule this out
            raise ReleaseError(f"split leakage found: {built.leakage}")
        if built.excluded_rows:
            write_excluded(tmp / EXCLUDED_FILE, built.excluded_rows)
        date, date_source = release_date(spec, built.latest_collected_at)
        if "aihub" in layout_names:
            from .aihub import write_aihub_tree

            write_aihub_tree(project, spec, tmp, built.shards, date)
        write_layouts(spec, tmp, built.shards, layout_names, date, version)  # coco, yolo, conll
        facts = _facts(project, spec, built, gate, version, date, date_source, layout_names, media)
        facts["metadata"]["release"]["engine"] = engine_name
        from .documents import write_documents

        write_documents(tmp, spec, facts)
        files = _file_list(tmp)
        meta = {**facts["metadata"], "files": files}
        check_metadata(meta)
        write_json(tmp / METADATA_FILE, meta)
        write_sums(tmp, {f["path"]: f["sha256"] for f in files})
        tmp.replace(final)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        named = with_path(exc, project.paths.rel(final))
        if named is not exc:
            raise named from exc
        raise
    split_sizes = built.split_sizes
    total_bytes = sum(f["bytes"] for f in files)
    result = PackageResult(
        version=version,
        path=final,
        splits=split_sizes,
        total=sum(split_sizes.values()),
        leakage=built.leakage,
        gate=gate.to_dict(),
        layouts=layout_names,
        files=len(files) + 2,
        bytes=total_bytes,
        release_date=date,
        skipped={k: v for k, v in built.skipped.items() if not k.startswith("_")},
        split_report=built.split_report.to_dict(),
    )
    project.record_stage(
        "package",
        {
            "version": version,
            "total": result.total,
            "splits": split_sizes,
            "split_shares": built.split_report.achieved,
            "split_deviation_accepted": built.split_report.accepted_deviation,
            "leakage": built.leakage["total"],
            "engine": engine_name,
            "quality": gate.state,
            "accepted_failed_check": gate.accepted,
        },
    )
    return result


def _ignores_links(spec: ProjectSpec) -> bool:
    return spec.splits.cross_group_near_duplicates == "ignore"


def _engine(name: str) -> PackageEngine:
    """The package engine called ``name``; Spark's module is imported only when chosen."""
    if name == "spark":
        from .spark import SparkEngine

        return SparkEngine()
    from .local import LocalEngine

    return LocalEngine()


# -- facts, checksums --------------------------------------------------------------------


def _file_list(folder: Path) -> list[dict[str, Any]]:
    out = []
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name not in (METADATA_FILE, SUMS_FILE):
            rel = p.relative_to(folder).as_posix()
            out.append({"path": rel, "sha256": sha256_file(p), "bytes": p.stat().st_size})
    return sorted(out, key=lambda f: f["path"])


def write_sums(folder: Path, known: dict[str, str] | None = None) -> None:
    """SHA256SUMS of every file (``sha256sum -c`` format); ``known`` holds digests already
    computed (path → sha256) so large shards are not hashed twice."""
    known = known or {}
    lines = []
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name != SUMS_FILE:
            rel = p.relative_to(folder).as_posix()
            lines.append(f"{known.get(rel) or sha256_file(p)}  {rel}")
    write_text(folder / SUMS_FILE, "\n".join(sorted(lines, key=lambda s: s[66:])) + "\n")


def _facts(
    project: Project,
    spec: ProjectSpec,
    built: BuiltRelease,
    gate: GateResult,
    version: str,
    date: str,
    date_source: str,
    layouts: list[str],
    media: MediaMode,
) -> dict[str, Any]:
    ds = spec.dataset
    counts_split = {s: sum(x["rows"] for x in v) for s, v in built.shards.items()}
    schema = release_schema(spec, media)
    content = content_column(spec)
    label_names = {spec.task.label_field, *(a.name for a in spec.task.attributes)}

    def role(name: str) -> str:
        if name == "id":
            return "id"
        if name == content:
            return "content"
        if name in LINEAGE_NAMES:
            return "lineage"
        return "label" if name in label_names else "field"

    metadata: dict[str, Any] = {
        "datakit_release": 1,
        "dataset": {
            "id": ds.id,
            "name": {"ko": ds.name_ko, "en": ds.name_en},
            "version": ds.version,
            "license": ds.license,
            "domain": ds.domain,
            "purpose": ds.purpose,
            "services": list(ds.services),
            "keywords": list(ds.keywords),
            "year": ds.year,
            "organizations": {
                "builder": ds.organizations.builder,
                "labeler": ds.organizations.labeler,
                "inspector": ds.organizations.inspector,
            },
            "contact": {"name": ds.contact_name, "email": ds.contact_email},
        },
        "release": {
            "version": version,
            "date": date,
            "date_source": date_source,
            "layouts": layouts,
            "media": media if is_media(spec) else "none",
        },
        "task": {
            "type": spec.task.type,
            "data_type": spec.data.type,
            "label_field": spec.task.label_field,
            "classes": list(spec.task.class_names),
        },
        "counts": {
            "total": sum(counts_split.values()),
            "splits": counts_split,
            "classes": built.classes,
            "attributes": built.attributes,
            "skipped": dict(built.skipped),
        },
        "splits": {
            "ratios": dict(spec.splits.ratios),
            "seed": spec.splits.seed,
            "stratify": spec.stratify_key,
            "group": spec.splits.group,
            "algorithm": SPLIT_ALGORITHM,
            "units": built.units,
            **built.split_report.to_dict(),
        },
        "leakage": built.leakage,
        "quality": gate.to_dict(),
        "fields": [
            {
                "name": f.name,
                "type": f.type,
                "required": f.required,
                "description": f.description,
                "group": f.group,
                "range": f.range_text()
                or (
                    ", ".join(spec.task.class_names)
                    if f.type in ("class", "classes", "spans", "boxes")
                    else ""
                ),
                "minimum": f.minimum,
                "maximum": f.maximum,
                "values": list(f.values),
            }
            for f in spec.fields
        ],
        "columns": [
            {"name": f.name, "arrow_type": str(f.type), "role": role(f.name)} for f in schema
        ],
        "shards": built.shards,
        "provenance": {
            "datakit_version": __version__,
            "spec_sha256": project.spec_hash,
            "manifest_sha256": file_sha256(project.paths.manifest),
            "labels_sha256": file_sha256(project.paths.labels),
            "consensus_sha256": (
                sha256_file(project.paths.annotations / "consensus.parquet")
                if (project.paths.annotations / "consensus.parquet").is_file()
                else None
            ),
            "sources": built.sources,
            "collection_period": {
                "from": built.collection_dates[0],
                "to": built.collection_dates[1],
            },
            "annotation": {
                "annotators_per_item": spec.annotation.annotators_per_item,
                "mean_annotators": _round(built.mean_annotators),
                "mean_agreement": _round(built.mean_agreement),
                "methods": built.methods,
            },
        },
        "pii": {
            "detect": list(spec.pii.detect),
            "action": spec.pii.action,
            "content": "de-identified",
            "items_with_findings": built.pii_items,
        },
    }
    return {"metadata": metadata, "spec": spec, "history": release_history(project)}


def release_history(project: Project) -> list[dict[str, Any]]:
    """Earlier releases of the project (version, date, total), oldest first."""
    out = []
    for meta_path in project.paths.releases.glob(f"*/{METADATA_FILE}"):
        try:
            m = read_json(meta_path)
            total = int(m["counts"]["total"])
            out.append(
                {"version": m["release"]["version"], "date": m["release"]["date"], "total": total}
            )
        except (ValueError, KeyError, TypeError):
            continue
    out.sort(key=lambda h: (h["date"], h["version"]))
    for i, h in enumerate(out):
        prev = out[i - 1]["total"] if i else None
        h["change"] = (
            f"최초 공개 ({h['total']:,}건)"
            if prev is None
            else f"{h['total']:,}건 (이전 버전 대비 {h['total'] - prev:+,}건)"
        )
    return out


def _round(x: float | None) -> float | None:
    return None if x is None else round(float(x), 4)
