"""The check stage's engine seam: what ``run.check`` asks of an engine and what it gets back.

``run.check`` picks one engine by name and only orchestrates; it never asks which engine it
holds. The local engine (``local.LocalCheckEngine``) runs the census in processes on this
machine and the suites over pandas batches; the Spark engine (``spark.SparkCheckEngine``)
runs the same rules as Spark jobs and brings back aggregates. Both fill one
:class:`Measures`, from which ``indicators`` computes the same figures on the driver.

The helpers below are the rules both engines apply to the records, kept here so that neither
copies the other: which file name a label must carry (:func:`source_file_name`), how a value
counts in the composition (:func:`facet_key`) and where each composition attribute is read
from (:func:`composition_sources`, :func:`manifest_attribute_columns`).
"""

from __future__ import annotations

import posixpath
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from datakit.check import indicators as ind
from datakit.check.census import CensusResult, Progress

if TYPE_CHECKING:
    from datakit.check.expectations import Outcome, Suite
    from datakit.engine import Engine
    from datakit.project import Project

PhaseCallback = Callable[[str], None]
Table = Literal["manifest", "labels"]
SUITE_TABLES: tuple[Table, ...] = ("manifest", "labels")  # the order of the outcomes
FACET_CHARS = 200

__all__ = [
    "SUITE_TABLES",
    "CheckEngine",
    "CheckInputs",
    "Measures",
    "PhaseCallback",
    "Progress",
    "composition_sources",
    "facet_key",
    "manifest_attribute_columns",
    "run_suites",
    "source_file_name",
]


@dataclass(frozen=True)
class CheckInputs:
    """What every engine measures: the project, the label record schema, the manifest as
    ``tables.read_manifest`` gives it, the label fields whose values the figures need
    (``facet_fields``, the label field first) and the per-item label files, sorted."""

    project: Project
    schema: dict[str, Any]
    manifest: Any  # pyarrow.Table
    facet_fields: list[str]
    files: list[Path]


@dataclass
class Measures:
    """What an engine hands back for the census-based indicators: the census (counts and
    errors), the labels.jsonl record count, and the figures of the delivered items (the
    first label of each item paired with an ``ok`` manifest item)."""

    census: CensusResult
    jsonl_records: int
    delivered: int
    per_class: Counter[str]
    composition: dict[str, dict[str, int]]


class CheckEngine(Protocol):
    """An engine of the check stage. Given the same inputs, every engine returns the same
    measures and outcomes (tests/spark/test_check_spark.py compares them field by field)."""

    name: Engine

    def measure(
        self, inputs: CheckInputs, progress: Progress | None, phase: PhaseCallback
    ) -> Measures:
        """Syntactic census of labels.jsonl and the per-item files, pairing with the
        manifest, and the completeness and diversity figures of the delivered items."""
        ...

    def validate(
        self, inputs: CheckInputs, table: Table, suites: Sequence[Suite], rows: int,
        progress: Progress | None,
    ) -> list[Outcome]:  # fmt: skip
        """The outcomes of ``suites`` (all for ``table``, of ``rows`` rows), in suite order."""
        ...

    def keep_label_table(self, project: Project, labels_sha256: str) -> None:
        """After the reports are written: keep what ``datakit package`` may reuse."""
        ...


def run_suites(
    engine: CheckEngine,
    inputs: CheckInputs,
    suites: Sequence[Suite],
    label_rows: int,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Outcome dicts of every suite, the manifest's first. Without label records (no
    labels.jsonl, or only blank lines) the label suites have nothing to say and do not run."""
    out: list[dict[str, Any]] = []
    for table in SUITE_TABLES:
        chosen = [s for s in suites if s.table == table]
        rows = inputs.manifest.num_rows if table == "manifest" else label_rows
        if not chosen or (table == "labels" and rows == 0):
            continue
        out.extend(o.to_dict() for o in engine.validate(inputs, table, chosen, rows, progress))
    return out


def source_file_name(source_path: str) -> str:
    """The file name a label's ``file_name`` must equal: the base name of the item's
    original path (an archive member or ``#row=`` suffix aside)."""
    return posixpath.basename(source_path.split("#", 1)[0])


def facet_key(value: Any) -> str:
    """How a label value is counted in the composition (diversity) figures. A text too long
    for a report is cut, its length and a digest kept (equal texts still count together)."""
    if value is None:
        return ind.MISSING_VALUE
    key = str(value)
    if len(key) <= FACET_CHARS:
        return key
    from datakit.check.expectations import cap_text

    return cap_text(key, FACET_CHARS)


def composition_sources(
    spec: Any, facet_fields: list[str], any_delivered: bool
) -> tuple[list[str], list[str]]:
    """(attributes counted from the labels, attributes counted from the manifest). Before any
    label exists every attribute is read from the manifest (item attributes)."""
    attrs = list(spec.targets.composition)
    from_labels = [a for a in attrs if a in facet_fields] if any_delivered else []
    return from_labels, [a for a in attrs if a not in from_labels]


def manifest_attribute_columns(names: list[str], from_manifest: list[str]) -> list[str]:
    """The manifest columns ``indicators.attribute_value`` reads for these attributes."""
    wanted = [c for c in ("id", "status", "group", "attributes") if c in names]
    return wanted + [a for a in from_manifest if a in names and a not in wanted]
