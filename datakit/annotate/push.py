"""``datakit annotate push``: the Label Studio project and its tasks, from the plan and the
manifest. Idempotent: the project is found again (state file, then title), a changed
labeling config is updated (Label Studio refuses a change that would orphan existing
annotations, and so does push), and tasks are keyed by item id so a rerun imports only
the items that are new.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from datakit.annotate import state
from datakit.annotate.client import Connection, LabelStudioClient, connect
from datakit.annotate.normalize import to_result
from datakit.errors import InputError, LabelStudioError, ProjectError
from datakit.labels import TASK_DATA_KEY
from datakit.project import Project

Progress = Callable[[int, int | None], None]


@dataclass
class PushResult:
    server: str
    project_id: int
    project_url: str
    title: str
    created: bool
    config_updated: bool
    settings_updated: list[str]
    items_ok: int
    tasks_created: int
    tasks_existing: int
    predictions_created: int = 0
    media: str = "inline"
    overlap: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def overlap_settings(project: Project) -> dict[str, Any]:
    """The spec's annotators-per-item and cross-check share as Label Studio settings."""
    a = project.spec.annotation
    return {
        "maximum_annotations": a.annotators_per_item,
        "overlap_cohort_percentage": round(a.cross_check_share * 100),
        "show_overlap_first": True,
    }


def ensure_project(
    client: LabelStudioClient, project: Project, *, review: bool = False
) -> tuple[dict[str, Any], bool, bool, list[str]]:
    """Find or create the Label Studio project. Returns (project, created, config_updated,
    settings changed)."""
    config = project.require(project.paths.label_config, produced_by="datakit plan").read_text(
        encoding="utf-8"
    )
    title = state.project_title(project, review=review)
    key = "review_project_id" if review else "project_id"
    st = state.load(project, "state", client.conn.url)
    found: dict[str, Any] | None = None
    if st.get(key):
        found = client.project(int(st[key]))
        if found is not None and found.get("title") != title:
            found = None
    if found is None:
        found = client.find_project(title)
    settings = (
        {"maximum_annotations": 1, "overlap_cohort_percentage": 100}
        if review
        else overlap_settings(project)
    )
    created = config_updated = False
    changed: list[str] = []
    if found is None:
        spec = project.spec
        body = {
            "title": title,
            "description": (
                f"Review of disagreements — {spec.dataset.name_ko}"
                if review
                else f"{spec.dataset.name_ko} ({spec.dataset.name_en}) v{spec.dataset.version}"
            ),
            "label_config": config,
            "expert_instruction": spec.task.instructions or "",
            "show_instruction": bool(spec.task.instructions),
            **settings,
        }
        found = client.create_project(**body)
        created = True
    else:
        if _norm(found.get("label_config", "")) != _norm(config):
            orphans = orphaned_labels(client, int(found["id"]), config)
            if orphans:
                raise ProjectError(
                    "labeling/label_config.xml changed in a way that would orphan annotations "
                    f"already made in Label Studio project {found['id']} ({title}): "
                    + "; ".join(orphans),
                    hint="keep the classes and controls that existing annotations use (add new "
                    "ones instead), or start a new dataset version (dataset.version) for the "
                    "new scheme",
                )
            try:
                found = client.update_project(int(found["id"]), label_config=config)
            except LabelStudioError as exc:
                if "HTTP 400" not in exc.message:
                    raise
                raise ProjectError(
                    "labeling/label_config.xml changed in a way that would orphan annotations "
                    f"already made in Label Studio project {found['id']} ({title}): "
                    f"{exc.message.split(': ', 2)[-1]}",
                    hint="keep the classes and controls that existing annotations use (add new "
                    "ones instead), or start a new dataset version (dataset.version) for the "
                    "new scheme",
                ) from None
            config_updated = True
        changed = [k for k, v in settings.items() if found.get(k) != v]
        if changed:
            found = client.update_project(int(found["id"]), **{k: settings[k] for k in changed})
    assert found is not None
    state.save(project, "state", client.conn.url, {**st, key: int(found["id"])})
    return found, created, config_updated, changed


