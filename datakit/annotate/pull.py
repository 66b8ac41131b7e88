"""``datakit annotate pull`` / ``import``: annotations back from Label Studio as tables.

Exports are streamed to a file under ``.datakit/annotate/`` and read element by element
(no whole-project JSON in memory). The first (or ``--full``) pull exports every annotated
task in one request when the project is not huge, falling back to batches when that
request times out; later pulls list the tasks whose ``updated_at`` (bumped by Label Studio
on every annotation change) is after the last pull's start and export those in batches,
checkpointing ``annotations.parquet`` after each batch. An interrupted pull keeps what it
fetched: the next run fetches the rest.

Outputs (docs/architecture.md): ``annotations/annotations.parquet``,
``annotations/consensus.parquet``, ``annotations/labels.jsonl`` (validated against
``labeling/label.schema.json``), ``annotations/agreement.json``. Files whose content did
not change are not rewritten.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from datakit.annotate import state
from datakit.annotate.adjudication import (
    GROUND_TRUTH,
    REVIEW_PROJECT,
    keep_latest,
    latest_settled,
    reviewer_accounts,
    row_key,
    settling_annotations,
    summarize,
)
from datakit.annotate.agreement import Ann, compute_agreement
from datakit.annotate.client import Connection, LabelStudioClient, connect, iter_json_array
from datakit.annotate.consensus import decide
from datakit.annotate.normalize import normalize_result
from datakit.errors import InputError, LabelStudioError, ProjectError
from datakit.io import dumps_json, read_json, write_json
from datakit.labels import TASK_DATA_KEY
from datakit.project import Project
from datakit.reports import AGREEMENT_FILE, AgreementFigures, AgreementReport

Progress = Callable[[int, int | None], None]
# Up to this many annotated tasks, a full pull tries one streamed export first (the fastest
# path); bigger projects, or a single export that times out, go 300 tasks per request.
SINGLE_EXPORT_MAX = 50_000
BATCH = 300  # task ids per export request: they travel in the URL (≈ 6 KB, under proxy limits)


@dataclass
class BuildResult:
    items: int
    labelled: int
    needs_review: int
    invalid_records: list[dict[str, str]]
    agreement: AgreementReport
    review_tasks_created: int
    review_project_id: int | None
    written: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "agreement": self.agreement.to_dict()}


@dataclass
class PullResult:
    server: str
    project_id: int
    mode: str  # full | incremental
    tasks_fetched: int
    annotations: int
    annotators: list[str]
    items: int
    labelled: int
    needs_review: int
    review_tasks_created: int
    review_project_id: int | None
    adjudicated: int
    agreement: AgreementFigures
    invalid_records: list[dict[str, str]] = field(default_factory=list)
    written: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "agreement": self.agreement.to_dict()}


# -- rows --------------------------------------------------------------------------------


def annotation_rows(
    project: Project,
    task: dict[str, Any],
    users: dict[int, str],
    *,
    origin: str,
    file: str,
    item_id: str | None = None,
) -> list[dict[str, Any]]:
    """ANNOTATIONS_SCHEMA rows for one exported task."""
    spec = project.spec
    iid = item_id or (task.get("data") or {}).get("item_id")
    if iid is None:
        raise InputError(
            "task has no data.item_id", file=file, item=f"task {task.get('id')}", field="item_id"
        )
    rows = []
    for ann in task.get("annotations") or []:
        who = ann.get("completed_by")
        if isinstance(who, dict):
            annotator = who.get("email") or str(who.get("id"))
        else:
            annotator = users.get(int(who)) if who is not None else None
            annotator = annotator or (None if who is None else str(who))
        cancelled = bool(ann.get("was_cancelled"))
        fields = (
            {}
            if cancelled
            else normalize_result(
                spec,
                ann.get("result") or [],
                file=file,
                item=str(iid),
                content=(task.get("data") or {}).get(TASK_DATA_KEY[spec.data.type]),
            )
        )
        rows.append(
            {
                "item_id": str(iid),
                "task_id": int(task.get("id") or 0),
                "annotation_id": int(ann["id"]),
                "annotator": annotator,
                "created_at": ann.get("created_at"),
                "updated_at": ann.get("updated_at"),
                "lead_time": None if ann.get("lead_time") is None else float(ann["lead_time"]),
                "was_cancelled": cancelled,
                "ground_truth": bool(ann.get("ground_truth")),
                "result": json.dumps(fields, ensure_ascii=False, sort_keys=True),
                "origin": origin,
            }
        )
    return rows


def read_rows(project: Project) -> list[dict[str, Any]]:
    from datakit.tables import ANNOTATIONS_SCHEMA, read_table

    path = project.paths.annotations_table
    if not path.is_file():
        return []
    rows: list[dict[str, Any]] = read_table(path, ANNOTATIONS_SCHEMA).to_pylist()
    return rows


def write_rows(project: Project, rows: list[dict[str, Any]]) -> bool:
    """Write annotations.parquet when its content changed. True if written."""
    import pyarrow as pa

    from datakit.tables import ANNOTATIONS_SCHEMA

    rows = sorted(rows, key=lambda r: (r["origin"], r["task_id"], r["annotation_id"]))
    table = pa.Table.from_pylist(rows, schema=ANNOTATIONS_SCHEMA)
    return _write_if_changed(project.paths.annotations_table, table)


def _write_if_changed(path: Path, table: Any) -> bool:
    from datakit.tables import read_table, write_table

    if path.is_file():
        try:
            if read_table(path, table.schema).equals(table):
                return False
        except Exception:  # an unreadable old file is simply replaced
            pass
    write_table(table, path)
    return True


# -- pull --------------------------------------------------------------------------------


def _users(client: LabelStudioClient) -> dict[int, str]:
    return {
        int(u["id"]): str(u.get("email") or u.get("username") or u["id"]) for u in client.users()
    }


def _project_id(client: LabelStudioClient, project: Project) -> int:
    st = state.load(project, "state", client.conn.url)
    title = state.project_title(project)
    if st.get("project_id"):
        found = client.project(int(st["project_id"]))
        if found is not None and found.get("title") == title:
            return int(st["project_id"])
    found = client.find_project(title)
    if found is None:
        raise ProjectError(
            f"there is no Label Studio project {title!r} on {client.conn.url}",
            hint="run `datakit annotate push` first",
        )
    state.save(project, "state", client.conn.url, {**st, "project_id": int(found["id"])})
    return int(found["id"])


def pull(
    project: Project,
    *,
    conn: Connection | None = None,
    client: LabelStudioClient | None = None,
    full: bool = False,
    progress: Progress | None = None,
    batch_size: int = BATCH,
) -> PullResult:
    """Fetch annotations (incrementally) and rebuild the annotate stage's outputs."""
    conn = conn or connect(project)
    own = client is None
    client = client or LabelStudioClient(conn)
    try:
        client.whoami()
        pid = _project_id(client, project)
        saved = state.PullState.load(project, conn.url, pid)
        run = _Fetch.open(
            project, client, pid, progress, keep=saved.watermark is not None or saved.interrupted
        )
        # the Date header is truncated to the second, so tasks changed in the second the pull
        # starts are fetched again next time: never missed, at worst fetched twice
        started = _minus(client.server_time(), seconds=0)
        st = _plan(run, saved, full=full, started=started)
        _fetch_pending(run, st, batch_size)
        run.tmp.unlink(missing_ok=True)
        adjudications = _adjudications(client, project, run.users)
        built = build_outputs(project, client=client, adjudications=adjudications)
        st.completed().save(project, conn.url)
        result = _result(run, st.mode, built)
        project.record_stage(
            "annotate",
            {
                "annotations": result.annotations,
                "items": result.items,
                "labelled": result.labelled,
                "needs_review": result.needs_review,
                "agreement": result.agreement.to_dict(),
            },
        )
        return result
    finally:
        if own:
            client.close()


