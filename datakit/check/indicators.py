"""The AI Hub quality indicators as pure functions: figures in, :class:`Indicator` out.

Every function takes plain counts or an Arrow table and the target from the spec, and
returns an :class:`Indicator` — value, target, passed (``None`` when not measured) and
the details the reports show. No IO here: ``run.py`` gathers the inputs.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from datakit.check.census import ERROR_CLASSES, CensusResult
from datakit.io import stored_encoding
from datakit.labels import label_classes
from datakit.reports import (
    INDICATORS,
    TITLES_KO,
    AgreementFigures,
    AgreementReport,
    Indicator,
    IndicatorName,
)

MISSING_VALUE = "(없음)"


def not_measured(name: IndicatorName, target: float | None, note: str) -> Indicator:
    return Indicator(name, None, target, None, note=note)


def _meets(value: float, target: float) -> bool:
    # Rates are ratios of integers; compare with a little slack for float noise.
    return value + 1e-12 >= target


# -- syntactic ------------------------------------------------------------------------------


def syntactic(census: CensusResult, target: float) -> Indicator:
    """Valid records / all records (schema and pairing), with error counts per class."""
    if census.records == 0:
        return not_measured("syntactic", target, "no label records yet")
    rate = census.valid / census.records
    return Indicator(
        "syntactic",
        rate,
        target,
        _meets(rate, target),
        details={
            "records": census.records,
            "valid": census.valid,
            "invalid": census.records - census.valid,
            "errors": census.counts(),
            "validator_disagreements": census.disagreements,
        },
    )


# -- format / technical fitness ----------------------------------------------------------------


def format_fitness(manifest: Any, spec: Any, target: float) -> Indicator:
    """Share of collected items (duplicates aside) that are fit: not quarantined, and
    within the spec's data requirements (formats, text length, encoding, image size and
    mode, audio sample rate, channels and duration) as recorded in the manifest."""
    import pyarrow.compute as pc

    status = manifest.column("status")
    considered_mask = pc.not_equal(status, "duplicate")
    considered = int(pc.sum(considered_mask).as_py() or 0)
    if considered == 0:
        return not_measured("format", target, "no collected items yet")
    ok_rows = manifest.filter(pc.equal(status, "ok"))
    reasons: Counter[str] = Counter()
    quarantined = manifest.filter(pc.equal(status, "quarantined"))
    for r in quarantined.column("reason").to_pylist():
        reasons[_reason_code(r)] += 1
    unfit = [False] * ok_rows.num_rows
    for code, mask in _requirement_failures(ok_rows, spec):
        for i, bad in enumerate(mask):
            if bad:
                if not unfit[i]:
                    reasons[code] += 1
                unfit[i] = True
    failures = quarantined.num_rows + sum(unfit)
    value = 1 - failures / considered
    return Indicator(
        "format",
        value,
        target,
        _meets(value, target),
        details={
            "items": considered,
            "fit": considered - failures,
            "quarantined": quarantined.num_rows,
            "ok_but_unfit": sum(unfit),
            "reasons": dict(reasons.most_common()),
        },
    )


def _reason_code(reason: str | None) -> str:
    if not reason:
        return "quarantined"
    return reason.split(":", 1)[0].strip() or "quarantined"


def _requirement_failures(table: Any, spec: Any) -> Iterable[tuple[str, list[bool]]]:
    """(reason code, per-row flag) for each data requirement an ``ok`` row breaks."""
    data = spec.data

    def col(name: str) -> list[Any]:
        values: list[Any] = table.column(name).to_pylist()
        return values

    def outside(values: list[Any], lo: float | None, hi: float | None) -> list[bool]:
        return [
            v is None or (lo is not None and v < lo) or (hi is not None and v > hi) for v in values
        ]

    if data.formats:
        allowed = {f.lower().lstrip(".") for f in data.formats}
        exts = [_extension(p) for p in col("source_path")]
        yield "format.extension", [e not in allowed for e in exts]
    if data.type in ("text", "tabular"):
        t = data.text
        if t.min_length is not None or t.max_length is not None:
            yield "text.length", outside(col("text_length"), t.min_length, t.max_length)
        want = _norm_encoding(t.encoding)
        yield (
            "text.encoding",
            [e is not None and _norm_encoding(e) not in (want, "ascii") for e in col("encoding")],
        )
    if data.type == "image":
        im = data.image
        if im.min_width is not None or im.max_width is not None:
            yield "image.width", outside(col("width"), im.min_width, im.max_width)
        if im.min_height is not None or im.max_height is not None:
            yield "image.height", outside(col("height"), im.min_height, im.max_height)
        if im.modes:
            yield "image.mode", [m not in im.modes for m in col("mode")]
    if data.type in ("audio", "video"):
        au = data.audio
        if au.sample_rates:
            yield "audio.sample_rate", [r not in au.sample_rates for r in col("sample_rate")]
        if au.channels:
            yield "audio.channels", [c not in au.channels for c in col("channels")]
        if au.min_duration is not None or au.max_duration is not None:
            yield "audio.duration", outside(col("duration"), au.min_duration, au.max_duration)


def _extension(path: str) -> str:
    base = path.split("#", 1)[0].rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[-1].lower() if "." in base else ""


def _norm_encoding(name: str) -> str:
    return stored_encoding(name)


# -- completeness ---------------------------------------------------------------------------


def classes_of(value: Any) -> set[str]:
    """The classes a label value holds: a class, a list of classes, or spans/boxes."""
    return set(label_classes(value))


def completeness(
    delivered: int,
    per_class: Mapping[str, int],
    *,
    target_total: int | None,
    target_per_class: Mapping[str, int],
    target: float,
) -> Indicator:
    """성과 목표 / 제출 수량 / 달성율, overall and per class. The value is the lowest
    achievement rate (each capped at 100%); it passes when that reaches the target."""
    rows: list[dict[str, Any]] = []
    if target_total:
        rows.append(_achievement("전체", target_total, delivered))
    for name, goal in target_per_class.items():
        rows.append(_achievement(name, goal, per_class.get(name, 0)))
    if not rows:
        return not_measured("completeness", target, "the spec sets no volume targets")
    value = min(r["rate_capped"] for r in rows)
    return Indicator(
        "completeness",
        value,
        target,
        _meets(value, target),
        details={"rows": rows, "delivered": delivered},
    )


def _achievement(name: str, goal: int, got: int) -> dict[str, Any]:
    rate = got / goal if goal else 1.0
    return {
        "name": name,
        "target": goal,
        "delivered": got,
        "rate": rate,
        "rate_capped": min(rate, 1.0),
    }


# -- diversity ------------------------------------------------------------------------------


def diversity(
    actual: Mapping[str, Mapping[str, int]],
    composition: Mapping[str, Mapping[str, float]],
    target: float,
    *,
    shortfalls: int = 3,
) -> Indicator:
    """Per declared attribute: planned vs actual shares, overlap Σ min(planned, actual),
    and the largest shortfalls (planned − actual). The value is the lowest overlap."""
    if not composition:
        return not_measured("diversity", target, "the spec plans no composition")
    attrs: list[dict[str, Any]] = []
    for attr, planned in composition.items():
        counts = actual.get(attr, {})
        total = sum(counts.values())
        shares = {k: (v / total if total else 0.0) for k, v in counts.items()}
        keys = list(planned) + [k for k in counts if k not in planned]
        overlap = sum(min(planned.get(k, 0.0), shares.get(k, 0.0)) for k in keys)
        gaps = sorted(
            ((planned[k] - shares.get(k, 0.0), k) for k in planned),
            key=lambda gk: -gk[0],
        )
        short = [
            {"value": k, "planned": planned[k], "actual": shares.get(k, 0.0), "gap": gap}
            for gap, k in gaps
            if gap > 1e-12
        ][:shortfalls]
        attrs.append(
            {
                "attribute": attr,
                "items": total,
                "overlap": overlap,
                "rows": [
                    {
                        "value": k,
                        "planned": planned.get(k, 0.0),
                        "actual": shares.get(k, 0.0),
                        "count": counts.get(k, 0),
                    }
                    for k in keys
                ],
                "shortfalls": short,
            }
        )
    if all(a["items"] == 0 for a in attrs):
        return not_measured("diversity", target, "no labelled items yet")
    value = min(a["overlap"] for a in attrs)
    return Indicator(
        "diversity", value, target, _meets(value, target), details={"attributes": attrs}
    )


def attribute_value(row: Mapping[str, Any], name: str, group_key: str | None) -> str:
    """An item's value of a declared attribute from its manifest row: a column of that
    name, else the ``attributes`` JSON, else the ``group`` column for the group key."""
    value = row.get(name)
    if value is None:
        attrs = row.get("attributes")
        if isinstance(attrs, str) and attrs:
            try:
                value = json.loads(attrs).get(name)
            except (ValueError, AttributeError):
                value = None
    if value is None and name == group_key:
        value = row.get("group")
    return MISSING_VALUE if value is None else str(value)


# -- semantic -------------------------------------------------------------------------------


def semantic(
    verdicts: Mapping[str, bool | None],
    target: float,
    *,
    confidence: float = 0.95,
    gate: Literal["rate", "bound"] = "rate",
    sample_info: Mapping[str, Any] | None = None,
    task_metric: Mapping[str, Any] | None = None,
) -> Indicator:
    """Pass rate of the inspected sample with its exact Clopper–Pearson bounds.

    ``verdicts`` maps each sampled item to PASS (True), FAIL (False) or not yet inspected
    (None). The indicator passes when every sampled item is inspected and the pass rate
    (``gate="rate"``, the AI Hub practice) or its one-sided lower bound (``gate="bound"``)
    reaches the target.
    """
    from datakit.check.sampling import clopper_pearson, clopper_pearson_lower

    details: dict[str, Any] = {"sample": dict(sample_info or {})}
    if task_metric:
        details["task_metric"] = dict(task_metric)
    inspected = [v for v in verdicts.values() if v is not None]
    n = len(inspected)
    if n == 0:
        ind = not_measured(
            "semantic",
            target,
            "no verdicts yet: `datakit check sample`, then `check verdicts`",
        )
        ind.details = details
        return ind
    k = sum(inspected)
    rate = k / n
    interval = clopper_pearson(k, n, confidence=confidence)
    lower = clopper_pearson_lower(k, n, confidence=confidence)
    pending = len(verdicts) - n
    details.update(
        {
            "inspected": n,
            "passed_items": k,
            "failed_items": n - k,
            "pending": pending,
            "confidence": confidence,
            "interval": [interval.lower, interval.upper],
            "lower_bound": lower,
            "bound_clears_target": _meets(lower, target),
            "gate": gate,
        }
    )
    measure = rate if gate == "rate" else lower
    passed = _meets(measure, target) and pending == 0
    note = f"{pending} sampled items not inspected yet" if pending else None
    return Indicator("semantic", rate, target, passed, details=details, note=note)


# -- agreement ------------------------------------------------------------------------------


def agreement(report: AgreementReport | None, target: float) -> Indicator:
    """The annotate stage's headline agreement (``annotations/agreement.json``) against the
    target. The details (:class:`~datakit.reports.AgreementFigures`) say which metric, why,
    on how many items, its bootstrap interval and what reviewers settled."""
    if report is None:
        return not_measured("agreement", target, "no agreement.json (imported or single labels)")
    figures = AgreementFigures.from_report(report)
    if report.value is None:
        ind = not_measured("agreement", target, "no cross-checked items yet")
        ind.details = figures.to_dict()
        return ind
    return Indicator(
        "agreement",
        report.value,
        target,
        _meets(report.value, target),
        details=figures.to_dict(),
    )


# -- expectations ---------------------------------------------------------------------------


def expectations(outcomes: list[dict[str, Any]]) -> Indicator:
    """Share of expectations met across all suites; the target is all of them."""
    if not outcomes:
        return not_measured("expectations", 1.0, "no expectation suites in expectations/")
    met = sum(1 for o in outcomes if o["success"])
    value = met / len(outcomes)
    suites = sorted({o["suite"] for o in outcomes})
    return Indicator(
        "expectations",
        value,
        1.0,
        met == len(outcomes),
        details={"expectations": len(outcomes), "met": met, "suites": suites},
    )


def gate(indicators: Iterable[Indicator]) -> bool:
    """The check passes when every measured indicator passes (at least one measured)."""
    measured = [i for i in indicators if i.passed is not None]
    return bool(measured) and all(i.passed for i in measured)


__all__ = [
    "ERROR_CLASSES",
    "INDICATORS",
    "TITLES_KO",
    "Indicator",
    "agreement",
    "attribute_value",
    "classes_of",
    "completeness",
    "diversity",
    "expectations",
    "format_fitness",
    "gate",
    "not_measured",
    "semantic",
    "syntactic",
]
