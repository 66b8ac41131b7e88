"""The annotate section of ``datakit status``: from the local tables only (no server call,
so ``datakit status`` stays fast and works offline)."""

from __future__ import annotations

from typing import Any

from datakit.project import Project


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
    st = annotation_status(project)
    if st is None:
        return None
    ag = st["agreement"]
    rows = [
        ["tasks in Label Studio", "" if st["tasks"] is None else f"{st['tasks']:,}"],
        ["annotations", f"{st['annotations']:,}"],
        ["items annotated", f"{st['items_annotated']:,}"],
        ["items cross-checked", f"{st['items_cross_checked']:,}"],
        ["awaiting review", f"{st['awaiting_review']:,}"],
        [f"agreement ({ag['metric']})", _headline(ag)],
    ]
    if ag["adjudicated"]:
        rows.append(
            ["settled by review", f"{ag['adjudicated']:,} items, {ag['overturned']:,} overturned"]
        )
    rows += [[f"  {a['annotator']}", _annotator_line(a)] for a in st["annotators"]]
    return {**st, "table": {"title": "annotate", "columns": ["", "value"], "rows": rows}}


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
