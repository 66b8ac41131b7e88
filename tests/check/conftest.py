"""Projects with a hand-built manifest and labels, so the check stage is tested on its own."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

CLASSES = ("긍정", "부정", "중립")
TEXTS = {
    "긍정": "배송 빠르고 포장도 꼼꼼해요. 재구매 의사 있습니다!",
    "부정": "사이즈가 너무 작고 교환도 안 해주네요.",
    "중립": "색상은 사진과 같고 두께는 보통입니다.",
}


def manifest_row(i: int, **over: Any) -> dict[str, Any]:
    cls = CLASSES[i % 3]
    text = f"{TEXTS[cls]} ({i})"
    row: dict[str, Any] = {
        "id": f"r{i:04d}",
        "source_path": f"data/raw/reviews.csv#row={i}",
        "stored_path": None,
        "text": text,
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
        "size": len(text.encode()),
        "media_type": "text/plain",
        "text_length": len(text),
        "encoding": "utf-8",
        "source": "쇼핑몰A" if i % 2 == 0 else "쇼핑몰B",
        "license": "CC-BY-4.0",
        "consent": "not_required",
        "collected_at": "2026-11-29T00:00:00+00:00",
        "status": "ok",
        "intake_label": cls,
        "attributes": json.dumps({"region": "서울" if i % 3 else "부산"}, ensure_ascii=False),
    }
    row.update(over)
    return row


def write_manifest(root: Path, rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa

    from datakit.tables import MANIFEST_SCHEMA, write_table

    cols = {f.name: [r.get(f.name) for r in rows] for f in MANIFEST_SCHEMA}
    write_table(pa.table(cols, schema=MANIFEST_SCHEMA), root / "data" / "manifest.parquet")


def label_record(row: dict[str, Any], label: str | None = None) -> dict[str, Any]:
    return {
        "id": row["id"],
        "text": row["text"],
        "source": row["source"],
        "label": label or row["intake_label"],
        "difficulty": "쉬움",
    }


def write_labels(root: Path, records: list[Any]) -> Path:
    path = root / "annotations" / "labels.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False))
            fh.write("\n")
    return path


def write_agreement(root: Path, labels: dict[str, dict[str, str]]) -> Any:
    """annotations/agreement.json as the annotate stage writes it, from item → annotator →
    label; returns the AgreementReport."""
    from datakit.annotate.agreement import Ann, compute_agreement
    from datakit.annotate.pull import write_agreement as write
    from datakit.project import Project

    project = Project(root)
    items = {
        iid: [Ann(who, n, {"label": v}) for n, (who, v) in enumerate(per.items())]
        for iid, per in labels.items()
    }
    report = compute_agreement(project.spec, items).report
    project.paths.annotations.mkdir(parents=True, exist_ok=True)
    write(project, report)
    return report


@pytest.fixture
def text_project(make_project: Callable[..., Path]) -> Callable[..., Path]:
    """A planned text_classification project (targets: 30 items, 10 per class, source
    50/50) with ``n`` collected items and a correct label for each."""

    def make(n: int = 30, *, labels: bool = True, name: str | None = None) -> Path:
        from datakit.plan.run import plan
        from datakit.project import Project

        root = make_project("text_classification", name=name)
        plan(Project(root))
        rows = [manifest_row(i) for i in range(n)]
        write_manifest(root, rows)
        if labels:
            write_labels(root, [label_record(r) for r in rows])
        return root

    return make
