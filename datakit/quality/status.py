"""The check stage's section of ``datakit status``: the last check, per indicator."""

from __future__ import annotations

from typing import Any

from datakit.io import read_json
from datakit.project import Project


def status_section(project: Project) -> dict[str, Any] | None:
    path = project.paths.reports / "quality.json"
    if not path.is_file():
        return None
    try:
        data: dict[str, Any] = read_json(path)
    except (OSError, ValueError):
        return None
    from datakit.io import sha256_file
    from datakit.quality.indicators import INDICATORS
    from datakit.quality.report import fmt_value, verdict_ko

    inputs = data.get("inputs", {})
    stale = data.get("spec_sha256") != project.spec_hash
    m = project.paths.manifest
    if m.is_file() and inputs.get("manifest_sha256") not in (None, sha256_file(m)):
        stale = True
    labels = project.paths.labels
    current_labels = sha256_file(labels) if labels.is_file() else None
    if inputs.get("labels_sha256") != current_labels:
        stale = True
    found = data.get("indicators", {})
    order = [n for n in INDICATORS if n in found] + [n for n in found if n not in INDICATORS]
    rows = [
        [
            found[name].get("title", name),
            fmt_value(name, found[name].get("target")),
            fmt_value(name, found[name].get("value")),
            verdict_ko(found[name].get("passed")),
        ]
        for name in order
    ]
    verdict = "passed" if data.get("passed") else "FAILED"
    title = f"last check {data.get('generated_at')}: {verdict}"
    if stale:
        title += " (stale: spec or inputs changed since; run `datakit check`)"
    return {
        "passed": data.get("passed"),
        "generated_at": data.get("generated_at"),
        "stale": stale,
        "failed": data.get("failed", []),
        "indicators": {
            name: {k: ind.get(k) for k in ("value", "target", "passed")}
            for name, ind in data.get("indicators", {}).items()
        },
        "table": {"title": title, "columns": ["지표", "목표", "결과", "판정"], "rows": rows},
    }