@dataclass
class _Fetch:
    """What one pull has fetched so far: annotation rows per Label Studio task, beside the
    rows that came from elsewhere (imports), which a pull keeps as they are."""

    project: Project
    client: LabelStudioClient
    pid: int
    users: dict[int, str]
    progress: Progress | None
    others: list[dict[str, Any]]
    by_task: dict[int, list[dict[str, Any]]]
    fetched: int = 0

    @classmethod
    def open(
        cls,
        project: Project,
        client: LabelStudioClient,
        pid: int,
        progress: Progress | None,
        *,
        keep: bool,
    ) -> _Fetch:
        """``keep``: start from the rows of earlier pulls (an incremental or resumed pull)."""
        rows = read_rows(project)
        by_task: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for r in rows if keep else []:
            if r["origin"] == "label_studio":
                by_task[r["task_id"]].append(r)
        others = [r for r in rows if r["origin"] != "label_studio"]
        return cls(project, client, pid, _users(client), progress, others, by_task)

    @property
    def tmp(self) -> Path:
        path = state.state_dir(self.project) / "export.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def read_export(self, *, count: bool = False) -> None:
        """Replace the rows of every task in the export just written to :attr:`tmp`."""
        for task in iter_json_array(self.tmp):
            self.by_task[int(task["id"])] = annotation_rows(
                self.project,
                task,
                self.users,
                origin="label_studio",
                file=f"Label Studio project {self.pid}",
            )
            if count:
                self.fetched += 1
                if self.progress and self.fetched % 1000 == 0:
                    self.progress(self.fetched, None)

    def rows(self) -> list[dict[str, Any]]:
        return self.others + [r for rs in self.by_task.values() for r in rs]

    def checkpoint(self) -> None:
        write_rows(self.project, self.rows())


