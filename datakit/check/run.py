"""``datakit check``: measure every indicator, write the reports, decide the gate.

:func:`check` gathers the inputs (manifest, labels, per-item label files, inspection
verdicts, agreement figures, expectation suites), hands them to the pure functions in
``census``, ``indicators`` and ``expectations``, and writes ``reports/`` through
``report``. The result is a :class:`QualityReport`; the CLI turns ``passed`` into the
exit code. Nothing here raises for bad *data* — only for a project that cannot be
checked at all (no manifest, no label schema).
"""

from __future__ import annotations

import functools
import posixpath
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from datakit.errors import ArtefactError, DatakitError, storage_error
from datakit.io import read_json, sha256_file
from datakit.project import Project
from datakit.check import indicators as ind
from datakit.check.census import (
    CensusResult,
    census_files,
    census_jsonl,
    pair_with_manifest,
    paired_items,
)
from datakit.reports import AGREEMENT_FILE, AgreementReport, QualityReport

Progress = Callable[[int, int | None], None]
PhaseCallback = Callable[[str], None]

__all__ = ["QualityReport", "check", "dataset_facts", "report_inputs"]


def _facet_fields(project: Project) -> list[str]:
    spec = project.spec
    fields = [spec.task.label_field]
    for attr in spec.targets.composition:
        if attr in spec.field_names and attr not in fields:
            fields.append(attr)
    if "file_name" in spec.field_names:
        fields.append("file_name")
    return fields


def _label_schema(project: Project) -> dict[str, Any]:
    path = project.paths.label_schema
    if not path.is_file():
        raise ArtefactError(
            f"{project.paths.rel(path)} does not exist",
            hint="run `datakit plan` to generate the label schema",
        )
    try:
        schema: dict[str, Any] = read_json(path)
    except ValueError as exc:
        raise ArtefactError(
            f"{project.paths.rel(path)} is not valid JSON: {exc}",
            hint="run `datakit plan --overwrite-edited` to regenerate it",
        ) from exc
    return schema


def default_label_files_dir(project: Project) -> Path:
    """Where AI Hub-style per-item label JSON files are looked for by default."""
    return project.paths.annotations / "labels"


