"""The JSON reports that pass between stages, each written and read back by one typed object.

* ``annotations/agreement.json`` — :class:`AgreementReport` (annotate → check, status);
* ``reports/quality.json`` — :class:`QualityReport` (check → package, status), documented
  in ``specs/quality-report.schema.json``.

A later stage never reads these files as loose dicts: ``from_dict`` is the one parser, and
a missing or mistyped key is an :class:`~datakit.errors.ArtefactError` that names the file
and the key and says which command writes the file again — never a silent ``None`` that
ends up in a release. Like ``tables.py`` for the Parquet tables, this is a core module:
stages meet here, not in each other's code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast, get_args

from datakit.errors import ArtefactError

QUALITY_REPORT_VERSION = 1
AGREEMENT_REPORT_VERSION = 2
QUALITY_FILE = "quality.json"  # under reports/
AGREEMENT_FILE = "agreement.json"  # under annotations/
ERROR_KINDS = ("형식", "구조", "파일")

IndicatorName = Literal[
    "syntactic",
    "format",
    "semantic",
    "completeness",
    "diversity",
    "agreement",
    "expectations",
    "validity",
]
INDICATORS: tuple[IndicatorName, ...] = get_args(IndicatorName)
TITLES_KO: dict[str, str] = {
    "syntactic": "구문 정확성",
    "format": "형식성 (기술 적합성)",
    "semantic": "의미 정확성",
    "completeness": "완전성 (충분성)",
    "diversity": "다양성 (통계)",
    "agreement": "작업자 간 일치도",
    "expectations": "기대 규칙 (Great Expectations)",
    "validity": "유효성",
}


# -- reading helpers -----------------------------------------------------------------------

_NUMBER = (int, float)
_KIND_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    dict: "an object",
    list: "an array",
    type(None): "null",
}


@dataclass(frozen=True)
class _Source:
    """Where a payload came from, for error messages: the file and the command that writes it."""

    file: str
    writer: str

    def error(self, key: str, problem: str) -> ArtefactError:
        return ArtefactError(
            f"{self.file}: {key} {problem}",
            hint=f"the file was written by another datakit version or edited by hand; "
            f"run `{self.writer}` to write it again",
        )

    def take(self, data: Any, key: str, *kinds: type, at: str = "") -> Any:
        """``data[key]``, which must be one of ``kinds`` (bool is never a number here)."""
        where = f"{at}.{key}" if at else key
        if not isinstance(data, Mapping):
            raise self.error(at or "(top level)", "should be an object")
        if key not in data:
            raise self.error(where, "is missing")
        value = data[key]
        ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        if not ok:
            wanted = " or ".join(dict.fromkeys(_KIND_NAMES.get(k, k.__name__) for k in kinds))
            raise self.error(where, f"should be {wanted}, not {type(value).__name__}")
        return value

    def number(self, data: Any, key: str, *, at: str = "", null: bool = False) -> float | None:
        kinds: tuple[type, ...] = (*_NUMBER, type(None)) if null else _NUMBER
        value = self.take(data, key, *kinds, at=at)
        return None if value is None else float(value)


# -- quality indicators ----------------------------------------------------------------------


@dataclass
class Indicator:
    name: IndicatorName
    value: float | None
    target: float | None
    passed: bool | None  # None: not measured (no input for it yet)
    details: dict[str, Any] = field(default_factory=dict)
    note: str | None = None

    @property
    def status(self) -> Literal["passed", "failed", "not_measured"]:
        if self.passed is None:
            return "not_measured"
        return "passed" if self.passed else "failed"

    @property
    def title(self) -> str:
        return TITLES_KO.get(self.name, self.name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "value": self.value,
            "target": self.target,
            "passed": self.passed,
            "status": self.status,
            "note": self.note,
            "details": self.details,
        }

    @classmethod
    def from_dict(cls, name: str, data: Any, source: _Source) -> Indicator:
        at = f"indicators.{name}"
        return cls(
            name=cast(IndicatorName, name),
            value=source.number(data, "value", at=at, null=True),
            target=source.number(data, "target", at=at, null=True),
            passed=source.take(data, "passed", bool, type(None), at=at),
            details=dict(source.take(data, "details", dict, at=at)),
            note=source.take(data, "note", str, type(None), at=at),
        )


# -- reports/quality.json --------------------------------------------------------------------


@dataclass
class QualityReport:
    """One check run: the indicators, the gate and where the reports were written.

    ``errors`` holds the error rows of the run that made the report (they go to the CSV error
    lists, not into quality.json); a report read back from the file has only
    ``error_counts``."""

    passed: bool
    generated_at: str
    spec_sha256: str
    inputs: dict[str, Any]
    checkpoint: dict[str, Any]
    indicators: dict[str, Indicator]
    errors: list[Any] = field(default_factory=list)
    expectations: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    dataset: dict[str, Any] = field(default_factory=dict)
    engine: str = "local"
    error_counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.error_counts:
            counts = dict.fromkeys(ERROR_KINDS, 0)
            for e in self.errors:
                counts[e.kind] += 1
            self.error_counts = counts

    @property
    def failed_indicators(self) -> list[str]:
        return [n for n, i in self.indicators.items() if i.passed is False]

    def agreement_figures(self) -> AgreementFigures | None:
        """The agreement indicator's figures, or None when the check had no agreement.json."""
        ind = self.indicators.get("agreement")
        if ind is None or not ind.details:
            return None
        src = _Source(f"reports/{QUALITY_FILE}", "datakit check")
        return AgreementFigures.from_dict(ind.details, src, "indicators.agreement.details")

    def to_dict(self) -> dict[str, Any]:
        """The content of ``reports/quality.json`` (specs/quality-report.schema.json)."""
        return {
            "report_version": QUALITY_REPORT_VERSION,
            "passed": self.passed,
            "generated_at": self.generated_at,
            "spec_sha256": self.spec_sha256,
            "dataset": self.dataset,
            "inputs": self.inputs,
            "checkpoint": self.checkpoint,
            "indicators": {n: i.to_dict() for n, i in self.indicators.items()},
            "failed": self.failed_indicators,
            "errors": {
                "counts": dict(self.error_counts),
                "total": sum(self.error_counts.values()),
            },
            "expectations": self.expectations,
            "files": self.files,
            "engine": self.engine,
        }

    @classmethod
    def from_dict(cls, data: Any, *, file: str = f"reports/{QUALITY_FILE}") -> QualityReport:
        src = _Source(file, "datakit check")
        version = src.take(data, "report_version", int)
        if version != QUALITY_REPORT_VERSION:
            raise src.error(
                "report_version", f"is {version}; this datakit reads {QUALITY_REPORT_VERSION}"
            )
        counts = src.take(src.take(data, "errors", dict), "counts", dict, at="errors")
        indicators = src.take(data, "indicators", dict)
        # the keys the schema requires of these objects, so readers may index them
        for at, keys in _QUALITY_OBJECTS.items():
            part = src.take(data, at, dict)
            for key, kinds in keys.items():
                src.take(part, key, *kinds, at=at)
        return cls(
            passed=src.take(data, "passed", bool),
            generated_at=src.take(data, "generated_at", str),
            spec_sha256=src.take(data, "spec_sha256", str),
            inputs=dict(src.take(data, "inputs", dict)),
            checkpoint=dict(src.take(data, "checkpoint", dict)),
            indicators={n: Indicator.from_dict(n, v, src) for n, v in indicators.items()},
            expectations=list(src.take(data, "expectations", list)),
            files=dict(src.take(data, "files", dict)),
            dataset=dict(src.take(data, "dataset", dict)),
            engine=str(data.get("engine", "local")),  # optional key (older reports: local)
            error_counts={
                k: int(src.take(counts, k, int, at="errors.counts")) for k in ERROR_KINDS
            },
        )

    @classmethod
    def read(cls, path: Path, *, file: str | None = None) -> QualityReport:
        """Read ``reports/quality.json``; an unreadable file is an ArtefactError."""
        return cls.from_dict(_read(path, file, "datakit check"), file=file or str(path))


