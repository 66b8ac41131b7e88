"""Helpers for the annotate tests: projects with a hand-made manifest (built with pyarrow
against MANIFEST_SCHEMA, as the collect stage would write it)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from datakit.annotate.client import Connection


def write_manifest(root: Path, items: list[dict[str, Any]]) -> None:
    import hashlib

    import pyarrow as pa

    from datakit.tables import MANIFEST_SCHEMA, write_table

    rows = []
    for it in items:
        content = (it.get("text") or it["id"]).encode()
        row = dict.fromkeys(MANIFEST_SCHEMA.names)
        row.update(
            {
                "source_path": f"raw/{it['id']}.txt",
                "sha256": hashlib.sha256(content).hexdigest(),
                "size": len(content),
                "media_type": "text/plain",
                "source": "쇼핑몰A",
                "collected_at": "2026-11-29T00:00:00Z",
                "status": "ok",
            }
        )
        if it.get("text") is not None:
            row["text_length"] = len(it["text"])
        row.update(it)
        rows.append(row)
    write_table(pa.Table.from_pylist(rows, schema=MANIFEST_SCHEMA), root / "data/manifest.parquet")


@pytest.fixture
def planned_project(tmp_path: Path) -> Callable[..., Any]:
    """``planned_project("text_classification", items, root=None)`` → Project with plan
    artefacts and the given manifest rows."""
    from datakit.plan.init import init_project
    from datakit.plan.run import plan
    from datakit.project import Project

    def make(template: str, items: list[dict[str, Any]], root: Path | None = None) -> Any:
        did = f"t-{template.replace('_', '-')[:12]}-{uuid.uuid4().hex[:8]}"
        path = (root or tmp_path) / did
        init_project(path, template=template, dataset_id=did)
        project = Project(path)
        plan(project)
        write_manifest(path, items)
        return Project(path)

    return make


@pytest.fixture
def ls_conn(label_studio: Any) -> Connection:
    return Connection(label_studio.url, label_studio.api_key, "test", label_studio.document_root)
