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

    table_path = project.paths.annotations_table
    if not table_path.is_file():
        return None
    from datakit.tables import ANNOTATIONS_SCHEMA, read_table

    rows = read_table(table_path, ANNOTATIONS_SCHEMA).to_pylist()
    tasks_file = state.state_dir(project) / "tasks.json"
    n_tasks = None
    if tasks_file.is_file():
        n_tasks = len(read_json(tasks_file).get("tasks", {}))
    per_item: dict[str, set[str]] = defaultdict(set)
    per_annotator: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    for r in rows:
        who = str(r["annotator"])
        if r["was_cancelled"]:
            skipped[who] += 1
            continue
        per_annotator[who] += 1
        per_item[r["item_id"]].add(who)
    need = project.spec.annotation.annotators_per_item
    agreement: dict[str, Any] = {}
    ag_path = project.paths.annotations / "agreement.json"
    if ag_path.is_file():
        agreement = read_json(ag_path)
    per_ann_agree = agreement.get("per_annotator", {})
    annotators = [
        {
            "annotator": who,
            "annotations": n,
            "skipped": skipped[who],
            "agreement": per_ann_agree.get(who, {}).get("agreement"),
        }
        for who, n in sorted(per_annotator.items())
    ]
    out = {
        "tasks": n_tasks,
        "annotations": sum(per_annotator.values()),
        "items_annotated": len(per_item),
        "items_cross_checked": sum(1 for v in per_item.values() if len(v) >= need and need > 1),
        "awaiting_review": len(agreement.get("needs_review", [])),
        "agreement": {
            "metric": agreement.get("metric"),
            "value": agreement.get("value"),
            "target": agreement.get("target"),
            "n_items": agreement.get("n_items_cross_checked"),
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
        [
            f"agreement ({ag['metric']})",
            "" if ag["value"] is None else f"{ag['value']:.3f} (target {ag['target']})",
        ],
    ]
    rows += [
        [f"  {a['annotator']}", f"{a['annotations']:,} annotations, agreement {a['agreement']}"]
        for a in st["annotators"]
    ]
    return {**st, "table": {"title": "annotate", "columns": ["", "value"], "rows": rows}}
