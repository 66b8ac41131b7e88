"""``datakit status``: one view of the project — which stages have run, counts against
targets, and what to do next. Each stage contributes a section when its outputs exist, and
its next steps (:class:`NextStep`), derived from the files on disk only: no server call, so
``status`` stays fast and works offline, and every command can close with the same hint."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from datakit.project import STAGES, Project, Stage

# todo: the next thing to do in the pipeline; warning: worth a look, blocks nothing;
# failed: a check or the gate failed, fix before going on; done: the pipeline's end.
Severity = Literal["todo", "warning", "failed", "done"]


@dataclass(frozen=True)
class NextStep:
    """One thing to do next: what and why (``text``), and where — a command to run, a file
    to read or a Label Studio page (never with a token in it)."""

    stage: Stage
    severity: Severity
    text: str
    command: str | None = None
    path: str | None = None
    url: str | None = None
    reason: str = ""  # a stable code for scripts, e.g. "check.stale"

    def render(self) -> str:
        """``text → command`` (or → url / path): one line for people."""
        cmd = f"`{self.command}`" if self.command else None
        if self.url:  # work in Label Studio first, then the command brings it home
            shown = f"{self.url}, then {cmd}" if cmd else self.url
        elif cmd:
            shown = f"{cmd} (see {self.path})" if self.path and self.path not in cmd else cmd
        else:
            shown = self.path or ""
        return f"{self.text} → {shown}" if shown else self.text

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "severity": self.severity,
            "reason": self.reason,
            "text": self.text,
            "command": self.command,
            "path": self.path,
            "url": self.url,
        }


@dataclass
class StatusReport:
    project: str
    dataset: str
    version: str
    task: str
    stages: dict[str, dict[str, Any] | None]
    targets: dict[str, Any]
    sections: dict[str, Any] = field(default_factory=dict)
    next_steps: list[NextStep] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "dataset": self.dataset,
            "version": self.version,
            "task": self.task,
            "stages": self.stages,
            "targets": self.targets,
            **self.sections,
            "next_steps": [s.to_dict() for s in self.next_steps],
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
    for name, mod in _stage_modules():
        contribute = getattr(mod, "status_section", None)
        section = None if contribute is None else contribute(project)
        if section is not None:
            report.sections[name] = section
        report.next_steps += _steps_of(mod, project, report.sections)
    return report


def next_steps(project: Project) -> list[NextStep]:
    """Every stage's next steps, in pipeline order (what ``datakit status`` ends with)."""
    return project_status(project).next_steps


def top_steps(steps: list[NextStep], limit: int = 2) -> list[NextStep]:
    """What a command closes with: failures first, then the pipeline's next things to do;
    warnings (quarantined files, a shortfall) are left to ``datakit status``. With nothing
    left to do, the ``done`` step."""
    failed = [s for s in steps if s.severity == "failed"]
    todo = [s for s in steps if s.severity == "todo"]
    done = [s for s in steps if s.severity == "done"]
    return (failed + todo or done)[:limit]


def _steps_of(mod: Any, project: Project, sections: dict[str, Any]) -> list[NextStep]:
    contribute = getattr(mod, "next_steps", None)
    return [] if contribute is None else list(contribute(project, sections))


def _stage_modules() -> list[tuple[str, Any]]:
    """Stage contributions in pipeline order, imported lazily: ``status_section(project) ->
    dict | None`` and ``next_steps(project, sections) -> list[NextStep]``, where ``sections``
    holds the sections of the stages before it (stages talk through data, not imports)."""
    import importlib

    out: list[tuple[str, Any]] = []
    for name in STAGES:
        module = f"datakit.{name}.status"
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module and not module.startswith(str(exc.name)):
                raise
            continue
        out.append((name, mod))
    return out
