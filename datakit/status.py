"""``datakit status``: one view of the project — which stages have run, counts against
targets. Each stage contributes a section when its outputs exist."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from datakit.project import STAGES, Project


@dataclass
class StatusReport:
    project: str
    dataset: str
    version: str
    task: str
    stages: dict[str, dict[str, Any] | None]
    targets: dict[str, Any]
    sections: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "dataset": self.dataset,
            "version": self.version,
            "task": self.task,
            "stages": self.stages,
            "targets": self.targets,
            **self.sections,
        }


def project_status(project: Project) -> StatusReport:
    spec = project.spec
    stages: dict[str, dict[str, Any] | None] = {}
    for stage in STAGES:
        rec = project.stage_record(stage)
        stages[stage] = (
            None
            if rec is None
            else {
                "finished_at": rec.get("finished_at"),
                "spec_changed_since": rec.get("spec_sha256") != project.spec_hash,
                "summary": rec.get("summary", {}),
            }
        )
    targets = {
        "total": spec.targets.total,
        "per_class": dict(spec.targets.per_class),
        "composition": spec.targets.composition,
        "quality": {
            k: getattr(spec.targets.quality, k)
            for k in ("syntactic", "format", "semantic", "completeness", "diversity", "agreement")
        },
    }
    report = StatusReport(
        project=str(project.root),
        dataset=f"{spec.dataset.name_ko} ({spec.dataset.name_en})",
        version=spec.dataset.version,
        task=spec.task.type,
        stages=stages,
        targets=targets,
    )
    for name, contribute in _sections():
        section = contribute(project)
        if section is not None:
            report.sections[name] = section
    return report


def _sections() -> list[tuple[str, Any]]:
    """Stage contributions, imported lazily: ``status_section(project) -> dict | None``."""
    import importlib

    out = []
    for name in ("collect", "annotate", "check", "package"):
        module = f"datakit.{name}.status"
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module and not module.startswith(str(exc.name)):
                raise
            continue
        out.append((name, mod.status_section))
    return out
