"""The annotate section of ``datakit status``: from the local tables only (no server call,
so ``datakit status`` stays fast and works offline)."""

from __future__ import annotations

from typing import Any

from datakit.labels import label_classes
from datakit.project import Project
from datakit.status import NextStep


def annotation_status(project: Project) -> dict[str, Any] | None:
    """Tasks, annotated items, cross-checked items, review queue, per-annotator counts and
    agreement so far — as of the last pull/import."""
    import json
    from collections import Counter, defaultdict

    from datakit.annotate import state
    from datakit.io import read_json
    from datakit.reports import AGREEMENT_FILE, AgreementReport

    table_path = project.paths.annotations_table
    if not table_path.is_file():
        return None
    from datakit.tables import ANNOTATIONS_SCHEMA, read_table

    rows = read_table(table_path, ANNOTATIONS_SCHEMA).to_pylist()
    tasks_file = state.state_dir(project) / "tasks.json"
    n_tasks = None
    if tasks_file.is_file():
        n_tasks = len(read_json(tasks_file).get("tasks", {}))
    ag_path = project.paths.annotations / AGREEMENT_FILE
    report = (
        AgreementReport.read(ag_path, file=project.paths.rel(ag_path))
        if ag_path.is_file()
        else None
    )
    reviewers = set(report.adjudication.reviewers) if report else set()
    per_item: dict[str, set[str]] = defaultdict(set)
    per_annotator: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    for r in rows:
        who = str(r["annotator"])
        if r["was_cancelled"]:
            skipped[who] += 1
            continue
        per_annotator[who] += 1
        if who not in reviewers:  # a reviewer's settled label is not a second opinion
            per_item[r["item_id"]].add(who)
    need = project.spec.annotation.annotators_per_item
    per_ann = report.per_annotator if report else {}
    settled = report.adjudication.per_annotator if report else {}
    annotators = [
        {
            "annotator": who,
            "annotations": n,
            "skipped": skipped[who],
            "agreement": per_ann.get(who, {}).get("agreement"),
            "accuracy_vs_review": settled.get(who, {}).get("accuracy"),
            "reviewer": report is not None and who in report.adjudication.reviewers,
        }
        for who, n in sorted(per_annotator.items())
    ]
    out = {
        "tasks": n_tasks,
        "annotations": sum(per_annotator.values()),
        "items_annotated": len(per_item),
        "items_cross_checked": sum(1 for v in per_item.values() if len(v) >= need and need > 1),
        "awaiting_review": len(report.needs_review) if report else 0,
        "agreement": {
            "metric": report.metric if report else None,
            "value": report.value if report else None,
            "interval": report.interval.to_dict() if report and report.interval else None,
            "target": report.target if report else None,
            "n_items": report.n_items_cross_checked if report else None,
            "adjudicated": report.adjudication.n_items if report else 0,
            "overturned": report.adjudication.overturned if report else 0,
        },
        "annotators": annotators,
    }
    json.dumps(out)  # the section must be JSON-serialisable
    return out


def status_section(project: Project) -> dict[str, Any] | None:
    """The annotation figures (as of the last pull or import) and the labels per class;
    None before anything was pulled, imported or labelled."""
    st = annotation_status(project)
    labelled = label_class_counts(project)
    if st is None and labelled is None:
        return None
    rows: list[list[str]] = []
    out: dict[str, Any] = {}
    if st is not None:
        ag = st["agreement"]
        rows += [
            ["tasks in Label Studio", "" if st["tasks"] is None else f"{st['tasks']:,}"],
            ["annotations", f"{st['annotations']:,}"],
            ["items annotated", f"{st['items_annotated']:,}"],
            ["items cross-checked", f"{st['items_cross_checked']:,}"],
            ["awaiting review", f"{st['awaiting_review']:,}"],
            [f"agreement ({ag['metric']})", _headline(ag)],
        ]
        if ag["adjudicated"]:
            rows.append(
                [
                    "settled by review",
                    f"{ag['adjudicated']:,} items, {ag['overturned']:,} overturned",
                ]
            )
        rows += [[f"  {a['annotator']}", _annotator_line(a)] for a in st["annotators"]]
        out.update(st)
    if labelled is not None:
        rows.append(["labelled items", f"{labelled['items']:,}"])
        rows += [[f"  {name}", _class_line(c, labelled["unit"])] for name, c in _classes(labelled)]
        out["labelled"] = labelled
    return {**out, "table": {"title": "annotate", "columns": ["", "value"], "rows": rows}}


