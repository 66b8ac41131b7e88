"""The validity result (유효성 검증): what was trained or scored, on which split, the metric
against its target, per-class figures and a confusion matrix; and how it reads in the
documents (rows for the 결과서 and the 데이터설명서, an HTML section with the confusion matrix
drawn, ``model-index``-style results for the dataset card).

Core, not the check stage's: ``datakit check`` measures and writes it, ``datakit package``
reads it back from ``quality.json`` into the release's metadata and documents. One object
writes ``reports/validity.json`` and the same object reads it back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from datakit.io import read_json, write_json
from datakit.spec.model import LOWER_IS_BETTER

if TYPE_CHECKING:
    from datakit.reports import Indicator

VALIDITY_FILE = "validity.json"


def judge(metric: str, value: float | None, target: float | None) -> bool | None:
    """Whether ``value`` reaches ``target`` (None: not measured)."""
    if value is None or target is None:
        return None
    if metric in LOWER_IS_BETTER:
        return value <= target + 1e-12
    return value >= target - 1e-12


@dataclass
class ValidityResult:
    task: str
    metric: str
    target: float | None
    value: float | None = None
    passed: bool | None = None
    model: str | None = None  # what was trained, or "user predictions"
    features: str | None = None
    evaluated_on: str | None = None  # the split the value is measured on
    split_sizes: dict[str, int] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)  # chosen on validation
    tuning: list[dict[str, Any]] = field(default_factory=list)  # the grid's validation figures
    figures: dict[str, float] = field(default_factory=dict)  # every metric of the task
    per_class: list[dict[str, Any]] = field(default_factory=list)
    confusion: dict[str, Any] | None = None  # {"labels": [...], "matrix": [[...]]}
    seed: int | None = None
    seconds: float | None = None
    reason: str | None = None  # why nothing was measured
    predictions: dict[str, Any] | None = None  # file, items scored, missing, ignored
    suspects: dict[str, Any] | None = None  # file, count, method, folds

    @property
    def higher_is_better(self) -> bool:
        return self.metric not in LOWER_IS_BETTER

    def finish(self) -> ValidityResult:
        """Set ``value`` from ``figures`` and judge it."""
        if self.value is None and self.metric in self.figures:
            self.value = self.figures[self.metric]
        self.passed = judge(self.metric, self.value, self.target)
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "metric": self.metric,
            "target": self.target,
            "value": self.value,
            "passed": self.passed,
            "higher_is_better": self.higher_is_better,
            "model": self.model,
            "features": self.features,
            "evaluated_on": self.evaluated_on,
            "split_sizes": self.split_sizes,
            "params": self.params,
            "tuning": self.tuning,
            "figures": self.figures,
            "per_class": self.per_class,
            "confusion": self.confusion,
            "seed": self.seed,
            "seconds": self.seconds,
            "reason": self.reason,
            "predictions": self.predictions,
            "suspects": self.suspects,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ValidityResult:
        return cls(
            task=str(d["task"]),
            metric=str(d["metric"]),
            target=d.get("target"),
            value=d.get("value"),
            passed=d.get("passed"),
            model=d.get("model"),
            features=d.get("features"),
            evaluated_on=d.get("evaluated_on"),
            split_sizes=dict(d.get("split_sizes") or {}),
            params=dict(d.get("params") or {}),
            tuning=list(d.get("tuning") or []),
            figures=dict(d.get("figures") or {}),
            per_class=list(d.get("per_class") or []),
            confusion=d.get("confusion"),
            seed=d.get("seed"),
            seconds=d.get("seconds"),
            reason=d.get("reason"),
            predictions=d.get("predictions"),
            suspects=d.get("suspects"),
        )

    def to_indicator(self) -> Indicator:
        """The ``validity`` indicator of quality.json: value, target, passed (None when
        nothing was measured, so the gate ignores it), the whole result as its details."""
        from datakit.reports import Indicator

        return Indicator(
            cast(Any, "validity"),
            self.value,
            self.target,
            self.passed,
            # without the run time: the same data gives the same quality.json
            details={k: v for k, v in self.to_dict().items() if k != "seconds"},
            note=self.note(),
        )

    def note(self) -> str | None:
        """What the figure is, or why there is none (the reports' 비고 column)."""
        if self.value is None:
            return self.reason
        lower = "; lower is better" if not self.higher_is_better else ""
        return f"{self.metric} on {self.evaluated_on}{lower}"

    @classmethod
    def from_indicator(cls, indicator: Indicator | None) -> ValidityResult | None:
        """The result back from quality.json's indicator (None: an older report without it)."""
        if indicator is None or not indicator.details.get("metric"):
            return None
        return cls.from_dict(indicator.details)

    def write(self, reports: Path) -> Path:
        path = reports / VALIDITY_FILE
        write_json(path, self.to_dict())
        return path

    @classmethod
    def read(cls, reports: Path) -> ValidityResult | None:
        path = reports / VALIDITY_FILE
        return cls.from_dict(read_json(path)) if path.is_file() else None


# -- for people ---------------------------------------------------------------------------

METRIC_KO = {
    "macro_f1": "macro-F1",
    "accuracy": "정확도 (accuracy)",
    "weighted_f1": "weighted-F1",
    "entity_f1": "개체 F1 (strict)",
    "entity_precision": "개체 정밀도",
    "entity_recall": "개체 재현율",
    "map50": "mAP@0.5",
    "map": "mAP@[.5:.95]",
    "map75": "mAP@0.75",
    "cer": "CER (문자 오류율)",
    "wer": "WER (단어 오류율)",
}
METRIC_EN = {
    "macro_f1": "Macro F1",
    "accuracy": "Accuracy",
    "weighted_f1": "Weighted F1",
    "entity_f1": "Entity F1 (strict)",
    "entity_precision": "Entity precision",
    "entity_recall": "Entity recall",
    "map50": "mAP@0.5",
    "map": "mAP@[.5:.95]",
    "map75": "mAP@0.75",
    "cer": "CER",
    "wer": "WER",
}
SPLIT_KO = {"train": "학습", "validation": "검증", "test": "평가"}


def pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.2f}%"


