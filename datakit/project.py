"""A dataset project on disk: where every file lives, the spec loaded once, stage records.

Layout (created by ``datakit init``)::

    datakit.yaml                 the spec
    data/raw/                    원시데이터 as delivered (never released)
    data/source/                 원천데이터: cleaned, de-identified items (what gets labelled)
    data/quarantine/             items set aside, with reasons in the manifest
    data/manifest.parquet        one row per item (specs/manifest.schema.json)
    labeling/                    generated: label_config.xml, label.schema.json,
                                 카테고리_정의서.md, 가공_가이드라인.md
    expectations/                generated GX suites (datakit.*.json) and users' own suites
    annotations/                 annotations.parquet, labels.jsonl, agreement.json
    reports/                     quality.json / .html / 품질검증_결과서.md / error lists
    releases/<version>/          packaged releases
    .datakit/                    local state: caches, stage records, Label Studio data, tokens
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, get_args

from datakit.errors import ProjectError
from datakit.io import read_json, write_json
from datakit.spec.load import load_spec
from datakit.spec.model import ProjectSpec

SPEC_FILE = "datakit.yaml"
Stage = Literal["plan", "collect", "annotate", "check", "package"]
STAGES: tuple[Stage, ...] = get_args(Stage)


@dataclass(frozen=True)
class ProjectPaths:
    root: Path

    @property
    def spec(self) -> Path:
        return self.root / SPEC_FILE

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def raw(self) -> Path:
        return self.data / "raw"

    @property
    def source(self) -> Path:
        return self.data / "source"

    @property
    def quarantine(self) -> Path:
        return self.data / "quarantine"

    @property
    def manifest(self) -> Path:
        return self.data / "manifest.parquet"

    @property
    def labeling(self) -> Path:
        return self.root / "labeling"

    @property
    def label_config(self) -> Path:
        return self.labeling / "label_config.xml"

    @property
    def label_schema(self) -> Path:
        return self.labeling / "label.schema.json"

    @property
    def category_doc(self) -> Path:
        return self.labeling / "카테고리_정의서.md"

    @property
    def guide(self) -> Path:
        return self.labeling / "가공_가이드라인.md"

    @property
    def expectations(self) -> Path:
        return self.root / "expectations"

    @property
    def annotations(self) -> Path:
        return self.root / "annotations"

    @property
    def annotations_table(self) -> Path:
        return self.annotations / "annotations.parquet"

    @property
    def labels(self) -> Path:
        """Final label records, one JSON object per line, valid against label.schema.json."""
        return self.annotations / "labels.jsonl"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def releases(self) -> Path:
        return self.root / "releases"

    @property
    def state(self) -> Path:
        return self.root / ".datakit"

    def stage_record(self, stage: Stage) -> Path:
        return self.state / "stages" / f"{stage}.json"

    @property
    def generated_index(self) -> Path:
        """sha256 of every artefact as datakit last wrote it (hand-edit detection)."""
        return self.state / "generated.json"

    def rel(self, path: Path) -> str:
        """Project-relative POSIX path for records and reports."""
        try:
            return path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return path.as_posix()


class Project:
    """A dataset project. The spec is loaded (and validated) once, on first use."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self.paths = ProjectPaths(self.root)

    @classmethod
    def open(cls, path: str | Path | None = None) -> Project:
        """Open the project at ``path`` (or the nearest parent holding ``datakit.yaml``)."""
        start = Path(path or os.environ.get("DATAKIT_PROJECT") or ".").resolve()
        if start.is_file() and start.name == SPEC_FILE:
            return cls(start.parent)
        for candidate in (start, *start.parents):
            if (candidate / SPEC_FILE).is_file():
                return cls(candidate)
        raise ProjectError(
            f"no {SPEC_FILE} found in {start} or any parent folder",
            hint="run `datakit init DIR --template text_classification` to create a project, "
            "or pass --project DIR",
        )

    @cached_property
    def spec(self) -> ProjectSpec:
        return load_spec(self.paths.spec)

    @cached_property
    def spec_hash(self) -> str:
        """sha256 of the spec file's bytes: releases and checks record it to detect staleness."""
        return hashlib.sha256(self.paths.spec.read_bytes()).hexdigest()

    # -- stage records -------------------------------------------------------------------
    def record_stage(self, stage: Stage, summary: dict[str, Any]) -> dict[str, Any]:
        """Write ``.datakit/stages/<stage>.json`` after a stage finished."""
        record = {
            "stage": stage,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "spec_sha256": self.spec_hash,
            "summary": summary,
        }
        write_json(self.paths.stage_record(stage), record)
        return record

    def stage_record(self, stage: Stage) -> dict[str, Any] | None:
        path = self.paths.stage_record(stage)
        if not path.is_file():
            return None
        data: dict[str, Any] = read_json(path)
        return data

    def require(self, path: Path, *, produced_by: str) -> Path:
        """Fail with the command to run when an earlier stage's output is missing."""
        if not path.exists():
            raise ProjectError(
                f"{self.paths.rel(path)} does not exist yet",
                hint=f"run `{produced_by}` first",
            )
        return path
