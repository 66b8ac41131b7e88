"""The check stage's section of ``datakit status``: the last check, per indicator; and its
next steps: labels never checked or changed since, indicators not measured, the gate failed."""

from __future__ import annotations

from typing import Any

from datakit.project import Project
from datakit.status import NextStep

_CHECK = "datakit check"


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
    from datakit.check.indicators import INDICATORS
    from datakit.check.report import fmt_value, verdict_ko

    stale_reasons = _stale_reasons(project, report)
    stale = bool(stale_reasons)
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
        title += f" (stale: {'; '.join(stale_reasons)})"
    return {
        "passed": report.passed,
        "generated_at": report.generated_at,
        "stale": stale,
        "stale_reasons": stale_reasons,
        "failed": report.failed_indicators,
        "indicators": {
            name: {
                "value": i.value,
                "target": i.target,
                "passed": i.passed,
                "status": i.status,
                "note": i.note,
            }
            for name, i in found.items()
        },
        "table": {"title": title, "columns": ["지표", "목표", "결과", "판정"], "rows": rows},
    }


def _stale_reasons(project: Project, report: Any) -> list[str]:
    """What changed since the check: the spec, or an input file (by the sha256 the check
    recorded in ``inputs``)."""
    from datakit.io import sha256_file

    reasons = []
    if report.spec_sha256 != project.spec_hash:
        reasons.append("datakit.yaml changed since the last check")
    inputs = report.inputs
    m = project.paths.manifest
    if m.is_file() and inputs["manifest_sha256"] != sha256_file(m):
        reasons.append(f"{project.paths.rel(m)} changed since the last check")
    labels = project.paths.labels
    current = sha256_file(labels) if labels.is_file() else None
    if inputs["labels_sha256"] != current:
        if current is None:
            reasons.append(f"{project.paths.rel(labels)} removed since the last check")
        elif inputs["labels_sha256"] is None:
            reasons.append("labels pulled since the last check")
        else:
            reasons.append("labels changed since the last check")
    return reasons


def next_steps(project: Project, sections: dict[str, Any]) -> list[NextStep]:
    """Labels never checked or changed since the check; the inspection sample's verdicts;
    each indicator that failed the gate, then each one not measured."""
    section = sections.get("check")
    if section is None or "error" in section or section["stale"]:
        steps = []
        if section is None and project.paths.labels.is_file():
            steps.append(
                NextStep(
                    "check",
                    "todo",
                    "labels pulled but never checked",
                    command=_CHECK,
                    reason="check.never_run",
                )
            )
        elif section is not None:
            text = section["error"] if "error" in section else "; ".join(section["stale_reasons"])
            why = "check.unreadable" if "error" in section else "check.stale"
            steps.append(NextStep("check", "todo", text, command=_CHECK, reason=why))
        return steps + _inspection_steps(project, None)
    from datakit.reports import QUALITY_FILE, QualityReport

    path = project.paths.reports / QUALITY_FILE
    report = QualityReport.read(path, file=project.paths.rel(path))
    from datakit.check.indicators import INDICATORS

    found = report.indicators
    order = [n for n in INDICATORS if n in found] + [n for n in found if n not in INDICATORS]
    inspection = _inspection_steps(project, found.get("semantic"))
    steps = [
        _failed_step(project, report, name)
        for name in order
        if found[name].passed is False
        and not (name == "semantic" and inspection)  # the verdicts changed: check again first
    ]
    for name in order:
        if name == "semantic":
            steps += inspection
        elif found[name].passed is None:
            steps.append(_unmeasured_step(name, found[name]))
    return steps


