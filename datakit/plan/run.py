"""``datakit plan``: validate the spec and (re)generate the derived artefacts.

Hand-edit protection: ``labeling/.generated.json`` (committed with the artefacts) records
the sha256 of each artefact as datakit last wrote it. A file whose bytes match neither
the new content nor that record was edited by hand and is not overwritten unless asked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from datakit.errors import ArtefactError
from datakit.io import dumps_json, read_json, sha256_bytes, write_bytes, write_json
from datakit.labels import label_record_schema
from datakit.plan.artefacts import label_config_xml, labels_suite, manifest_suite
from datakit.plan.documents import annotation_guide, category_definition, plan_summary_rows
from datakit.project import Project
from datakit.spec.model import ProjectSpec

ArtefactState = Literal["created", "updated", "unchanged", "kept-edited", "overwrote-edited"]
DriftState = Literal["missing", "stale", "edited"]
EditedPolicy = Literal["refuse", "keep", "overwrite"]

INDEX_NAME = ".generated.json"


@dataclass(frozen=True)
class Artefact:
    path: str  # project-relative
    state: ArtefactState | DriftState


@dataclass
class PlanResult:
    artefacts: list[Artefact]
    check_only: bool
    classes: list[tuple[str, int | None]] = field(default_factory=list)
    total: int | None = None
    indicators: list[tuple[str, str]] = field(default_factory=list)

    @property
    def drift(self) -> list[Artefact]:
        return [a for a in self.artefacts if a.state in ("missing", "stale", "edited")]

    @property
    def ok(self) -> bool:
        return not (self.check_only and self.drift)

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "check_only": self.check_only,
            "artefacts": [{"path": a.path, "state": a.state} for a in self.artefacts],
            "targets": {
                "total": self.total,
                "per_class": dict(self.classes),
                "quality": dict(self.indicators),
            },
        }


def render_artefacts(project: Project, spec: ProjectSpec) -> dict[Path, bytes]:
    """Every derived artefact's path and exact bytes."""
    p = project.paths
    texts = {
        p.label_config: label_config_xml(spec),
        p.label_schema: dumps_json(label_record_schema(spec)),
        p.expectations / "datakit.labels.json": dumps_json(labels_suite(spec)),
        p.expectations / "datakit.manifest.json": dumps_json(manifest_suite(spec)),
        p.category_doc: category_definition(spec),
        p.guide: annotation_guide(spec),
    }
    return {path: text.encode("utf-8") for path, text in texts.items()}


def _index_path(project: Project) -> Path:
    return project.paths.labeling / INDEX_NAME


def _read_index(project: Project) -> dict[str, str]:
    path = _index_path(project)
    if not path.is_file():
        return {}
    try:
        data = read_json(path)
    except (json.JSONDecodeError, OSError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def plan(project: Project, *, check: bool = False, edited: EditedPolicy = "refuse") -> PlanResult:
    """Generate (or with ``check``, compare) the artefacts derived from the spec."""
    spec = project.spec
    rendered = render_artefacts(project, spec)
    index = _read_index(project)
    states: dict[Path, ArtefactState | DriftState] = {}
    edited_paths: list[str] = []
    for path, new in rendered.items():
        rel = project.paths.rel(path)
        old = path.read_bytes() if path.is_file() else None
        if old == new:
            states[path] = "unchanged"
        elif old is None:
            states[path] = "missing" if check else "created"
        elif index.get(rel) == sha256_bytes(old):
            states[path] = "stale" if check else "updated"
        else:
            states[path] = "edited"
            edited_paths.append(rel)

    if not check:
        if edited_paths and edited == "refuse":
            listing = "\n".join(f"  {r}" for r in edited_paths)
            raise ArtefactError(
                f"these generated files were edited by hand and differ from what the spec "
                f"now produces:\n{listing}",
                hint="keep your edits with `datakit plan --keep-edited` (the other files are "
                "regenerated), or replace them with `datakit plan --overwrite-edited`; "
                "to change them for good, change datakit.yaml instead",
            )
        new_index = dict(index)
        for path, new in rendered.items():
            rel = project.paths.rel(path)
            state = states[path]
            if state == "edited":
                if edited == "keep":
                    states[path] = "kept-edited"
                    continue
                states[path] = "overwrote-edited"
            if state != "unchanged":
                write_bytes(path, new)
            new_index[rel] = sha256_bytes(new)
        if new_index != index:
            write_json(_index_path(project), dict(sorted(new_index.items())))
        project.record_stage(
            "plan",
            {
                "artefacts": {project.paths.rel(k): v for k, v in states.items()},
                "classes": len(spec.task.classes),
                "fields": len(spec.fields),
            },
        )
    return PlanResult(
        artefacts=[Artefact(project.paths.rel(k), v) for k, v in states.items()],
        check_only=check,
        classes=[(c.name, spec.targets.per_class.get(c.name)) for c in spec.task.classes],
        total=spec.targets.total,
        indicators=plan_summary_rows(spec),
    )
