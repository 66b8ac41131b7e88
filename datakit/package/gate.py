"""The release gate: the last quality check must exist, have passed, and be about the data
and spec being packaged. A user may accept a failed or stale check explicitly; the release
then records it in its metadata and documents."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datakit.errors import ArtefactError, ReleaseError
from datakit.io import file_sha256
from datakit.project import Project
from datakit.reports import QUALITY_FILE, QualityReport


@dataclass
class GateResult:
    state: str  # passed | failed | stale | missing
    reasons: list[str] = field(default_factory=list)
    accepted: bool = False  # packaged although the state is not "passed"
    report: QualityReport | None = None  # reports/quality.json, read back by its own type

    def to_dict(self) -> dict[str, Any]:
        """``quality`` of the release's metadata.json (specs/release-metadata.schema.json)."""
        rep = self.report
        figures = None if rep is None else rep.agreement_figures()
        return {
            "state": self.state,
            "passed": self.state == "passed",
            "accepted_failed_check": self.accepted,
            "reasons": list(self.reasons),
            "checked_at": None if rep is None else rep.generated_at,
            "indicators": {
                name: {"value": i.value, "target": i.target, "passed": i.passed}
                for name, i in sorted((rep.indicators if rep else {}).items())
            },
            "agreement": None if figures is None else figures.to_dict(),
            "validity": _validity(rep),
        }


def _validity(rep: QualityReport | None) -> dict[str, Any] | None:
    """The check's validity result (:class:`datakit.validity_report.ValidityResult`), read
    back by its own type; None without one."""
    from datakit.validity_report import ValidityResult

    found = None if rep is None else ValidityResult.from_indicator(rep.indicators.get("validity"))
    return None if found is None else found.to_dict()


def quality_report_path(project: Project) -> Path:
    return project.paths.reports / QUALITY_FILE


def evaluate_gate(project: Project, *, check_data: bool = True) -> GateResult:
    """Where the last quality check stands, without raising. ``check_data=False`` skips
    hashing the manifest and labels (a first, quick look; the full gate follows)."""
    path = quality_report_path(project)
    if not path.is_file():
        return GateResult("missing", [f"{project.paths.rel(path)} does not exist"])
    try:
        report = QualityReport.read(path, file=project.paths.rel(path))
        report.agreement_figures()  # parsed now, so a bad file is found before packaging
    except ArtefactError as exc:
        return GateResult("missing", [exc.message])
    reasons: list[str] = []
    if report.spec_sha256 != project.spec_hash:
        reasons.append("datakit.yaml changed since the check")
    for key, p in (
        ("manifest_sha256", project.paths.manifest),
        ("labels_sha256", project.paths.labels),
    ):
        if check_data and p.is_file() and report.inputs[key] != file_sha256(p):
            reasons.append(f"{project.paths.rel(p)} changed since the check")
    if reasons:
        return GateResult("stale", reasons, report=report)
    if not report.passed:
        failed = [
            f"{name}: {ind.value} (target {ind.target})"
            for name, ind in sorted(report.indicators.items())
            if ind.passed is False
        ]
        return GateResult("failed", failed or ["the check did not pass"], report=report)
    return GateResult("passed", report=report)


def enforce_gate(
    project: Project, *, accept_failed_check: bool, check_data: bool = True
) -> GateResult:
    gate = evaluate_gate(project, check_data=check_data)
    if gate.state == "passed":
        return gate
    if accept_failed_check:
        gate.accepted = True
        return gate
    detail = "; ".join(gate.reasons)
    what = {
        "missing": "no quality check has been run",
        "stale": "the last quality check is out of date",
        "failed": "the last quality check failed",
    }[gate.state]
    raise ReleaseError(
        f"release refused: {what} ({detail})",
        hint="run `datakit check` and fix what it reports, or pass --accept-failed-check "
        "to release anyway (the release will say so in its metadata and documents)",
    )
