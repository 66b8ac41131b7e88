"""The bundled road-objects example fails the gate on purpose: two of its 38 collected
images are corrupt or too small, so 형식성 is 36/38 = 94.7% against the 99% target."""

from __future__ import annotations

import json
from typing import Any

import pytest


def test_road_objects_fails_the_gate_on_format(
    example_project: Any, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = example_project("road-objects")
    monkeypatch.chdir(root)  # as the example's README runs it
    res = cli("collect", "data/raw/images")
    assert res.exit_code == 0, res.output
    res = cli("check", "-p", root)
    assert res.exit_code == 1
    assert "gate failed" in res.output and "format" in res.output
    data = json.loads((root / "reports/quality.json").read_text(encoding="utf-8"))
    fmt = data["indicators"]["format"]
    assert fmt["value"] == pytest.approx(36 / 38) and fmt["passed"] is False
    assert fmt["details"]["quarantined"] == 2
    assert data["failed"][0] == "format"
    md = (root / "reports/품질검증_결과서.md").read_text(encoding="utf-8")
    assert "| 형식성 (기술 적합성) | 99.00% | 94.74% | 부적합 |" in md
    # before labelling, diversity is measured over the collected items (weather)
    assert data["indicators"]["diversity"]["status"] != "not_measured"