_STR, _OPT_STR, _INT = (str,), (str, type(None)), (int,)
_QUALITY_OBJECTS: dict[str, dict[str, tuple[type, ...]]] = {
    "dataset": dict.fromkeys(("id", "name_ko", "name_en", "version", "task"), _STR),
    "checkpoint": {
        "name": _OPT_STR,
        "labelled": _INT,
        "target_total": (int, type(None)),
        "share": (int, float, type(None)),
    },
    "inputs": {
        "manifest": _STR,
        "manifest_sha256": _STR,
        "labels": _STR,
        "labels_sha256": _OPT_STR,
        "label_files": _OPT_STR,
        "label_files_count": _INT,
    },
}


# -- annotations/agreement.json --------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """A bootstrap confidence interval of the headline agreement, resampled over items."""

    low: float | None
    high: float | None
    level: float  # 0.95
    resamples: int
    seed: int
    undefined: int = 0  # resamples in which the figure was undefined (left out)
    method: str = "percentile bootstrap over cross-checked items"

    def to_dict(self) -> dict[str, Any]:
        return {
            "low": self.low,
            "high": self.high,
            "level": self.level,
            "resamples": self.resamples,
            "seed": self.seed,
            "undefined": self.undefined,
            "method": self.method,
        }

    @classmethod
    def from_dict(cls, data: Any, src: _Source, at: str = "interval") -> Interval:
        return cls(
            low=src.number(data, "low", at=at, null=True),
            high=src.number(data, "high", at=at, null=True),
            level=float(src.number(data, "level", at=at) or 0.0),
            resamples=src.take(data, "resamples", int, at=at),
            seed=src.take(data, "seed", int, at=at),
            undefined=src.take(data, "undefined", int, at=at),
            method=src.take(data, "method", str, at=at),
        )

    def text(self, digits: int = 3) -> str:
        """``[0.652, 0.781]`` (or ``—`` when undefined)."""
        if self.low is None or self.high is None:
            return "—"
        return f"[{self.low:.{digits}f}, {self.high:.{digits}f}]"