def verdict_ko(passed: bool | None) -> str:
    return "미측정" if passed is None else ("적합" if passed else "부적합")


def target_text(r: ValidityResult) -> str:
    if r.target is None:
        return "—"
    return f"{'≤' if r.metric in LOWER_IS_BETTER else '≥'} {pct(r.target)}"


def summary_ko(r: ValidityResult) -> str:
    """One line: "macro-F1 80.07% (목표 ≥ 70.00%, 적합)"."""
    name = METRIC_KO.get(r.metric, r.metric)
    if r.value is None:
        return f"{name} 미측정 ({r.reason or '입력 없음'})"
    return f"{name} {pct(r.value)} (목표 {target_text(r)}, {verdict_ko(r.passed)})"


def rows_ko(r: ValidityResult) -> list[tuple[str, str]]:
    """(항목, 내용) of the 유효성 검증: model, features, metric, value, target, verdict."""
    rows = [
        ("모델", r.model or "—"),
        ("특징 (features)", r.features or "—"),
        ("지표", METRIC_KO.get(r.metric, r.metric)),
        ("결과값", pct(r.value)),
        ("목표", target_text(r)),
        ("판정", verdict_ko(r.passed)),
    ]
    if r.evaluated_on:
        sizes = ", ".join(f"{SPLIT_KO.get(k, k)} {v:,}" for k, v in r.split_sizes.items())
        rows.append(("평가 분할", f"{SPLIT_KO.get(r.evaluated_on, r.evaluated_on)} ({sizes})"))
    if r.params:
        tuned = "검증 분할에서 선택" if r.tuning else "기본값"
        rows.append(("하이퍼파라미터", f"{_kv(r.params)} ({tuned})"))
    others = {k: v for k, v in r.figures.items() if k != r.metric}
    if others:
        rows.append(
            ("기타 지표", ", ".join(f"{METRIC_KO.get(k, k)} {pct(v)}" for k, v in others.items()))
        )
    if r.predictions:
        p = r.predictions
        rows.append(
            ("예측 파일", f"{p['file']} (평가 {p['items_scored']}건, 누락 {p['missing']}건)")
        )
    if r.suspects and r.suspects.get("count") is not None:
        s = r.suspects
        rows.append(
            (
                "의심 라벨",
                f"{s['count']:,}건 / {s['checked']:,}건 ({s['file']}; 교차검증 {s['folds']}겹)",
            )
        )
    if r.reason:
        rows.append(("비고", r.reason))
    return rows


def _kv(d: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in d.items())


def _md(cell: Any) -> str:
    return str(cell).replace("|", "\\|").replace("\n", " ")