def label_class_counts(project: Project) -> dict[str, Any] | None:
    """Per class, from ``labels.jsonl``: the items holding it (what completeness counts
    against ``targets.per_class``) and, for spans and boxes, the entities or boxes. None
    without a labels file. Unreadable lines are counted, not raised: ``datakit check``
    reports them."""
    import json
    from collections import Counter

    path = project.paths.labels
    if not path.is_file():
        return None
    spec = project.spec
    field = spec.label_field
    items: Counter[str] = Counter()
    units: Counter[str] = Counter()
    n = unreadable = 0
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                unreadable += 1
                continue
            if not isinstance(rec, dict):
                unreadable += 1
                continue
            n += 1
            held = label_classes(rec.get(field.name))
            items.update(set(held))
            units.update(held)
    targets = spec.targets.per_class
    names = [c for c in spec.task.class_names if c in targets or items[c]]
    names += [c for c in targets if c not in names]
    names += sorted(set(items) - set(names))
    unit = {"spans": "entities", "boxes": "boxes"}.get(field.type)
    return {
        "items": n,
        "unreadable_lines": unreadable,
        "unit": unit,
        "per_class": {
            c: {
                "items": items[c],
                **({unit: units[c]} if unit else {}),
                "target": targets.get(c),
                "achieved": round(items[c] / targets[c], 4) if targets.get(c) else None,
            }
            for c in names
        },
    }