@dataclass
class Adjudication:
    """What the reviewers settled, kept apart from the annotators' agreement.

    ``overturned`` counts settled items whose label differs from the one the annotators'
    own consensus proposed (their majority; for boxes and transcripts the best annotator's
    label); items where the annotators tied had no such label. ``per_annotator`` is each
    annotator's agreement with the settled label (``measure``), on the settled items they
    labelled."""

    n_items: int = 0
    sources: dict[str, int] = field(default_factory=dict)  # review_project | ground_truth
    reviewers: list[str] = field(default_factory=list)
    n_items_with_majority: int = 0
    overturned: int = 0
    measure: str = "exact match"
    per_annotator: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def overturn_rate(self) -> float | None:
        if not self.n_items_with_majority:
            return None
        return self.overturned / self.n_items_with_majority

    def to_dict(self) -> dict[str, Any]:
        rate = self.overturn_rate
        return {
            "n_items": self.n_items,
            "sources": dict(sorted(self.sources.items())),
            "reviewers": sorted(self.reviewers),
            "n_items_with_majority": self.n_items_with_majority,
            "overturned": self.overturned,
            "overturn_rate": None if rate is None else round(rate, 6),
            "measure": self.measure,
            "per_annotator": dict(sorted(self.per_annotator.items())),
        }

    @classmethod
    def from_dict(cls, data: Any, src: _Source, at: str = "adjudication") -> Adjudication:
        return cls(
            n_items=src.take(data, "n_items", int, at=at),
            sources=dict(src.take(data, "sources", dict, at=at)),
            reviewers=list(src.take(data, "reviewers", list, at=at)),
            n_items_with_majority=src.take(data, "n_items_with_majority", int, at=at),
            overturned=src.take(data, "overturned", int, at=at),
            measure=src.take(data, "measure", str, at=at),
            per_annotator=dict(src.take(data, "per_annotator", dict, at=at)),
        )