def _no_crash_as_gate(fn: Callable[..., QualityReport]) -> Callable[..., QualityReport]:
    """A check that cannot finish raises a DatakitError (exit 2, with a hint), never an
    uncaught exception: Python exits 1 on those, the code of a failed gate, and CI could not
    tell a crash from a quality failure. File-system errors pass through (the CLI gives 4)."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> QualityReport:
        try:
            return fn(*args, **kwargs)
        except DatakitError:
            raise
        except MemoryError as exc:
            raise DatakitError(
                "the check ran out of memory (is a label record or value far larger than its "
                "field allows?)",
                hint="find over-long lines, e.g. `awk 'length > 1000000 {print NR}' "
                "annotations/labels.jsonl`, fix or remove them, or give the check more memory",
            ) from exc
        except Exception as exc:
            if isinstance(exc, OSError) and storage_error(exc) is not None:
                raise
            raise DatakitError(
                f"the check stopped on an unexpected error: {type(exc).__name__}: {str(exc)[:300]}",
                hint="this is not a quality result but a fault in datakit or its input: rerun "
                "with `datakit --debug check` and report the traceback",
            ) from exc

    return run


@_no_crash_as_gate
def check(
    project: Project,
    *,
    checkpoint: str | None = None,
    label_files: Path | None = None,
    workers: int | None = None,
    batch_rows: int | None = None,
    semantic_gate: Literal["rate", "bound"] = "rate",
    confidence: float = 0.95,
    write: bool = True,
    progress: Progress | None = None,
    on_phase: PhaseCallback | None = None,
    engine: str | None = None,
    validity: bool = True,
    predictions: Path | None = None,
) -> QualityReport:
    """Measure every indicator against the spec's targets and write ``reports/``.

    ``validity`` trains the task's baseline (or scores ``predictions``, the user's model
    output for detection and transcription) on the release's splits; False skips it.

    ``engine`` is ``local`` or ``spark`` (default: ``DATAKIT_ENGINE``, then the spec)."""
    from datakit.engine import require_pyspark, resolve_engine
    from datakit.check.expectations import BATCH_ROWS, load_suites
    from datakit.tables import read_manifest

    def phase(name: str) -> None:
        if on_phase is not None:
            on_phase(name)

    spec = project.spec
    engine_name = resolve_engine(engine, spec)
    if engine_name == "spark":
        require_pyspark()  # before any work: the install hint, not a traceback
    q = spec.targets.quality
    paths = project.paths
    project.require(paths.manifest, produced_by="datakit collect")
    schema = _label_schema(project)
    manifest = read_manifest(paths.manifest)
    facet_fields = _facet_fields(project)

    files_dir = label_files or default_label_files_dir(project)
    files = (
        sorted(p for p in files_dir.rglob("*.json") if p.is_file()) if files_dir.is_dir() else []
    )
    inputs = report_inputs(project, files_dir if files else None, len(files))

    # -- syntactic census, pairing, completeness and diversity figures --------------------------
    if engine_name == "spark":
        m = _measure_spark(project, schema, facet_fields, files, progress, phase)
    else:
        m = _measure_local(project, schema, manifest, facet_fields, files, workers, progress, phase)
    census = m.census

    results: dict[str, ind.Indicator] = {}
    results["syntactic"] = ind.syntactic(census, q.syntactic)
    phase("형식성")
    results["format"] = ind.format_fitness(manifest, spec, q.format)
    results["completeness"] = ind.completeness(
        m.delivered,
        m.per_class,
        target_total=spec.targets.total,
        target_per_class=spec.targets.per_class,
        target=q.completeness,
    )
    results["diversity"] = ind.diversity(m.composition, spec.targets.composition, q.diversity)

    # -- semantic accuracy (sampling inspection) -----------------------------------------------
    from datakit.check.inspection import sample_verdicts

    plan, verdicts = sample_verdicts(project)
    sample_info = (
        {}
        if plan is None
        else {
            "method": plan.method,
            "lot_size": plan.lot_size,
            "size": plan.size,
            "seed": plan.seed,
            "created_at": plan.created_at,
        }
    )
    results["semantic"] = ind.semantic(
        verdicts,
        q.semantic,
        confidence=confidence,
        gate=semantic_gate,
        sample_info=sample_info,
        task_metric=_task_metric(project),
    )

    # -- agreement --------------------------------------------------------------------------
    results["agreement"] = ind.agreement(read_agreement(project), q.agreement)

    # -- validity (유효성): a baseline on the release's splits --------------------------------
    results["validity"] = _validity(project, validity, predictions, write, phase)

    # -- expectation suites -------------------------------------------------------------------
    phase("Great Expectations")
    suites = load_suites(paths.expectations, rel=paths.rel)
    if engine_name == "spark":
        from datakit.engine import spark_session
        from datakit.check.spark_expectations import expectations as spark_expectations

        outcomes = spark_expectations(
            spark_session(spec, app_name="datakit check"),
            project,
            suites,
            labels=str(paths.labels) if m.jsonl_records else None,
            progress=progress,
        )
    else:
        outcomes = _expectations_local(
            project, suites, manifest, m.jsonl_records, batch_rows or BATCH_ROWS, progress
        )
    results["expectations"] = ind.expectations(outcomes)

    indicators: dict[str, ind.Indicator] = {name: results[name] for name in ind.INDICATORS}
    labelled = m.delivered
    target_total = spec.targets.total
    report = QualityReport(
        passed=ind.gate(indicators.values()),
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        spec_sha256=project.spec_hash,
        inputs=inputs,
        checkpoint={
            "name": checkpoint,
            "labelled": labelled,
            "target_total": target_total,
            "share": (labelled / target_total) if target_total else None,
        },
        indicators=indicators,
        errors=census.errors,
        expectations=outcomes,
        engine=engine_name,
        dataset=dataset_facts(spec),
    )
    if write:
        from datakit.check.report import write_reports

        phase("reports")
        write_reports(project, report)
        if engine_name == "local" and inputs["labels_sha256"]:
            # The records parsed into the release's label table, for `datakit package`.
            from datakit.package.snapshot import write_snapshot

            write_snapshot(project, inputs["labels_sha256"])
        project.record_stage(
            "check",
            {
                "passed": report.passed,
                "failed": report.failed_indicators,
                "checkpoint": report.checkpoint,
                "engine": engine_name,
                "indicators": {
                    n: {"value": i.value, "target": i.target, "passed": i.passed}
                    for n, i in indicators.items()
                },
            },
        )
    return report


def _validity(
    project: Project,
    enabled: bool,
    predictions: Path | None,
    write: bool,
    phase: PhaseCallback,
) -> ind.Indicator:
    from datakit.check.validity import measure_validity

    if not enabled:
        _, target = project.spec.validity_target
        return ind.not_measured("validity", target, "skipped (--no-validity)")
    phase("유효성")
    return measure_validity(project, predictions=predictions, write=write).to_indicator()


def report_inputs(
    project: Project, label_files: Path | None = None, label_files_count: int = 0
) -> dict[str, Any]:
    """``inputs`` of quality.json: the files checked and their sha256 now."""
    paths = project.paths
    return {
        "manifest": paths.rel(paths.manifest),
        "manifest_sha256": sha256_file(paths.manifest),
        "labels": paths.rel(paths.labels),
        "labels_sha256": sha256_file(paths.labels) if paths.labels.is_file() else None,
        "label_files": None if label_files is None else paths.rel(label_files),
        "label_files_count": label_files_count,
    }


def dataset_facts(spec: Any) -> dict[str, Any]:
    """``dataset`` of quality.json: which dataset and version the check was about."""
    return {
        "id": spec.dataset.id,
        "name_ko": spec.dataset.name_ko,
        "name_en": spec.dataset.name_en,
        "version": spec.dataset.version,
        "task": spec.task.type,
    }


def read_agreement(project: Project) -> AgreementReport | None:
    """``annotations/agreement.json`` as the annotate stage wrote it, or None without one."""
    path = project.paths.annotations / AGREEMENT_FILE
    if not path.is_file():
        return None
    return AgreementReport.read(path, file=project.paths.rel(path))


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


FACET_CHARS = 200


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


def _measure_local(
    project: Project,
    schema: dict[str, Any],
    manifest: Any,
    facet_fields: list[str],
    files: list[Path],
    workers: int | None,
    progress: Progress | None,
    phase: PhaseCallback,
) -> Measures:
    paths = project.paths
    mrows = manifest.select(["id", "status", "source_path"]).to_pydict()
    statuses = dict(zip(mrows["id"], mrows["status"], strict=True))
    file_names = None
    if "file_name" in facet_fields:
        file_names = {
            i: source_file_name(p) for i, p in zip(mrows["id"], mrows["source_path"], strict=True)
        }
    fn_facet = facet_fields.index("file_name") if "file_name" in facet_fields else None
    census = CensusResult()
    jsonl_records = 0
    if paths.labels.is_file():
        phase("구문 정확성: labels.jsonl")
        part = census_jsonl(
            paths.labels,
            schema,
            file=paths.rel(paths.labels),
            facet_fields=facet_fields,
            workers=workers,
            progress=progress,
        )
        pair_with_manifest(part, statuses, file_names=file_names, file_name_facet=fn_facet)
        jsonl_records = part.records
        census.merge(part)
    if files:
        phase("구문 정확성: per-item label files")
        part = census_files(
            files,
            schema,
            names=[paths.rel(f) for f in files],
            facet_fields=facet_fields,
            workers=workers,
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


def _measure_spark(
    project: Project,
    schema: dict[str, Any],
    facet_fields: list[str],
    files: list[Path],
    progress: Progress | None,
    phase: PhaseCallback,
) -> Measures:
    from datakit.engine import spark_session
    from datakit.check import spark as on_spark

    paths = project.paths
    phase("Spark: 구문 정확성 · 완전성 · 다양성")
    session = spark_session(project.spec, app_name="datakit check")
    m = on_spark.measure(
        session,
        project,
        schema=schema,
        facet_fields=facet_fields,
        labels=(str(paths.labels), paths.rel(paths.labels)) if paths.labels.is_file() else None,
        files=([str(f) for f in files], [paths.rel(f) for f in files]) if files else None,
        progress=progress,
    )
    return Measures(m.census, m.jsonl_records, m.delivered, m.per_class, m.composition)


def _expectations_local(
    project: Project,
    suites: list[Any],
    manifest: Any,
    jsonl_records: int,
    rows: int,
    progress: Progress | None,
) -> list[dict[str, Any]]:
    from datakit.check.expectations import (
        labels_batches,
        manifest_batches,
        validate_batches,
        value_cap,
    )

    paths = project.paths
    outcomes: list[dict[str, Any]] = []
    for table in ("manifest", "labels"):
        chosen = [s for s in suites if s.table == table]
        if not chosen:
            continue
        if table == "manifest":
            opener = manifest_batches(paths.manifest, rows)
            total = manifest.num_rows
        else:
            if jsonl_records == 0:
                continue  # no label table yet: the suites have nothing to say
            opener = labels_batches(
                paths.labels, project.spec.field_names, rows, value_cap=value_cap(chosen)
            )
            total = jsonl_records
        outs = validate_batches(opener, chosen, total_rows=total, progress=progress)
        outcomes.extend(o.to_dict() for o in outs)
    return outcomes


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
        n = manifest.num_rows
        for r in range(n):
            row = {c: cols[c][r] for c in wanted}
            if population is not None:
                if row["id"] not in population:
                    continue
            elif row["status"] != "ok":
                continue
            for a in from_manifest:
                counts[a][ind.attribute_value(row, a, spec.splits.group)] += 1
    return {a: dict(c) for a, c in counts.items()}


def _task_metric(project: Project) -> dict[str, Any] | None:
    """Per-item agreement of double-annotated items (IoU, span F1, 1−CER, majority share)
    from ``annotations/consensus.parquet``, when the annotate stage wrote it."""
    path = project.paths.annotations / "consensus.parquet"
    if not path.is_file():
        return None
    import pyarrow.compute as pc

    from datakit.tables import CONSENSUS_SCHEMA, read_table

    table = read_table(path, CONSENSUS_SCHEMA)
    crossed = table.filter(pc.greater_equal(table.column("n_annotators"), 2))
    values = [v for v in crossed.column("agreement").to_pylist() if v is not None]
    if not values:
        return None
    threshold = project.spec.annotation.review_below
    report = read_agreement(project)
    return {
        "metric": None if report is None else report.metric,
        "items": len(values),
        "mean": sum(values) / len(values),
        "at_or_above_review_threshold": sum(v >= threshold for v in values) / len(values),
        "review_threshold": threshold,
        "needs_review": int(pc.sum(table.column("needs_review")).as_py() or 0),
    }