def _inspection_steps(project: Project, semantic: Any) -> list[NextStep]:
    """의미 정확성 from the inspection files as they are now (``reports/inspection/``): no
    sample drawn, verdicts pending, or verdicts recorded since the check (``semantic`` is the
    check's indicator; None when there is no current check)."""
    from datakit.check.inspection import SHEET_FILE, inspection_dir, sample_verdicts

    title = "의미 정확성"
    plan, verdicts = sample_verdicts(project)
    if plan is None:
        if semantic is None or semantic.passed is not None:
            return []
        return [
            NextStep(
                "check",
                "todo",
                f"{title} not measured: no inspection sample yet",
                command="datakit check sample",
                reason="check.semantic_unmeasured",
            )
        ]
    pending = sum(1 for v in verdicts.values() if v is None)
    if pending:
        sheet = project.paths.rel(inspection_dir(project) / SHEET_FILE)
        how = " (or --from-label-studio)" if plan.label_studio_project is not None else ""
        return [
            NextStep(
                "check",
                "todo",
                f"{title}: {pending:,} of {plan.size:,} sampled items await a verdict (fill "
                f"in the sheet's verdict column){how}",
                command=f"datakit check verdicts {sheet}",
                path=sheet,
                reason="check.verdicts_pending",
            )
        ]
    if semantic is None:
        return []
    details = semantic.details or {}
    rate = sum(1 for v in verdicts.values() if v) / len(verdicts) if verdicts else None
    same_sample = (details.get("sample") or {}).get("created_at") == plan.created_at
    if same_sample and details.get("inspected") == len(verdicts) and semantic.value == rate:
        return []
    return [
        NextStep(
            "check",
            "todo",
            f"{title}: verdicts for the {plan.size:,} sampled items recorded since the last check",
            command=_CHECK,
            reason="check.verdicts_new",
        )
    ]


def _failed_step(project: Project, report: Any, name: str) -> NextStep:
    """``gate failed on <indicator>: value against target``, what it consisted of, and the
    file or setting to look at."""
    from datakit.check.report import fmt_value

    ind = report.indicators[name]
    d = ind.details
    head = (
        f"gate failed on {ind.title}: {fmt_value(name, ind.value)} against the target "
        f"{fmt_value(name, ind.target)}"
    )
    files = report.files
    html = files.get("html")
    path: str | None = html
    command: str | None = None
    if name == "format":
        reasons = d.get("reasons") or {}
        what = ", ".join(f"{n:,} as {r}" for r, n in reasons.items())
        if d.get("quarantined"):
            head += f"; {d['quarantined']:,} files quarantined"
        if d.get("ok_but_unfit"):
            head += f", {d['ok_but_unfit']:,} outside data.requirements"
        if what:
            head += f" ({what})"
        head += "; fix or replace those files, or adjust data.requirements in datakit.yaml"
        path = project.paths.rel(project.paths.manifest)
    elif name == "syntactic":
        counts = {k: v for k, v in report.error_counts.items() if v}
        head += "; " + ", ".join(f"{k} {v:,}" for k, v in counts.items()) + " errors"
        lists = [files[f"errors_{k}"] for k in counts if files.get(f"errors_{k}")]
        path = ", ".join(lists) or html
    elif name == "completeness":
        short = [r for r in d.get("rows", []) if r.get("rate", 1) < 1]
        if short:
            head += "; " + ", ".join(
                f"{r['name']} {r['delivered']:,}/{r['target']:,}" for r in short[:5]
            )
        head += "; collect or label more"
        command = "datakit collect"
    elif name == "semantic":
        from datakit.check.inspection import SHEET_FILE, inspection_dir

        head += "; correct the failed items and inspect a new sample"
        path = project.paths.rel(inspection_dir(project) / SHEET_FILE)
    elif name == "agreement":
        head += "; review the disagreements and clarify the guide"
    elif name == "validity":
        suspects = (d.get("suspects") or {}).get("file")
        head += "; look at the labels the baseline doubts"
        path = suspects or html
    return NextStep("check", "failed", head, command=command, path=path, reason=f"gate.{name}")


def _unmeasured_step(name: str, ind: Any) -> NextStep:
    note = f" ({ind.note})" if ind.note else ""
    if name == "validity" and ind.note and "--no-validity" in ind.note:
        return NextStep(
            "check",
            "todo",
            f"{ind.title} not measured{note}",
            command="datakit check validity",
            reason="check.validity_unmeasured",
        )
    return NextStep(
        "check", "warning", f"{ind.title} not measured{note}", reason=f"check.{name}_unmeasured"
    )
