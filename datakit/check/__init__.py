"""The check stage (검수·품질검증): AI Hub quality indicators, expectation suites,
sampling inspection, reports and the gate.

Library use::

    from datakit.project import Project
    from datakit.check import check

    report = check(Project.open("reviews"))
    report.passed, report.indicators["syntactic"].value

Modules: ``census`` (구문 정확성), ``sampling`` and ``inspection`` (의미 정확성),
``indicators`` (the pure indicator functions), ``expectations`` (Great Expectations in
batches), ``report`` (quality.json / .html / 결과서 / 오류목록), ``run`` (:func:`check`),
``engine`` (the seam the engines meet the check through: ``local``, and ``spark`` with
``spark_jobs`` and ``spark_expectations``).
Heavy libraries are imported inside functions, so importing this package is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datakit.check.run import QualityReport, check

__all__ = ["QualityReport", "check"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from datakit.check import run

        return getattr(run, name)
    raise AttributeError(name)
