"""The local check engine: the census in processes on this machine (``census``), the
figures in the driver, the expectation suites over bounded pandas batches
(``expectations``), and the parsed label table kept for ``datakit package``."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from datakit.check import indicators as ind
from datakit.check.census import (
    CensusResult,
    census_files,
    census_jsonl,
    pair_with_manifest,
    paired_items,
)
from datakit.check.engine import (
    CheckInputs,
    Measures,
    PhaseCallback,
    Progress,
    Table,
    composition_sources,
    facet_key,
    manifest_attribute_columns,
    source_file_name,
)

if TYPE_CHECKING:
    from datakit.check.expectations import Outcome, Suite
    from datakit.engine import Engine
    from datakit.project import Project


class LocalCheckEngine:
    """``workers`` processes for the census (default: the CPUs), ``batch_rows`` rows per
    pandas batch of the suites (default ``expectations.BATCH_ROWS``)."""

    name: Engine = "local"

    def __init__(self, *, workers: int | None = None, batch_rows: int | None = None) -> None:
        self.workers = workers
        self.batch_rows = batch_rows

    def measure(
        self, inputs: CheckInputs, progress: Progress | None, phase: PhaseCallback
    ) -> Measures:
        project, manifest, facet_fields = inputs.project, inputs.manifest, inputs.facet_fields
        paths = project.paths
        mrows = manifest.select(["id", "status", "source_path"]).to_pydict()
        statuses = dict(zip(mrows["id"], mrows["status"], strict=True))
        file_names = None
        fn_facet = facet_fields.index("file_name") if "file_name" in facet_fields else None
        if fn_facet is not None:
            file_names = {
                i: source_file_name(p)
                for i, p in zip(mrows["id"], mrows["source_path"], strict=True)
            }
        census = CensusResult()
        jsonl_records = 0
        if paths.labels.is_file():
            phase("구문 정확성: labels.jsonl")
            part = census_jsonl(
                paths.labels,
                inputs.schema,
                file=paths.rel(paths.labels),
                facet_fields=facet_fields,
                workers=self.workers,
                progress=progress,
            )
            pair_with_manifest(part, statuses, file_names=file_names, file_name_facet=fn_facet)
            jsonl_records = part.records
            census.merge(part)
        if inputs.files:
            phase("구문 정확성: per-item label files")
            part = census_files(
                inputs.files,
                inputs.schema,
                names=[paths.rel(f) for f in inputs.files],
                facet_fields=facet_fields,
                workers=self.workers,
                progress=progress,
            )
            pair_with_manifest(part, statuses, file_names=file_names, file_name_facet=fn_facet)
            census.merge(part)
        delivered = paired_items(census, statuses)
        per_class: Counter[str] = Counter()
        for facets in delivered.values():
            if facets:
                for c in ind.classes_of(facets[0]):  # facet 0 is the label field
                    per_class[c] += 1
        composition = _composition_counts(project, manifest, delivered, facet_fields)
        return Measures(census, jsonl_records, len(delivered), per_class, composition)

    def validate(
        self, inputs: CheckInputs, table: Table, suites: Sequence[Suite], rows: int,
        progress: Progress | None,
    ) -> list[Outcome]:  # fmt: skip
        from datakit.check.expectations import (
            BATCH_ROWS,
            labels_batches,
            manifest_batches,
            validate_batches,
            value_cap,
        )

        paths = inputs.project.paths
        batch = self.batch_rows or BATCH_ROWS
        if table == "manifest":
            opener = manifest_batches(paths.manifest, batch)
        else:
            fields = inputs.project.spec.field_names
            opener = labels_batches(paths.labels, fields, batch, value_cap=value_cap(suites))
        return validate_batches(opener, suites, total_rows=rows, progress=progress)

    def keep_label_table(self, project: Project, labels_sha256: str) -> None:
        """The records parsed into the release's label table (the snapshot), so that
        ``datakit package`` need not parse labels.jsonl again."""
        from datakit.label_table import write_snapshot

        write_snapshot(project, labels_sha256)


def _composition_counts(
    project: Project,
    manifest: Any,
    delivered: dict[str, tuple[Any, ...]],
    facet_fields: list[str],
) -> dict[str, dict[str, int]]:
    """attribute → value → number of items, over the delivered items (or, before any
    label exists, over the collected ``ok`` items)."""
    spec = project.spec
    if not spec.targets.composition:
        return {}
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    from_labels, from_manifest = composition_sources(spec, facet_fields, bool(delivered))
    population: set[str] | None = set(delivered) if delivered else None
    for a in from_labels:
        i = facet_fields.index(a)
        for facets in delivered.values():
            counts[a][facet_key(facets[i] if facets else None)] += 1
    if from_manifest:
        wanted = manifest_attribute_columns(manifest.column_names, from_manifest)
        cols = manifest.select(wanted).to_pydict()
        for r in range(manifest.num_rows):
            row = {c: cols[c][r] for c in wanted}
            if population is not None:
                if row["id"] not in population:
                    continue
            elif row["status"] != "ok":
                continue
            for a in from_manifest:
                counts[a][ind.attribute_value(row, a, spec.splits.group)] += 1
    return {a: dict(c) for a, c in counts.items()}