def orphaned_labels(client: LabelStudioClient, project_id: int, config: str) -> list[str]:
    """What existing annotations use that ``config`` no longer has (controls and values),
    from Label Studio's project summary. Empty when the change is safe."""
    import xml.etree.ElementTree as ET

    summary = client.project_summary(project_id)
    used = client.expect(summary.get("created_labels") or {}, dict, "summary", "label counts")
    created = client.expect(summary.get("created_annotations") or {}, dict, "summary", "counts")
    used_controls = {str(k).split("|")[0] for k in created}
    root = ET.fromstring(config)
    controls: dict[str, set[str]] = {}
    for el in root.iter():
        name = el.get("name")
        if name and el.get("toName"):
            controls[name] = {
                str(c.get("value")) for c in el.iter() if c is not el and c.get("value")
            }
    out = []
    for name in sorted(used_controls | set(used)):
        if name not in controls:
            out.append(f"control {name!r} is used by existing annotations but was removed")
            continue
        values = controls[name]
        gone = sorted(
            v for v, n in (used.get(name) or {}).items() if n and values and v not in values
        )
        if gone:
            out.append(f"{name}: {', '.join(gone)} used by existing annotations but removed")
    return out


def _norm(xml: str) -> str:
    return "\n".join(line.strip() for line in xml.strip().splitlines())


def task_map(
    client: LabelStudioClient,
    project: Project,
    project_id: int,
    *,
    task_number: int | None,
    name: str = "tasks",
) -> dict[str, int]:
    """item id → task id for the project; the local cache is trusted only when its size
    equals the server's task count, otherwise it is rebuilt from the server."""
    st = state.load(project, name, client.conn.url)
    if st.get("project_id") == project_id and len(st.get("tasks", {})) == task_number:
        return {str(k): int(v) for k, v in st["tasks"].items()}
    mapping: dict[str, int] = {}
    for t in client.iter_tasks(project_id, include="id,data"):
        iid = (t.get("data") or {}).get("item_id")
        if iid is not None and (str(iid) not in mapping or t["id"] < mapping[str(iid)]):
            mapping[str(iid)] = int(t["id"])
    _save_map(client, project, project_id, mapping, name)
    return mapping


def _save_map(
    client: LabelStudioClient,
    project: Project,
    project_id: int,
    mapping: dict[str, int],
    name: str = "tasks",
) -> None:
    state.save(project, name, client.conn.url, {"project_id": project_id, "tasks": mapping})


def _media_url(project: Project, conn: Connection, stored: str | None, item: str) -> str:
    if not stored:
        raise InputError(
            "the item has no stored file (stored_path is empty)",
            file="data/manifest.parquet",
            item=item,
            field="stored_path",
        )
    path = (project.root / stored).resolve()
    if not path.is_file():
        raise InputError(
            f"stored file {stored} is missing",
            file="data/manifest.parquet",
            item=item,
            field="stored_path",
            hint="rerun `datakit collect`",
        )
    assert conn.document_root is not None
    try:
        rel = path.relative_to(conn.document_root.resolve()).as_posix()
    except ValueError:
        raise ProjectError(
            f"{path} is outside the server's local-files root {conn.document_root}",
            hint="serve this project with `datakit annotate serve` (it serves the project "
            "folder), or use a remote server (files are uploaded)",
        ) from None
    return "/data/local-files/?d=" + urllib.parse.quote(rel)


def media_uploader(
    client: LabelStudioClient, project: Project, pid: int
) -> Callable[[str], str] | None:
    """How media reach Label Studio: None for text (inline) and for a local server, which
    serves data/source through a local-files storage attached here; an upload function for
    a remote server."""
    if TASK_DATA_KEY[project.spec.data.type] == "text":
        return None
    if client.conn.document_root is not None:
        ensure_local_storage(client, project, pid)
        return None

    def upload(stored: str) -> str:
        return _upload(client, pid, project, stored)

    return upload