@dataclass
class AgreementReport:
    """Inter-annotator agreement of the project (``annotations/agreement.json``).

    The headline (``metric``, ``value``, ``interval``) rests on every cross-checked item
    (two or more annotators), never on a subset picked by rater count; ``metric_reason``
    says why that metric was used. Reviewers (review project, ground-truth annotations) are
    not annotators: what they settled is in ``adjudication``."""

    task_type: str
    metric: str
    metric_requested: str
    metric_reason: str
    value: float | None
    interval: Interval | None
    target: float
    n_items: int  # items with at least one annotator's label
    n_items_cross_checked: int  # items the headline rests on
    raters_per_item: dict[str, int]  # "2" → items with two annotators, …
    annotators: list[str]
    fields: dict[str, Any]
    per_annotator: dict[str, dict[str, Any]]
    adjudication: Adjudication = field(default_factory=Adjudication)
    review_below: float = 0.5
    iou_threshold: float | None = None
    needs_review: list[str] = field(default_factory=list)
    methods: dict[str, int] = field(default_factory=dict)

    @property
    def passed(self) -> bool | None:
        return None if self.value is None else self.value + 1e-12 >= self.target

    def to_dict(self) -> dict[str, Any]:
        return {
            "report_version": AGREEMENT_REPORT_VERSION,
            "task_type": self.task_type,
            "metric": self.metric,
            "metric_requested": self.metric_requested,
            "metric_reason": self.metric_reason,
            "value": self.value,
            "interval": None if self.interval is None else self.interval.to_dict(),
            "target": self.target,
            "passed": self.passed,
            "n_items": self.n_items,
            "n_items_cross_checked": self.n_items_cross_checked,
            "raters_per_item": dict(self.raters_per_item),
            "annotators": list(self.annotators),
            "fields": self.fields,
            "per_annotator": dict(sorted(self.per_annotator.items())),
            "adjudication": self.adjudication.to_dict(),
            "review_below": self.review_below,
            "iou_threshold": self.iou_threshold,
            "needs_review": list(self.needs_review),
            "methods": dict(sorted(self.methods.items())),
        }

    @classmethod
    def from_dict(
        cls, data: Any, *, file: str = f"annotations/{AGREEMENT_FILE}"
    ) -> AgreementReport:
        src = _Source(file, "datakit annotate pull")
        version = src.take(data, "report_version", int) if isinstance(data, Mapping) else None
        if version != AGREEMENT_REPORT_VERSION:
            raise src.error(
                "report_version", f"is {version}; this datakit reads {AGREEMENT_REPORT_VERSION}"
            )
        interval = src.take(data, "interval", dict, type(None))
        return cls(
            task_type=src.take(data, "task_type", str),
            metric=src.take(data, "metric", str),
            metric_requested=src.take(data, "metric_requested", str),
            metric_reason=src.take(data, "metric_reason", str),
            value=src.number(data, "value", null=True),
            interval=None if interval is None else Interval.from_dict(interval, src),
            target=float(src.number(data, "target") or 0.0),
            n_items=src.take(data, "n_items", int),
            n_items_cross_checked=src.take(data, "n_items_cross_checked", int),
            raters_per_item=dict(src.take(data, "raters_per_item", dict)),
            annotators=list(src.take(data, "annotators", list)),
            fields=dict(src.take(data, "fields", dict)),
            per_annotator=dict(src.take(data, "per_annotator", dict)),
            adjudication=Adjudication.from_dict(src.take(data, "adjudication", dict), src),
            review_below=float(src.number(data, "review_below") or 0.0),
            iou_threshold=src.number(data, "iou_threshold", null=True),
            needs_review=list(src.take(data, "needs_review", list)),
            methods=dict(src.take(data, "methods", dict)),
        )

    @classmethod
    def read(cls, path: Path, *, file: str | None = None) -> AgreementReport:
        """Read ``annotations/agreement.json``; an unreadable file is an ArtefactError."""
        return cls.from_dict(_read(path, file, "datakit annotate pull"), file=file or str(path))