def _plan(run: _Fetch, saved: state.PullState, *, full: bool, started: str) -> state.PullState:
    """This pull's state: which tasks it has to fetch, and in which mode."""
    client, pid = run.client, run.pid
    if saved.interrupted and not full:  # finish the interrupted pull's task list first
        ids = set(saved.pending or [])
        if saved.watermark:
            ids |= _changed_since(client, pid, saved.watermark)
        return replace(saved, started=saved.started or started, pending=sorted(ids))
    if full or not saved.watermark:
        run.by_task.clear()
        return state.PullState(pid, None, "full", started, sorted(_export_all(run)))
    ids = _changed_since(client, pid, saved.watermark)
    return state.PullState(pid, saved.watermark, "incremental", started, sorted(ids))


def _export_all(run: _Fetch) -> set[int]:
    """A full pull: one streamed export when the project is not huge (the fastest path);
    returns the tasks still to fetch batch by batch (all annotated ones, when the single
    export is not tried or times out)."""
    client, pid = run.client, run.pid
    if _annotated_count(client, pid) > SINGLE_EXPORT_MAX:
        return _annotated(client, pid)
    try:
        client.export_to(pid, run.tmp, attempts=1)
    except LabelStudioError:  # too slow or broke off: go task batch by batch
        return _annotated(client, pid)
    run.read_export(count=True)
    run.checkpoint()
    return set()


def _fetch_pending(run: _Fetch, st: state.PullState, batch_size: int) -> None:
    """Export the pending tasks batch by batch, checkpointing after each: what was fetched
    is kept, the rest stays pending for the next run."""
    server = run.client.conn.url
    pending = list(st.pending or [])
    st.save(run.project, server)
    total = len(pending)
    if run.progress:
        run.progress(0, total)
    for start in range(0, total, batch_size):
        batch = pending[start : start + batch_size]
        run.client.export_to(run.pid, run.tmp, task_ids=batch)
        for tid in batch:
            run.by_task.pop(tid, None)
        run.read_export()
        run.fetched += len(batch)
        run.checkpoint()
        replace(st, pending=pending[start + batch_size :]).save(run.project, server)
        if run.progress:
            run.progress(run.fetched, total)


