"""``datakit check``: measure every indicator, write the reports, decide the gate.

:func:`check` gathers the inputs (manifest, labels, per-item label files, inspection
verdicts, agreement figures, expectation suites), has the engine it chose
(``engine.CheckEngine``: ``local.LocalCheckEngine`` or ``spark.SparkCheckEngine``) measure
the census and run the suites, computes the indicators with the pure functions in
``indicators``, and writes ``reports/`` through ``report``. The result is a
:class:`QualityReport`; the CLI turns ``passed`` into the exit code. Nothing here raises for
bad *data* — only for a project that cannot be checked at all (no manifest, no label
schema).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from datakit.check import indicators as ind
from datakit.check.engine import CheckEngine, CheckInputs, PhaseCallback, Progress, run_suites
from datakit.errors import ArtefactError, DatakitError, storage_error
from datakit.io import read_json, sha256_file
from datakit.project import Project
from datakit.reports import AGREEMENT_FILE, AgreementReport, QualityReport

__all__ = ["QualityReport", "check", "check_engine", "dataset_facts", "report_inputs"]


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


def check_engine(
    name: str, *, workers: int | None = None, batch_rows: int | None = None
) -> CheckEngine:
    """The check engine called ``name`` (``local`` or ``spark``, as ``engine.resolve_engine``
    gives it); Spark's modules are imported, and pyspark required, only when it is chosen.
    ``workers`` and ``batch_rows`` tune the local engine (Spark takes its own settings)."""
    if name == "spark":
        from datakit.check.spark import SparkCheckEngine

        return SparkCheckEngine()
    from datakit.check.local import LocalCheckEngine

    return LocalCheckEngine(workers=workers, batch_rows=batch_rows)


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
    from datakit.check.expectations import load_suites
    from datakit.engine import resolve_engine
    from datakit.tables import read_manifest

    def phase(name: str) -> None:
        if on_phase is not None:
            on_phase(name)

    spec = project.spec
    chosen = check_engine(resolve_engine(engine, spec), workers=workers, batch_rows=batch_rows)
    q = spec.targets.quality
    paths = project.paths
    project.require(paths.manifest, produced_by="datakit collect")
    schema = _label_schema(project)
    manifest = read_manifest(paths.manifest)

    files_dir = label_files or default_label_files_dir(project)
    files = (
        sorted(p for p in files_dir.rglob("*.json") if p.is_file()) if files_dir.is_dir() else []
    )
    inputs = report_inputs(project, files_dir if files else None, len(files))
    measured = CheckInputs(project, schema, manifest, _facet_fields(project), files)

    # -- syntactic census, pairing, completeness and diversity figures --------------------------
    m = chosen.measure(measured, progress, phase)
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
    outcomes = run_suites(chosen, measured, suites, m.jsonl_records, progress)
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
        engine=chosen.name,
        dataset=dataset_facts(spec),
    )
    if write:
        from datakit.check.report import write_reports

        phase("reports")
        write_reports(project, report)
        if inputs["labels_sha256"]:
            chosen.keep_label_table(project, inputs["labels_sha256"])
        project.record_stage(
            "check",
            {
                "passed": report.passed,
                "failed": report.failed_indicators,
                "checkpoint": report.checkpoint,
                "engine": chosen.name,
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
