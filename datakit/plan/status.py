"""The plan stage's next steps for ``datakit status``: the artefacts must exist and be
derived from the current ``datakit.yaml``."""

from __future__ import annotations

from typing import Any

from datakit.project import Project
from datakit.status import NextStep


def next_steps(project: Project, sections: dict[str, Any]) -> list[NextStep]:
    rec = project.stage_record("plan")
    if rec is None:
        made = project.paths.label_config.is_file() and project.paths.label_schema.is_file()
        if made:  # committed with the spec (a copied example): `datakit plan --check` vouches
            return []
        return [
            NextStep(
                "plan",
                "todo",
                "labeling config, label schema and documents not generated yet",
                command="datakit plan",
                reason="plan.not_run",
            )
        ]
    if rec.get("spec_sha256") != project.spec_hash:
        return [
            NextStep(
                "plan",
                "todo",
                "datakit.yaml changed since the artefacts were generated",
                command="datakit plan",
                reason="plan.stale",
            )
        ]
    return []