def _result(run: _Fetch, mode: str, built: BuildResult) -> PullResult:
    all_rows = run.rows()
    return PullResult(
        server=run.client.conn.url,
        project_id=run.pid,
        mode=mode,
        tasks_fetched=run.fetched,
        annotations=len(all_rows),
        annotators=sorted({str(r["annotator"]) for r in all_rows if r["annotator"]}),
        items=built.items,
        labelled=built.labelled,
        needs_review=built.needs_review,
        review_tasks_created=built.review_tasks_created,
        review_project_id=built.review_project_id,
        adjudicated=sum(built.agreement.adjudication.sources.values()),
        agreement=AgreementFigures.from_report(built.agreement),
        invalid_records=built.invalid_records,
        written=built.written,
    )


def _task_query(*items: dict[str, Any], conjunction: str = "and") -> dict[str, Any]:
    return {"filters": {"conjunction": conjunction, "items": list(items)}}


def _changed_since(client: LabelStudioClient, pid: int, watermark: str) -> set[int]:
    """Tasks whose ``updated_at`` is after the watermark (any annotation change bumps it)."""
    query = _task_query(
        {
            "filter": "filter:tasks:updated_at",
            "operator": "greater",
            "type": "Datetime",
            "value": watermark,
        }
    )
    return {int(t["id"]) for t in client.iter_tasks(pid, include="id", query=query)}


def _annotated_count(client: LabelStudioClient, pid: int) -> int:
    info = client.project(pid) or {}
    return int(info.get("num_tasks_with_annotations") or 0) + int(
        info.get("skipped_annotations_number") or 0
    )


def _annotated(client: LabelStudioClient, pid: int) -> set[int]:
    """Tasks with at least one annotation (submitted or skipped)."""
    query = _task_query(
        *(
            {"filter": f"filter:tasks:{col}", "operator": "greater", "type": "Number", "value": 0}
            for col in ("total_annotations", "cancelled_annotations")
        ),
        conjunction="or",
    )
    return {int(t["id"]) for t in client.iter_tasks(pid, include="id", query=query)}


def _minus(iso: str, *, seconds: int) -> str:
    if not iso:
        return (datetime.now(UTC) - timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    t = datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.000Z") - timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _adjudications(
    client: LabelStudioClient, project: Project, users: dict[int, str]
) -> dict[str, Ann]:
    """The latest reviewer annotation per item in the review project (small: full export)."""
    st = state.load(project, "state", client.conn.url)
    rid = st.get("review_project_id")
    if not rid or client.project(int(rid)) is None:
        return {}
    tmp = state.state_dir(project) / "review-export.json"
    client.export_to(int(rid), tmp)
    out: dict[str, Ann] = {}
    for task in iter_json_array(tmp):
        for r in annotation_rows(
            project, task, users, origin="review", file=f"Label Studio review project {rid}"
        ):
            if r["was_cancelled"]:
                continue
            a = Ann(
                str(r["annotator"]),
                r["annotation_id"],
                json.loads(r["result"]),
                r["updated_at"] or "",
            )
            keep_latest(out, r["item_id"], a)
    tmp.unlink(missing_ok=True)
    return out


# -- outputs -----------------------------------------------------------------------------


