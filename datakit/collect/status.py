"""The collect section of ``datakit status``: collected volume against the plan's targets,
per class (where the class is known at intake; otherwise the annotate section counts it from
the labels) and per declared diversity attribute; and the collect stage's next steps."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from datakit.project import Project
from datakit.status import NextStep


def _attr_value(row: dict[str, Any], key: str, label_keys: set[str], group_key: str | None) -> Any:
    if key == "source":
        return row.get("source")
    if key in label_keys:
        return row.get("intake_label")
    attrs = row.get("attributes")
    if isinstance(attrs, str) and attrs:
        value = json.loads(attrs).get(key)
        if value is not None:
            return value
    if key == group_key or key == "group":
        return row.get("group")
    return None


def status_section(project: Project) -> dict[str, Any] | None:
    """``{"table": {...}, "totals", "per_class", "composition"}``; None before collect ran."""
    path = project.paths.manifest
    if not path.is_file():
        return None
    import pyarrow.parquet as pq

    spec = project.spec
    table = pq.read_table(
        path, columns=["status", "source", "intake_label", "attributes", "group", "reason"]
    )
    rows = table.to_pylist()
    ok_rows = [r for r in rows if r["status"] == "ok"]
    status_counts = Counter(r["status"] for r in rows)
    reasons = Counter(
        (str(r["reason"] or "").split(":", 1)[0].strip() or "quarantined")
        for r in rows
        if r["status"] == "quarantined"
    )
    totals = {
        "items": len(rows),
        "ok": status_counts["ok"],
        "duplicate": status_counts["duplicate"],
        "quarantined": status_counts["quarantined"],
        "quarantined_by_reason": dict(reasons.most_common()),
        "target": spec.targets.total,
    }
    out_rows: list[list[Any]] = []
    n_ok = status_counts["ok"]
    target_total = spec.targets.total
    out_rows.append(["total", "", n_ok, target_total or "", _pct(n_ok, target_total)])

    per_class: dict[str, dict[str, Any]] = {}
    label_counts = Counter(r["intake_label"] for r in ok_rows if r["intake_label"] is not None)
    if not label_counts and spec.targets.per_class:
        # Not known at intake (NER, detection, unlabelled raw data): no 0 · 0.0% rows; the
        # annotate section counts the classes from the labels.
        for name, goal in spec.targets.per_class.items():
            per_class[name] = {"collected": None, "target": goal}
            out_rows.append(["class", name, "—", goal, "known after annotation"])
    elif label_counts:
        names = list(spec.targets.per_class) + sorted(
            set(label_counts) - set(spec.targets.per_class)
        )
        for name in names:
            target = spec.targets.per_class.get(name)
            n = label_counts.get(name, 0)
            per_class[name] = {"collected": n, "target": target}
            out_rows.append(["class", name, n, "" if target is None else target, _pct(n, target)])
        unknown = sum(1 for r in ok_rows if r["intake_label"] is None)
        if unknown and label_counts:
            per_class["(unknown)"] = {"collected": unknown, "target": None}
            out_rows.append(["class", "(unknown)", unknown, "", ""])

    label_keys = {"label", spec.task.label_field}
    composition: dict[str, dict[str, dict[str, Any]]] = {}
    for attr, planned in spec.targets.composition.items():
        counts = Counter(
            str(v)
            for r in ok_rows
            if (v := _attr_value(r, attr, label_keys, spec.splits.group)) is not None
        )
        total = sum(counts.values())
        comp: dict[str, dict[str, Any]] = {}
        for value in list(planned) + sorted(set(counts) - set(planned)):
            n = counts.get(value, 0)
            share = n / total if total else 0.0
            comp[value] = {"collected": n, "share": round(share, 4), "planned": planned.get(value)}
            plan_txt = "" if planned.get(value) is None else f"{planned[value]:.0%}"
            out_rows.append([attr, value, n, plan_txt, f"{share:.1%}"])
        composition[attr] = comp
    for reason, n in reasons.most_common():
        out_rows.append(["quarantined", reason, n, "", ""])
    return {
        "table": {
            "title": "collected (status ok) vs targets",
            "columns": ["what", "value", "collected", "target", "achieved / share"],
            "rows": out_rows,
        },
        "totals": totals,
        "per_class": per_class,
        "composition": composition,
    }


def _pct(n: int, target: int | None) -> str:
    return f"{n / target:.1%}" if target else ""


def next_steps(project: Project, sections: dict[str, Any]) -> list[NextStep]:
    """Nothing collected yet; quarantined files, by reason; fewer items than planned."""
    section = sections.get("collect")
    if section is None:
        return [
            NextStep(
                "collect",
                "todo",
                f"nothing collected yet (raw data goes in {project.paths.rel(project.paths.raw)}/)",
                command="datakit collect",
                reason="collect.none",
            )
        ]
    totals = section["totals"]
    steps = []
    if totals["quarantined"]:
        by_reason = ", ".join(f"{r} {n:,}" for r, n in totals["quarantined_by_reason"].items())
        steps.append(
            NextStep(
                "collect",
                "warning",
                f"{totals['quarantined']:,} files quarantined ({by_reason}; the manifest's "
                "rows with status quarantined say why): fix or replace them, or adjust "
                "data.requirements in datakit.yaml",
                path=project.paths.rel(project.paths.manifest),
                reason="collect.quarantined",
            )
        )
    target = totals["target"]
    if target and totals["ok"] < target:
        steps.append(
            NextStep(
                "collect",
                "warning",
                f"collected {totals['ok']:,} of the {target:,} items planned "
                f"({totals['ok'] / target:.1%})",
                command="datakit collect",
                reason="collect.short",
            )
        )
    return steps