def _classes(labelled: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return list(labelled["per_class"].items())


def _class_line(c: dict[str, Any], unit: str | None) -> str:
    line = f"{c['items']:,} items"
    if unit:
        line += f" · {c[unit]:,} {unit}"
    if c["target"]:
        line += f" · target {c['target']:,} items · {c['achieved']:.1%}"
    return line


# -- next steps --------------------------------------------------------------------------------


def _label_studio(project: Project) -> dict[str, Any]:
    """``.datakit/annotate/state.json``: the server (its URL as safe to show: credentials
    were never stored in it) and the Label Studio project ids."""
    from datakit.annotate import state

    return state.read_state(project, "state")


def _project_url(ls: dict[str, Any], key: str) -> str | None:
    server, pid = ls.get("server"), ls.get(key)
    if not isinstance(server, str) or not isinstance(pid, int):
        return None
    return f"{server.rstrip('/')}/projects/{pid}/data"


def next_steps(project: Project, sections: dict[str, Any]) -> list[NextStep]:
    """Items not pushed yet, awaiting annotation or review in Label Studio (as of the last
    pull), collected items with no label."""
    from collections import defaultdict

    from datakit.annotate import state

    if "collect" not in sections:
        return []
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    manifest = pq.read_table(project.paths.manifest, columns=["id", "status"])
    ok = manifest.filter(pc.equal(manifest.column("status"), "ok"))
    ok_ids = set(ok.column("id").to_pylist())
    if not ok_ids:
        return []
    pushed = set(state.read_state(project, "tasks").get("tasks", {}))
    section = sections.get("annotate") or {}
    ls = _label_studio(project)
    url = _project_url(ls, "project_id")
    steps: list[NextStep] = []
    if not pushed:
        labelled = _labelled_ids(project)
        if labelled is None and "annotations" not in section:
            return [
                NextStep(
                    "annotate",
                    "todo",
                    f"{len(ok_ids):,} collected items not pushed to Label Studio yet",
                    command="datakit annotate push",
                    reason="annotate.not_pushed",
                )
            ]
        missing = len(ok_ids - (labelled or set()))
        if missing:  # labels imported from an export or made elsewhere
            steps.append(
                NextStep(
                    "annotate",
                    "todo",
                    f"{missing:,} collected items have no label yet",
                    command="datakit annotate push",
                    reason="annotate.unlabelled",
                )
            )
        return steps
    new = len(ok_ids - pushed)
    if new:
        steps.append(
            NextStep(
                "annotate",
                "todo",
                f"{new:,} collected items not pushed to Label Studio yet",
                command="datakit annotate push",
                reason="annotate.not_pushed",
            )
        )
    if "annotations" not in section:
        steps.append(
            NextStep(
                "annotate",
                "todo",
                f"{len(pushed & ok_ids):,} items await annotation in Label Studio; "
                "nothing pulled yet",
                command="datakit annotate pull",
                url=url,
                reason="annotate.awaiting_annotation",
            )
        )
        return steps
    ann = project.spec.annotation
    # with cross_check_share < 1 only some items get a second annotator: count the unstarted
    need = max(ann.annotators_per_item, 1) if ann.cross_check_share >= 1 else 1
    reviewers = {a["annotator"] for a in section.get("annotators", []) if a.get("reviewer")}
    per_item: dict[str, set[str]] = defaultdict(set)
    for item, who in _annotated(project):
        if who not in reviewers:
            per_item[item].add(who)
    waiting = sum(1 for i in pushed & ok_ids if len(per_item.get(i, ())) < need)
    if waiting:
        steps.append(
            NextStep(
                "annotate",
                "todo",
                f"{waiting:,} items await annotation in Label Studio (as of the last pull; "
                f"{need} annotator{'s' if need > 1 else ''} each)",
                command="datakit annotate pull",
                url=url,
                reason="annotate.awaiting_annotation",
            )
        )
    if section.get("awaiting_review"):
        steps.append(
            NextStep(
                "annotate",
                "todo",
                f"{section['awaiting_review']:,} items await review in Label Studio",
                command="datakit annotate pull",
                url=_project_url(ls, "review_project_id"),
                reason="annotate.awaiting_review",
            )
        )
    return steps


def _annotated(project: Project) -> list[tuple[str, str]]:
    """(item, annotator) of every annotation that was not skipped."""
    import pyarrow.parquet as pq

    t = pq.read_table(
        project.paths.annotations_table, columns=["item_id", "annotator", "was_cancelled"]
    ).to_pydict()
    return [
        (str(i), str(a))
        for i, a, c in zip(t["item_id"], t["annotator"], t["was_cancelled"], strict=True)
        if not c
    ]


def _labelled_ids(project: Project) -> set[str] | None:
    import json

    path = project.paths.labels
    if not path.is_file():
        return None
    ids: set[str] = set()
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and isinstance(rec.get("id"), str):
                ids.add(rec["id"])
    return ids


def _headline(ag: dict[str, Any]) -> str:
    if ag["value"] is None:
        return ""
    ci = ag["interval"]
    shown = f"{ag['value']:.3f}"
    if ci and ci["low"] is not None:
        level = f"{ci['level'] * 100:.0f}%"
        shown += f" ({level} CI {ci['low']:.3f}–{ci['high']:.3f}, {ag['n_items']:,} items)"
    return f"{shown}, target {ag['target']}"


def _annotator_line(a: dict[str, Any]) -> str:
    if a["reviewer"]:
        return f"{a['annotations']:,} annotations, reviewer (not counted in agreement)"
    line = f"{a['annotations']:,} annotations, agreement {a['agreement']}"
    if a["accuracy_vs_review"] is not None:
        line += f", matches review {a['accuracy_vs_review']:.0%}"
    return line