def _upload(client: LabelStudioClient, project_id: int, project: Project, stored: str) -> str:
    """Upload one file to a remote server; returns the URL Label Studio serves it at."""
    path = project.root / stored
    with path.open("rb") as fh:
        data = client.post(
            f"/api/projects/{project_id}/import",
            params={"commit_to_project": "false"},
            files={"file": (path.name, fh)},
            timeout=300.0,
        )
    data = client.expect(data, dict, f"upload of {stored}", "an object")
    ids = client.expect(data.get("file_upload_ids") or [], list, "upload", "a list of ids")
    if not ids:
        raise LabelStudioError(
            f"upload of {stored} returned no file id",
            service=client.conn.service,
            hint="check the server's upload settings",
        )
    for u in client.file_uploads(project_id, ids):
        if u.get("id") == ids[0] and u.get("file"):
            return "/data/" + str(u["file"]).lstrip("/")
    raise LabelStudioError(
        f"uploaded {stored} but could not find its URL",
        service=client.conn.service,
        hint="rerun the push",
    )


def ensure_local_storage(client: LabelStudioClient, project: Project, project_id: int) -> None:
    """Label Studio serves a local file only below a local-files storage connected to a
    project the user can see: connect ``data/source`` (no sync — tasks come from push)."""
    path = str(project.paths.source.resolve())
    existing = client.local_storages(project_id)
    if any(str(s.get("path", "")).rstrip("/") == path for s in existing):
        return
    client.create_local_storage(
        project_id,
        path=path,
        title="datakit 원천데이터 (data/source)",
        use_blob_urls=True,
        regex_filter="",
    )


def ok_items(project: Project) -> list[dict[str, Any]]:
    """Manifest rows whose status is ok, as dicts (in manifest order)."""
    from datakit.tables import read_manifest

    path = project.require(project.paths.manifest, produced_by="datakit collect")
    table = read_manifest(path)
    import pyarrow.compute as pc

    table = table.filter(pc.equal(table["status"], "ok"))
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


def build_tasks(
    project: Project,
    conn: Connection,
    rows: Iterable[dict[str, Any]],
    *,
    upload: Callable[[str], str] | None = None,
) -> Iterator[dict[str, Any]]:
    key = TASK_DATA_KEY[project.spec.data.type]
    for row in rows:
        iid = str(row["id"])
        if key == "text":
            content = row.get("text")
            if content is None:
                raise InputError(
                    "the item has no text", file="data/manifest.parquet", item=iid, field="text"
                )
        elif conn.document_root is not None:
            content = _media_url(project, conn, row.get("stored_path"), iid)
        elif upload is not None:
            content = upload(str(row.get("stored_path")))
        else:  # pragma: no cover - push always passes an uploader for remote servers
            raise ProjectError("no way to deliver media to the server")
        yield {"data": {"item_id": iid, key: content}}


def push(
    project: Project,
    *,
    conn: Connection | None = None,
    predictions: Path | None = None,
    model_version: str | None = None,
    batch_size: int = 5000,
    progress: Progress | None = None,
    client: LabelStudioClient | None = None,
) -> PushResult:
    """Create/update the Label Studio project and import tasks for new ok items."""
    conn = conn or connect(project)
    own = client is None
    client = client or LabelStudioClient(conn)
    try:
        client.whoami()
        found, created, config_updated, changed = ensure_project(client, project)
        pid = int(found["id"])
        rows = ok_items(project)
        mapping = (
            {} if created else task_map(client, project, pid, task_number=found.get("task_number"))
        )
        new_rows = [r for r in rows if str(r["id"]) not in mapping]
        total = len(new_rows)
        if progress:
            progress(0, total)
        uploader = media_uploader(client, project, pid)
        done = 0
        for start in range(0, total, batch_size):
            chunk = new_rows[start : start + batch_size]
            tasks = list(build_tasks(project, conn, chunk, upload=uploader))
            ids = client.import_tasks(pid, tasks)
            for row, tid in zip(chunk, ids, strict=True):
                mapping[str(row["id"])] = tid
            _save_map(client, project, pid, mapping)
            done += len(chunk)
            if progress:
                progress(done, total)
        if created and not total:
            _save_map(client, project, pid, mapping)
        n_pred = 0
        if predictions is not None:
            n_pred = push_predictions(
                project,
                load_predictions(predictions),
                conn=conn,
                client=client,
                model_version=model_version,
            )
        return PushResult(
            server=conn.url,
            project_id=pid,
            project_url=f"{conn.url}/projects/{pid}/data",
            title=str(found.get("title")),
            created=created,
            config_updated=config_updated,
            settings_updated=changed,
            items_ok=len(rows),
            tasks_created=total,
            tasks_existing=len(rows) - total,
            predictions_created=n_pred,
            media="inline text"
            if TASK_DATA_KEY[project.spec.data.type] == "text"
            else ("local-files" if conn.document_root is not None else "upload"),
            overlap=overlap_settings(project),
        )
    finally:
        if own:
            client.close()


