"""The check stage's section of ``datakit status``: the last check, per indicator."""

from __future__ import annotations

from typing import Any

from datakit.project import Project


def status_section(project: Project) -> dict[str, Any] | None:
    from datakit.errors import ArtefactError
    from datakit.reports import QUALITY_FILE, QualityReport

    path = project.paths.reports / QUALITY_FILE
    if not path.is_file():
        return None
    try:
        report = QualityReport.read(path, file=project.paths.rel(path))
    except ArtefactError as exc:
        return {
            "error": exc.message,
            "table": {"title": f"last check: {exc.message}", "columns": ["", ""], "rows": []},
        }
    from datakit.io import sha256_file
    from datakit.check.indicators import INDICATORS
    from datakit.check.report import fmt_value, verdict_ko

    inputs = report.inputs
    stale = report.spec_sha256 != project.spec_hash
    m = project.paths.manifest
    if m.is_file() and inputs["manifest_sha256"] != sha256_file(m):
        stale = True
    labels = project.paths.labels
    current_labels = sha256_file(labels) if labels.is_file() else None
    if inputs["labels_sha256"] != current_labels:
        stale = True
    found = report.indicators
    order = [n for n in INDICATORS if n in found] + [n for n in found if n not in INDICATORS]
    rows = [
        [
            found[name].title,
            fmt_value(name, found[name].target),
            fmt_value(name, found[name].value),
            verdict_ko(found[name].passed),
        ]
        for name in order
    ]
    verdict = "passed" if report.passed else "FAILED"
    title = f"last check {report.generated_at}: {verdict}"
    if stale:
        title += " (stale: spec or inputs changed since; run `datakit check`)"
    return {
        "passed": report.passed,
        "generated_at": report.generated_at,
        "stale": stale,
        "failed": report.failed_indicators,
        "indicators": {
            name: {"value": i.value, "target": i.target, "passed": i.passed}
            for name, i in found.items()
        },
        "table": {"title": title, "columns": ["지표", "목표", "결과", "판정"], "rows": rows},
    }
