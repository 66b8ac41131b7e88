"""Media of image tasks are served by Label Studio byte for byte."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from datakit.annotate.client import Connection, LabelStudioClient
from datakit.annotate.pull import pull
from datakit.annotate.push import push
from datakit.annotate.simulate import simulate

pytestmark = pytest.mark.labelstudio


def _image_items(root: Path, n: int) -> list[dict[str, Any]]:
    from PIL import Image

    items = []
    src = root / "data" / "source"
    src.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = Image.new("RGB", (96 + i, 80), (40 * i % 255, 120, 200))
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        name = f"도로_{i:02d}.png"
        (src / name).write_bytes(buf.getvalue())
        items.append(
            {
                "id": f"img{i:02d}",
                "source_path": f"raw/{name}",
                "stored_path": f"data/source/{name}",
                "sha256": hashlib.sha256(buf.getvalue()).hexdigest(),
                "size": len(buf.getvalue()),
                "media_type": "image/png",
                "width": 96 + i,
                "height": 80,
                "mode": "RGB",
            }
        )
    return items


def test_image_task_media_equals_the_collected_file(  # type: ignore[no-untyped-def]
    planned_project, label_studio, ls_conn: Connection, tmp_path: Path
) -> None:
    from datakit.plan.init import init_project  # noqa: F401 - planned_project uses it

    # a local server serves files below its document root: put the project there
    root = label_studio.document_root or tmp_path
    project = planned_project("object_detection", [], root=root)
    items = _image_items(project.root, 3)
    from tests.annotate.conftest import write_manifest

    write_manifest(project.root, items)
    res = push(project, conn=ls_conn)
    assert res.tasks_created == 3
    assert res.media == ("local-files" if label_studio.document_root else "upload")
    with LabelStudioClient(ls_conn) as client:
        tasks = {t["data"]["item_id"]: t for t in client.iter_tasks(res.project_id)}
    for it in items:
        url = tasks[it["id"]]["data"]["image"]
        got = httpx.get(
            ls_conn.url + url, headers={"Authorization": f"Token {ls_conn.api_key}"}, timeout=30
        )
        assert got.status_code == 200
        assert got.content == (project.root / it["stored_path"]).read_bytes()

    # boxes come back normalised to the spec's fields, with IoU-matched agreement
    simulate(project, conn=ls_conn, error_rate=0.0)
    out = pull(project, conn=ls_conn)
    assert out.labelled == 3
    rec = json.loads(project.paths.labels.read_text().splitlines()[0])
    assert rec["file_name"] == "도로_00.png" and rec["width"] == 96
    assert set(rec["objects"][0]) == {"label", "x", "y", "width", "height"}
    assert out.agreement.metric == "box_f1" and out.agreement.value == 1.0