# -- predictions ------------------------------------------------------------------------


def load_predictions(path: Path) -> list[dict[str, Any]]:
    """Predictions from JSON lines (or a JSON array): ``{"item_id", <label fields>,
    "score"?, "model_version"?}`` per item."""
    text = path.read_text(encoding="utf-8")
    try:
        if text.lstrip().startswith("["):
            data = json.loads(text)
            return [dict(d) for d in data]
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except ValueError as exc:
        raise InputError(f"not valid JSON: {exc}", file=str(path)) from None


def push_predictions(
    project: Project,
    predictions: Iterable[dict[str, Any]],
    *,
    conn: Connection | None = None,
    client: LabelStudioClient | None = None,
    model_version: str | None = None,
) -> int:
    """Attach model predictions (pre-annotations) to tasks; a task that already has a
    prediction of the same model version is skipped. Returns the number created."""
    from datakit.annotate.normalize import normalize_result

    conn = conn or connect(project)
    own = client is None
    client = client or LabelStudioClient(conn)
    try:
        found, *_ = ensure_project(client, project)
        pid = int(found["id"])
        mapping = task_map(client, project, pid, task_number=found.get("task_number"))
        existing = {
            (int(p["task"]), str(p.get("model_version") or "")) for p in client.predictions(pid)
        }
        n = 0
        spec = project.spec
        label_keys = {spec.task.label_field, *(a.name for a in spec.task.attributes)}
        for rec in predictions:
            iid = str(rec.get("item_id", ""))
            if iid not in mapping:
                raise InputError(
                    "no Label Studio task for this item (not collected, not ok, or not pushed)",
                    file="predictions",
                    item=iid or "(missing item_id)",
                    field="item_id",
                )
            version = str(rec.get("model_version") or model_version or "datakit")
            tid = mapping[iid]
            if (tid, version) in existing:
                continue
            fields = {k: v for k, v in rec.items() if k in label_keys}
            result = to_result(spec, fields)
            normalize_result(spec, result, file="predictions", item=iid)  # validates the values
            body: dict[str, Any] = {"task": tid, "result": result, "model_version": version}
            if rec.get("score") is not None:
                body["score"] = float(rec["score"])
            client.create_prediction(**body)
            existing.add((tid, version))
            n += 1
        return n
    finally:
        if own:
            client.close()


# -- review tasks -----------------------------------------------------------------------


def push_reviews(
    client: LabelStudioClient,
    project: Project,
    reviews: list[dict[str, Any]],
    rows: dict[str, dict[str, Any]],
) -> tuple[int | None, int]:
    """Create review tasks (one per item, keyed by item id) in the review project, each with
    the annotators' labels as predictions so the reviewer sees them side by side.

    ``reviews``: ``{"item_id", "reason", "labels": [(annotator, fields)]}``.
    Returns (review project id, tasks created)."""
    if not reviews:
        st = state.load(project, "state", client.conn.url)
        return st.get("review_project_id"), 0
    found, *_ = ensure_project(client, project, review=True)
    pid = int(found["id"])
    mapping = task_map(
        client, project, pid, task_number=found.get("task_number"), name="review_tasks"
    )
    todo = [r for r in reviews if r["item_id"] not in mapping]
    if not todo:
        return pid, 0
    conn = client.conn
    uploader = media_uploader(client, project, pid)

    tasks = list(build_tasks(project, conn, [rows[r["item_id"]] for r in todo], upload=uploader))
    for task, r in zip(tasks, todo, strict=True):
        task["data"]["review_reason"] = r["reason"]
        task["data"]["annotators"] = ", ".join(a for a, _ in r["labels"])
        task["predictions"] = [
            {"model_version": who, "result": to_result(project.spec, fields)}
            for who, fields in r["labels"]
        ]
    ids = client.import_tasks(pid, tasks)
    for r, tid in zip(todo, ids, strict=True):
        mapping[r["item_id"]] = tid
    _save_map(client, project, pid, mapping, name="review_tasks")
    return pid, len(todo)
