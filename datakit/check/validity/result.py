"""The validity result (유효성 검증): what was trained or scored, on which split, the metric
against its target, per-class figures and a confusion matrix. One object writes
``reports/validity.json`` and the same object reads it back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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