@dataclass
class AgreementFigures:
    """The headline agreement with what it takes to read it: the agreement indicator's
    ``details`` in quality.json, and ``quality.agreement`` in a release's metadata.json."""

    metric: str
    metric_reason: str
    value: float | None
    n_items: int  # cross-checked items the figure rests on
    interval: Interval | None
    annotators: int
    adjudicated_items: int
    items_with_majority: int  # settled items whose annotators had proposed a label
    overturned: int
    overturn_rate: float | None

    @classmethod
    def from_report(cls, report: AgreementReport) -> AgreementFigures:
        adj = report.adjudication
        return cls(
            metric=report.metric,
            metric_reason=report.metric_reason,
            value=report.value,
            n_items=report.n_items_cross_checked,
            interval=report.interval,
            annotators=len(report.annotators),
            adjudicated_items=adj.n_items,
            items_with_majority=adj.n_items_with_majority,
            overturned=adj.overturned,
            overturn_rate=adj.overturn_rate,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "metric_reason": self.metric_reason,
            "value": self.value,
            "n_items": self.n_items,
            "interval": None if self.interval is None else self.interval.to_dict(),
            "annotators": self.annotators,
            "adjudicated_items": self.adjudicated_items,
            "items_with_majority": self.items_with_majority,
            "overturned": self.overturned,
            "overturn_rate": self.overturn_rate,
        }

    @classmethod
    def from_dict(
        cls, data: Any, src: _Source | None = None, at: str = "quality.agreement"
    ) -> AgreementFigures:
        src = src or _Source("metadata.json", "datakit check` and `datakit package")
        interval = src.take(data, "interval", dict, type(None), at=at)
        return cls(
            metric=src.take(data, "metric", str, at=at),
            metric_reason=src.take(data, "metric_reason", str, at=at),
            value=src.number(data, "value", at=at, null=True),
            n_items=src.take(data, "n_items", int, at=at),
            interval=None
            if interval is None
            else Interval.from_dict(interval, src, f"{at}.interval"),
            annotators=src.take(data, "annotators", int, at=at),
            adjudicated_items=src.take(data, "adjudicated_items", int, at=at),
            items_with_majority=src.take(data, "items_with_majority", int, at=at),
            overturned=src.take(data, "overturned", int, at=at),
            overturn_rate=src.number(data, "overturn_rate", at=at, null=True),
        )

    def text_ko(self) -> str:
        """The figures in one Korean sentence, for the 데이터설명서."""
        name = METRIC_NAMES.get(self.metric, self.metric)
        if self.value is None:
            return f"{name}: 측정 전 (교차 작업 {self.n_items:,}건)"
        parts = [f"{name} {self.value:.3f}"]
        ci = self.interval
        if ci is not None and ci.low is not None:
            parts.append(
                f"{ci.level * 100:.0f}% 신뢰구간 {ci.text()}, 항목 부트스트랩 {ci.resamples:,}회"
            )
        parts.append(f"교차 작업 {self.n_items:,}건, 작업자 {self.annotators}명")
        text = f"{parts[0]} ({'; '.join(parts[1:])}). 지표 선택: {self.metric_reason}."
        if self.adjudicated_items:
            text += f" {self.review_ko()}; 검수자 라벨은 일치도 계산에서 제외했습니다."
        return text

    def review_ko(self) -> str:
        """``검수자 판정 72건, 작업자 다수안이 있던 10건 중 3건 번복 (30.0%)``."""
        text = f"검수자 판정 {self.adjudicated_items:,}건"
        if not self.items_with_majority:
            return f"{text} (모두 작업자 의견이 갈린 항목)"
        rate = "" if self.overturn_rate is None else f" ({self.overturn_rate * 100:.1f}%)"
        return (
            f"{text}, 작업자 다수안이 있던 {self.items_with_majority:,}건 중 "
            f"{self.overturned:,}건 번복{rate}"
        )

    def text(self) -> str:
        """``Cohen's κ 0.721 (95% CI [0.652, 0.781], 1,000 items)`` for documents."""
        name = METRIC_NAMES.get(self.metric, self.metric)
        if self.value is None:
            return f"{name}: — ({self.n_items:,} items)"
        ci = ""
        if self.interval is not None and self.interval.low is not None:
            ci = f"{self.interval.level * 100:.0f}% CI {self.interval.text()}, "
        return f"{name} {self.value:.3f} ({ci}{self.n_items:,} items)"


METRIC_NAMES = {
    "cohen_kappa": "Cohen's κ",
    "fleiss_kappa": "Fleiss' κ",
    "krippendorff_alpha": "Krippendorff's α",
    "box_f1": "box F1",
    "span_f1": "span F1",
    "one_minus_cer": "1 − CER",
}


def _read(path: Path, file: str | None, writer: str) -> Any:
    from datakit.io import read_json

    try:
        return read_json(path)
    except (OSError, ValueError) as exc:
        raise _Source(file or str(path), writer).error("(file)", f"cannot be read: {exc}") from None
