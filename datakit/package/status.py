"""The package stage's section of ``datakit status``: the releases and what they hold; and
its next steps: package once the gate has passed, verify what was released."""

from __future__ import annotations

from typing import Any

from datakit.io import read_json
from datakit.project import Project
from datakit.status import NextStep


def status_section(project: Project) -> dict[str, Any] | None:
    root = project.paths.releases
    if not root.is_dir():
        return None
    releases = []
    for meta_path in sorted(root.glob("*/metadata.json")):
        try:
            m = read_json(meta_path)
            releases.append(
                {
                    "version": m["release"]["version"],
                    "date": m["release"]["date"],
                    "total": m["counts"]["total"],
                    "splits": m["counts"]["splits"],
                    "quality": m["quality"]["state"],
                    "accepted_failed_check": m["quality"]["accepted_failed_check"],
                    "leakage": m["leakage"]["total"],
                    "layouts": m["release"]["layouts"],
                    "path": project.paths.rel(meta_path.parent),
                }
            )
        except (ValueError, KeyError, TypeError):
            releases.append({"version": meta_path.parent.name, "error": "metadata.json unreadable"})
    if not releases:
        return None
    rows = [
        [
            r["version"],
            r.get("date", ""),
            f"{r['total']:,}" if "total" in r else "",
            " / ".join(f"{k} {v:,}" for k, v in r.get("splits", {}).items()),
            r.get("quality", r.get("error", ""))
            + (" (accepted)" if r.get("accepted_failed_check") else ""),
            r.get("leakage", ""),
        ]
        for r in releases
    ]
    return {
        "releases": releases,
        "table": {
            "title": "releases",
            "columns": ["version", "date", "items", "splits", "quality", "leakage"],
            "rows": rows,
        },
    }


def next_steps(project: Project, sections: dict[str, Any]) -> list[NextStep]:
    """From the check section (the gate: passed, and about the current spec and data) and the
    releases: package the current version, or verify the release made of it."""
    check = sections.get("check")
    if not check or "error" in check or check["stale"] or not check["passed"]:
        return []  # the check stage says what to do first
    version = project.spec.dataset.version
    releases = (sections.get("package") or {}).get("releases", [])
    made = next((r for r in releases if r["version"] == version), None)
    if made is None:
        return [
            NextStep(
                "package",
                "todo",
                f"quality gate passed; release {version} not built yet",
                command="datakit package",
                reason="package.not_built",
            )
        ]
    if "error" in made:
        return [
            NextStep(
                "package",
                "failed",
                f"release {version}: {made['error']}; build it again",
                command="datakit package",
                path=made.get("path"),
                reason="package.unreadable",
            )
        ]
    return [
        NextStep(
            "package",
            "done",
            f"release {version} built ({made['total']:,} items)",
            command=f"datakit verify {version}",
            reason="package.released",
        )
    ]
