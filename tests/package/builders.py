"""Build package-stage inputs directly (manifest, labels.jsonl, consensus, quality.json), so
the package tests do not depend on the collect/annotate/check stages. Also used by
bench/bench_package.py."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from datakit.project import Project
from datakit.reports import AgreementReport, QualityReport
from datakit.spec.model import ProjectSpec
from datakit.tables import CONSENSUS_SCHEMA, MANIFEST_SCHEMA

SOURCES = ("쇼핑몰A", "쇼핑몰B")
WORDS = (
    "배송",
    "빠르고",
    "포장",
    "꼼꼼해요",
    "사이즈",
    "작아요",
    "색상",
    "보통",
    "재구매",
    "의사",
    "있어요",
)


def review_text(i: int) -> str:
    words = [WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(3 + i % 9)]
    return f"{' '.join(words)} #{i}"


def tiny_png(i: int, size: int = 72) -> bytes:
    from PIL import Image

    img = Image.new("RGB", (size, size), ((i * 37) % 256, (i * 91) % 256, (i * 53) % 256))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def label_value(spec: ProjectSpec, name: str, i: int, text: str) -> Any:
    f = spec.field(name)
    classes = spec.task.class_names
    cls = classes[i % len(classes)] if classes else ""
    if f.type == "class":
        return cls
    if f.type == "classes":
        return [cls]
    if f.type == "choice":
        return f.values[i % len(f.values)]
    if f.type == "spans":
        return [{"start": 0, "end": 2, "label": cls, "text": text[:2]}]
    if f.type == "boxes":
        return [{"label": cls, "x": 10.0, "y": 10.0, "width": 20.0, "height": 20.0}]
    if f.type == "integer":
        return int(max(f.minimum or 0, 256))
    if f.type == "number":
        return 1.5
    if f.type == "boolean":
        return True
    if f.type == "date":
        return "2026-01-01"
    if f.type == "datetime":
        return "2026-01-01T00:00:00Z"
    return f"{name}-{i % 50}"


def build_inputs(
    root: Path,
    n: int,
    *,
    ids: Callable[[int], str] = lambda i: f"item-{i:07d}",
    group: Callable[[int], str | None] = lambda i: None,
    cluster: Callable[[int], str | None] = lambda i: None,
    sha: Callable[[int], str] | None = None,
    label_of: Callable[[int], str] | None = None,
    order: Sequence[int] | None = None,
    extra_rows: list[dict[str, Any]] | None = None,
    quality: bool | None = True,
    media_bytes: Callable[[int], bytes] | None = None,
) -> Project:
    """Write data/manifest.parquet, annotations/labels.jsonl, annotations/consensus.parquet and
    (unless ``quality`` is None) a reports/quality.json that matches them, with ``passed=quality``.
    ``order`` permutes the rows as written (same items, other order)."""
    project = Project(root)
    spec = project.spec
    data_type = spec.data.type
    order = list(order) if order is not None else list(range(n))
    rows: list[dict[str, Any]] = []
    labels: list[str] = []
    cons: list[dict[str, Any]] = []
    for i in order:
        item = ids(i)
        text = review_text(i)
        stored = None
        if data_type in ("image", "audio", "video"):
            data = (media_bytes or tiny_png)(i)
            stored = f"data/source/{item}.png"
            (root / stored).parent.mkdir(parents=True, exist_ok=True)
            (root / stored).write_bytes(data)
            digest = hashlib.sha256(data).hexdigest()
            size = len(data)
        else:
            digest = hashlib.sha256(text.encode()).hexdigest()
            size = len(text.encode())
        if sha is not None:
            digest = sha(i)
        source = SOURCES[i % 2]
        grp = group(i)
        if grp is None and spec.splits.group == "source":
            grp = source
        rows.append(
            {
                "id": item,
                "source_path": f"raw/{source}/{item}.txt",
                "stored_path": stored,
                "text": text if data_type in ("text", "tabular") else None,
                "sha256": digest,
                "size": size,
                "media_type": "text/plain" if stored is None else "image/png",
                "width": 72 if stored else None,
                "height": 72 if stored else None,
                "text_length": len(text),
                "encoding": "utf-8",
                "source": source,
                "license": "CC-BY-4.0",
                "consent": "not_required",
                "collection_date": f"2026-0{1 + i % 9}-15",
                "collected_at": "2026-10-01T09:00:00+00:00",
                "status": "ok",
                "near_dup_cluster": cluster(i),
                "group": grp,
                "attributes": "{}",
                "pii": None,
            }
        )
        rec: dict[str, Any] = {}
        for f in spec.fields:
            if f.name == "id":
                rec["id"] = item
            elif f.name == "text":
                rec["text"] = text
            elif f.name == "source":
                rec["source"] = source
            elif f.name == "file_name":
                rec["file_name"] = f"{item}.png"
            elif f.name == spec.splits.group and group(i) is not None:
                rec[f.name] = group(i)
            elif f.name == spec.task.label_field and label_of is not None:
                rec[f.name] = label_of(i)
            else:
                rec[f.name] = label_value(spec, f.name, i, text)
        labels.append(json.dumps(rec, ensure_ascii=False, separators=(",", ":")))
        cons.append(
            {
                "item_id": item,
                "method": "unanimous" if i % 4 else "majority",
                "n_annotators": 2 if i % 4 else 3,
                "annotation_ids": [i * 10 + 1, i * 10 + 2],
                "annotators": ["a@example.com", "b@example.com"],
                "agreement": 1.0 if i % 4 else 0.667,
                "decided_by": None,
                "needs_review": False,
            }
        )
    rows.extend(extra_rows or [])
    manifest = pa.Table.from_pylist(rows, schema=MANIFEST_SCHEMA)
    (root / "data").mkdir(parents=True, exist_ok=True)
    pq.write_table(manifest, project.paths.manifest, compression="zstd")
    project.paths.annotations.mkdir(parents=True, exist_ok=True)
    project.paths.labels.write_text("\n".join(labels) + "\n", encoding="utf-8")
    pq.write_table(
        pa.Table.from_pylist(cons, schema=CONSENSUS_SCHEMA),
        project.paths.annotations / "consensus.parquet",
    )
    if quality is not None:
        write_quality(project, passed=quality)
    return project


CHECKED_AT = "2026-10-02T00:00:00+00:00"


def write_quality(
    project: Project,
    *,
    passed: bool = True,
    generated_at: str = CHECKED_AT,
    agreement: AgreementReport | None = None,
) -> QualityReport:
    """reports/quality.json (and the other reports) about the project's current files,
    written by the check stage's own writer. ``passed`` decides the semantic indicator;
    ``agreement`` is what annotations/agreement.json would hold."""
    from datakit.check import indicators as ind
    from datakit.check.report import write_reports
    from datakit.check.run import dataset_facts, report_inputs

    spec = project.spec
    q = spec.targets.quality
    indicators: dict[str, ind.Indicator] = {
        name: ind.not_measured(
            name,
            spec.validity_target[1] if name == "validity" else getattr(q, name, 1.0),
            "not measured in this test",
        )
        for name in ind.INDICATORS
    }
    indicators["syntactic"] = ind.Indicator("syntactic", 1.0, q.syntactic, True)
    indicators["semantic"] = ind.Indicator("semantic", 0.95 if passed else 0.8, q.semantic, passed)
    indicators["agreement"] = ind.agreement(agreement, q.agreement)
    labelled = sum(1 for _ in project.paths.labels.open(encoding="utf-8"))
    total = spec.targets.total
    report = QualityReport(
        passed=ind.gate(indicators.values()),
        generated_at=generated_at,
        spec_sha256=project.spec_hash,
        inputs=report_inputs(project),
        checkpoint={
            "name": None,
            "labelled": labelled,
            "target_total": total,
            "share": labelled / total if total else None,
        },
        indicators=indicators,
        dataset=dataset_facts(spec),
    )
    write_reports(project, report)
    return report


def make_ready_project(
    make_project: Callable[..., Path],
    template: str = "text_classification",
    n: int = 60,
    release_date: str | None = "2026-11-01",
    **kw: Any,
) -> Project:
    """A project from a template, planned, with package inputs for ``n`` items."""
    from datakit.plan.run import plan

    root = make_project(template)
    if release_date:
        spec_path = root / "datakit.yaml"
        text = spec_path.read_text(encoding="utf-8")
        spec_path.write_text(
            text.replace(
                '  version: "1.0"\n', f'  version: "1.0"\n  release_date: "{release_date}"\n', 1
            ),
            encoding="utf-8",
        )
    plan(Project(root))
    return build_inputs(root, n, **kw)