def markdown_ko(r: ValidityResult | None, *, heading: str = "## 유효성 검증") -> list[str]:
    """The 결과서 section: the summary table, per-class figures, the confusion matrix."""
    if r is None:
        return []
    lines = ["", heading, "", "| 항목 | 내용 |", "|---|---|"]
    lines += [f"| {_md(k)} | {_md(v)} |" for k, v in rows_ko(r)]
    if r.per_class:
        keys = [k for k in ("precision", "recall", "f1", "ap", "ap50") if k in r.per_class[0]]
        lines += [
            "",
            "| 클래스 | " + " | ".join(keys) + " | 건수 |",
            "|---" * (len(keys) + 2) + "|",
        ]
        for c in r.per_class:
            cells = " | ".join(f"{c[k]:.3f}" for k in keys)
            lines.append(f"| {_md(c['label'])} | {cells} | {c.get('support', '')} |")
    if r.confusion:
        labels = r.confusion["labels"]
        lines += [
            "",
            "혼동 행렬 (행: 부여된 라벨, 열: 모델 예측)",
            "",
            "| 라벨 \\ 예측 | " + " | ".join(_md(x) for x in labels) + " |",
            "|---" * (len(labels) + 1) + "|",
        ]
        for name, row in zip(labels, r.confusion["matrix"], strict=True):
            lines.append(f"| {_md(name)} | " + " | ".join(str(v) for v in row) + " |")
    return lines


def confusion_svg(confusion: dict[str, Any], *, cell: int = 34) -> str:
    """The confusion matrix as a heat map (inline SVG, no scripts)."""
    labels = [str(x) for x in confusion["labels"]]
    matrix = confusion["matrix"]
    n = len(labels)
    pad = 12 + 12 * max((len(x) for x in labels), default=1)  # Hangul is ~11 px wide
    width, height = pad + n * cell + 10, pad + n * cell + 10
    peak = max((v for row in matrix for v in row), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'role="img" aria-label="혼동 행렬">'
    ]
    for j, name in enumerate(labels):
        x = pad + j * cell + cell / 2
        parts.append(
            f'<text x="{x:.0f}" y="{pad - 6}" font-size="11" text-anchor="middle">'
            f"{escape(name)}</text>"
        )
    for i, (name, row) in enumerate(zip(labels, matrix, strict=True)):
        y = pad + i * cell
        parts.append(
            f'<text x="{pad - 6}" y="{y + cell / 2 + 4:.0f}" font-size="11" '
            f'text-anchor="end">{escape(name)}</text>'
        )
        for j, v in enumerate(row):
            shade = int(245 - 170 * (v / peak))  # darker: more items
            # agreement on the diagonal in green, confusions in red
            fill = f"rgb({shade},255,{shade})" if i == j else f"rgb(255,{shade},{shade})"
            parts.append(
                f'<rect x="{pad + j * cell}" y="{y}" width="{cell - 2}" height="{cell - 2}" '
                f'fill="{fill}"><title>{escape(name)} → {escape(labels[j])}: {v}</title></rect>'
                f'<text x="{pad + j * cell + cell / 2 - 1:.0f}" y="{y + cell / 2 + 3:.0f}" '
                f'font-size="11" text-anchor="middle">{v}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def html_section(r: ValidityResult | None) -> list[str]:
    """The HTML report's section: summary table, per-class table, confusion matrix drawn."""
    if r is None:
        return []
    out = ["<h2>유효성 검증 (validity)</h2>", _html_table(["항목", "내용"], rows_ko(r))]
    if r.per_class:
        keys = [k for k in ("precision", "recall", "f1", "ap", "ap50") if k in r.per_class[0]]
        out.append(
            _html_table(
                ["클래스", *keys, "건수"],
                [
                    [c["label"], *(f"{c[k]:.3f}" for k in keys), c.get("support", "")]
                    for c in r.per_class
                ],
            )
        )
    if r.confusion:
        out.append(
            "<figure>"
            + confusion_svg(r.confusion)
            + "<figcaption>혼동 행렬: 행은 부여된 라벨, 열은 모델 예측</figcaption></figure>"
        )
    return out


def _html_table(head: list[str], rows: list[Any]) -> str:
    th = "".join(f"<th>{escape(str(h))}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def description_rows_ko(r: ValidityResult) -> list[list[object]]:
    """The 데이터설명서's 모델·유효성 검증 table: 모델 | 특징 | 지표 | 결과값 | 목표 | 판정."""
    return [
        [
            r.model or "—",
            r.features or "—",
            METRIC_KO.get(r.metric, r.metric),
            pct(r.value),
            target_text(r),
            verdict_ko(r.passed),
        ]
    ]


def model_index(r: ValidityResult, *, dataset_id: str, dataset_name: str) -> dict[str, Any]:
    """Hugging Face ``model-index``-style results of the baseline on this dataset."""
    split = r.evaluated_on or "test"
    metrics: list[dict[str, Any]] = [
        {"type": k, "value": round(v, 6), "name": METRIC_EN.get(k, k)} for k, v in r.figures.items()
    ]
    return {
        "model-index": [
            {
                "name": f"datakit baseline: {r.model or 'user predictions'}",
                "results": [
                    {
                        "task": {"type": r.task},
                        "dataset": {
                            "type": dataset_id,
                            "name": dataset_name,
                            "split": split,
                        },
                        "metrics": metrics,
                    }
                ],
            }
        ]
    }
