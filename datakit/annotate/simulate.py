"""Simulated annotators working through Label Studio's API — for the bundled examples,
the demo and the tests (never for real data).

Annotator accounts are created on the server (``POST /api/users``) and their annotations
are submitted as them (``completed_by``), so the server holds exactly what real annotators
would have produced. Each task gets as many annotations as Label Studio's overlap for it.
Classification labels start from the item's intake label (or a seeded pick) and each
annotator errs with ``error_rate``; other task types get simple, schema-valid labels.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from datakit.annotate import state
from datakit.annotate.client import Connection, LabelStudioClient, connect
from datakit.annotate.normalize import to_result
from datakit.errors import ProjectError
from datakit.project import Project
from datakit.spec.model import ProjectSpec

Fields = dict[str, Any]
Plan = dict[str, dict[str, Fields]]  # item id → annotator e-mail → label fields
DEFAULT_ANNOTATORS = ("annotator1@datakit.local", "annotator2@datakit.local")
REVIEWER = "reviewer@datakit.local"


@dataclass
class SimulateResult:
    annotators: list[str]
    annotations_created: int
    tasks: int
    reviews_created: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def ensure_users(client: LabelStudioClient, emails: list[str]) -> dict[str, int]:
    """Label Studio user ids for these e-mails, creating the accounts that are missing."""
    existing = {str(u.get("email")): int(u["id"]) for u in client.users()}
    for email in emails:
        if email not in existing:
            name = email.split("@")[0]
            user = client.create_user(email=email, username=name, first_name=name)
            existing[email] = int(user["id"])
    return {e: existing[e] for e in emails}


def annotate(
    client: LabelStudioClient,
    spec: ProjectSpec,
    task_id: int,
    user_id: int,
    fields: Fields,
    *,
    lead_time: float | None = None,
) -> int:
    """Submit one annotation as the given user; returns its id."""
    body: dict[str, Any] = {"result": to_result(spec, fields), "completed_by": user_id}
    if lead_time is not None:
        body["lead_time"] = lead_time
    return int(client.create_annotation(task_id, **body)["id"])


def _rng(*parts: object) -> random.Random:
    seed = hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()
    return random.Random(int(seed[:16], 16))


def simulated_label(
    spec: ProjectSpec, row: dict[str, Any], annotator: str, *, error_rate: float, seed: int
) -> Fields:
    """A plausible label for the item from one simulated annotator."""
    t = spec.task.type
    label = spec.task.label_field
    rng = _rng(seed, row["id"], annotator)
    truth_rng = _rng(seed, row["id"], "truth")
    out: Fields = {}
    classes = list(spec.task.class_names)
    if t in ("text_classification", "image_classification"):
        truth = row.get("intake_label")
        if truth not in classes:
            truth = truth_rng.choice(classes)
        value = truth
        if rng.random() < error_rate and len(classes) > 1:
            value = rng.choice([c for c in classes if c != truth])
        out[label] = [value] if spec.label_field.type == "classes" else value
    elif t == "ner":
        text = str(row.get("text") or "")
        spans = []
        if len(text) >= 4:
            start = truth_rng.randrange(0, len(text) - 2)
            end = min(len(text), start + truth_rng.randint(2, 5))
            lab = truth_rng.choice(classes)
            if rng.random() < error_rate:
                lab = rng.choice(classes)
            spans.append({"start": start, "end": end, "label": lab, "text": text[start:end]})
        out[label] = spans
    elif t == "object_detection":
        x, y = truth_rng.uniform(5, 50), truth_rng.uniform(5, 50)
        w, h = truth_rng.uniform(10, 40), truth_rng.uniform(10, 40)
        if rng.random() < error_rate:
            x = min(100 - w, x + w * 0.8)
        out[label] = [
            {
                "label": truth_rng.choice(classes),
                "x": round(x, 2),
                "y": round(y, 2),
                "width": round(w, 2),
                "height": round(h, 2),
            }
        ]
    else:
        words = ["안녕하세요", "상담원", "입니다", "무엇을", "도와", "드릴까요"]
        text = " ".join(truth_rng.sample(words, 4))
        if rng.random() < error_rate:
            text = text.replace(" ", "", 1)
        out[label] = text
    for attr in spec.task.attributes:
        out[attr.name] = truth_rng.choice(list(attr.values))
    return out


def simulate(
    project: Project,
    *,
    conn: Connection | None = None,
    annotators: list[str] | None = None,
    error_rate: float = 0.15,
    seed: int = 0,
    plan: Plan | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> SimulateResult:
    """Annotate every pushed task as simulated annotators (as many as the task's overlap;
    with ``plan``, exactly the planned labels). Tasks an annotator already did are skipped,
    so a rerun adds nothing."""
    from datakit.annotate.push import ok_items

    conn = conn or connect(project)
    annotators = list(annotators or DEFAULT_ANNOTATORS)
    if plan:
        annotators = sorted({a for per in plan.values() for a in per} | set(annotators))
    with LabelStudioClient(conn) as client:
        st = state.load(project, "state", conn.url)
        pid = st.get("project_id")
        if not pid:
            raise ProjectError("the project was not pushed yet", hint="run `datakit annotate push`")
        ids = ensure_users(client, annotators)
        by_id = {v: k for k, v in ids.items()}
        rows = {str(r["id"]): r for r in ok_items(project)}
        tasks = list(client.iter_tasks(int(pid), include="id,data,overlap"))
        done_by = _done(client, project, int(pid), by_id)
        n = 0
        spec = project.spec
        for i, t in enumerate(tasks):
            iid = str((t.get("data") or {}).get("item_id"))
            if plan is not None:
                wanted = plan.get(iid, {})
            else:
                k = max(1, int(t.get("overlap") or 1))
                chosen = annotators[: min(k, len(annotators))]
                row = rows.get(iid, {"id": iid})
                wanted = {
                    a: simulated_label(spec, row, a, error_rate=error_rate, seed=seed)
                    for a in chosen
                }
            for who, fields in wanted.items():
                if who in done_by.get(int(t["id"]), set()):
                    continue
                lead = round(_rng(seed, iid, who, "lead").uniform(3, 40), 2)
                annotate(client, spec, int(t["id"]), ids[who], fields, lead_time=lead)
                n += 1
            if progress:
                progress(i + 1, len(tasks))
        return SimulateResult(annotators=annotators, annotations_created=n, tasks=len(tasks))


def _done(
    client: LabelStudioClient, project: Project, project_id: int, users: dict[int, str]
) -> dict[int, set[str]]:
    """task id → e-mails of the simulated annotators who already annotated it."""
    from datakit.annotate.client import iter_json_array

    tmp = state.state_dir(project) / "simulate-export.json"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    client.export_to(project_id, tmp)
    out: dict[int, set[str]] = {}
    for t in iter_json_array(tmp):
        for a in t.get("annotations") or []:
            who = a.get("completed_by")
            uid = int(who["id"] if isinstance(who, dict) else who or 0)
            if uid in users:
                out.setdefault(int(t["id"]), set()).add(users[uid])
    tmp.unlink(missing_ok=True)
    return out


def review(
    project: Project,
    *,
    conn: Connection | None = None,
    reviewer: str = REVIEWER,
    decide: Callable[[str, list[Fields]], Fields] | None = None,
) -> int:
    """Answer the open review tasks as a simulated reviewer: by default the annotator label
    that matches the item's intake label (the known truth), else the first annotator's.
    Returns the number of reviews submitted."""
    conn = conn or connect(project)
    with LabelStudioClient(conn) as client:
        st = state.load(project, "state", conn.url)
        rid = st.get("review_project_id")
        if not rid:
            return 0
        uid = ensure_users(client, [reviewer])[reviewer]
        n = 0
        spec = project.spec
        from datakit.annotate.normalize import normalize_result
        from datakit.annotate.push import ok_items

        truth = {str(r["id"]): r.get("intake_label") for r in ok_items(project)}

        for t in client.iter_tasks(int(rid), include="id,data,predictions,total_annotations"):
            if t.get("total_annotations"):
                continue
            detail = client.task(int(t["id"]))
            labels = [
                normalize_result(spec, p.get("result") or [])
                for p in detail.get("predictions") or []
            ]
            iid = str((t.get("data") or {}).get("item_id"))
            if decide is not None:
                fields = decide(iid, labels)
            else:
                fields = _reviewer_label(spec, truth.get(iid), labels)
            annotate(client, spec, int(t["id"]), uid, fields)
            n += 1
        return n


def _reviewer_label(spec: ProjectSpec, truth: Any, labels: list[Fields]) -> Fields:
    label = spec.task.label_field
    for fields in labels:
        value = fields.get(label)
        if value == truth or (isinstance(value, list) and value == [truth]):
            return fields
    if truth in spec.task.class_names and labels:
        value = [truth] if spec.label_field.type == "classes" else truth
        return {**labels[0], label: value}
    return labels[0] if labels else {}