def build_outputs(
    project: Project,
    *,
    client: LabelStudioClient | None = None,
    adjudications: dict[str, Ann] | None = None,
) -> BuildResult:
    """Agreement, consensus and label records from annotations.parquet. Review tasks for
    ties and low-agreement items go to Label Studio when a client is given."""
    import pyarrow as pa

    from datakit.annotate.push import ok_items, push_reviews
    from datakit.records import item_fields, ordered_record
    from datakit.tables import CONSENSUS_SCHEMA, write_label_records

    spec = project.spec
    rows = read_rows(project)
    manifest = {str(r["id"]): r for r in ok_items(project)}
    # reviewers settle items; they are not annotators (adjudication.py)
    usable = [r for r in rows if r["item_id"] in manifest and not r["was_cancelled"]]
    settling = settling_annotations(usable)
    reviewers = reviewer_accounts(usable, settling)
    per_item: dict[str, list[Ann]] = defaultdict(list)
    ground_truth: dict[str, Ann] = {}
    origins: dict[str, set[str]] = defaultdict(set)
    for r in usable:
        iid = r["item_id"]
        ann = Ann(
            str(r["annotator"]),
            int(r["annotation_id"]),
            json.loads(r["result"] or "{}"),
            r["updated_at"] or "",
        )
        origins[iid].add(r["origin"])
        if row_key(r) in settling:
            keep_latest(ground_truth, iid, ann)
        if ann.annotator not in reviewers:
            per_item[iid].append(ann)
    settled = latest_settled((GROUND_TRUTH, ground_truth), (REVIEW_PROJECT, adjudications or {}))
    agreement = compute_agreement(spec, per_item)
    decisions = []
    reviews = []
    for iid in manifest:
        anns = per_item.get(iid) or []
        done = settled.get(iid)
        if not anns and done is None:
            continue
        d = decide(spec, iid, anns, agreement.per_item.get(iid), None if done is None else done.ann)
        if d.method == "single" and origins[iid] == {"import"}:
            d.method = "imported"
        decisions.append(d)
        if d.needs_review:
            latest = {
                a.annotator: a for a in sorted(anns, key=lambda a: (a.updated_at, a.annotation_id))
            }
            reviews.append(
                {
                    "item_id": iid,
                    "reason": d.reason or "",
                    "labels": [
                        (a.annotator, a.fields)
                        for a in sorted(latest.values(), key=lambda a: a.annotation_id)
                    ],
                }
            )
    review_pid: int | None = None
    created = 0
    if client is not None:
        review_pid, created = push_reviews(client, project, reviews, manifest)
    written = []
    table = pa.Table.from_pylist([d.row() for d in decisions], schema=CONSENSUS_SCHEMA)
    if _write_if_changed(project.paths.annotations / "consensus.parquet", table):
        written.append("annotations/consensus.parquet")
    records = []
    for d in decisions:
        if d.fields is None:
            continue
        rec = item_fields(manifest[d.item_id], spec)
        rec.update(d.fields)
        records.append(ordered_record(rec, spec))
    invalid = _validate(project, records)
    text = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records)
    labels = project.paths.labels
    if not labels.is_file() or labels.read_text(encoding="utf-8") != text:
        write_label_records(labels, records)
        written.append("annotations/labels.jsonl")
    report = agreement.report
    report.adjudication = summarize(spec, per_item, settled, reviewers)
    report.needs_review = sorted(d.item_id for d in decisions if d.needs_review)
    report.methods = _count(d.method for d in decisions)
    if write_agreement(project, report):
        written.append(f"annotations/{AGREEMENT_FILE}")
    return BuildResult(
        items=len(decisions),
        labelled=len(records),
        needs_review=sum(d.needs_review for d in decisions),
        invalid_records=invalid,
        agreement=report,
        review_tasks_created=created,
        review_project_id=review_pid,
        written=written,
    )


def write_agreement(project: Project, report: AgreementReport) -> bool:
    """Write ``annotations/agreement.json`` when its content changed. True if written."""
    data = report.to_dict()
    path = project.paths.annotations / AGREEMENT_FILE
    if path.is_file() and read_json(path) == json.loads(dumps_json(data)):
        return False
    write_json(path, data)
    return True


def _count(values: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def _validate(project: Project, records: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Records that break labeling/label.schema.json (the check stage counts them too)."""
    import fastjsonschema

    path = project.require(project.paths.label_schema, produced_by="datakit plan")
    schema = read_json(path)
    schema.pop("$schema", None)
    validate = fastjsonschema.compile(schema, formats={"date": r".*", "date-time": r".*"})
    bad = []
    for rec in records:
        try:
            validate(rec)
        except fastjsonschema.JsonSchemaValueException as exc:
            bad.append({"item": str(rec.get("id")), "field": str(exc.name), "message": str(exc)})
    return bad
