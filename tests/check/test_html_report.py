"""quality.html renders in a real headless browser (Debian's chromium): figures present,
Korean text present, no console errors, no network requests (self-contained)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.check.conftest import label_record, manifest_row, write_labels

CHROMIUM = os.environ.get("DATAKIT_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    problem = None
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        problem = f"chromium not found at {CHROMIUM}"
    else:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError as exc:  # pragma: no cover - playwright is a dev dependency
            problem = f"playwright is not installed: {exc}"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--headless", "--disable-gpu"]
        )
        try:
            yield b
        finally:
            b.close()


def test_quality_html_renders_figures_offline(text_project: Any, cli: Any, browser: Any) -> None:
    root = text_project(labels=False)
    rows = [manifest_row(i) for i in range(30)]
    recs: list[Any] = [label_record(r) for r in rows]
    recs[0]["label"] = "모름"
    recs.append("{broken")
    write_labels(root, recs)
    assert cli("check", "-p", root, "--checkpoint", "10%").exit_code == 1
    html_path = root / "reports" / "quality.html"
    page = browser.new_page()
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(html_path.as_uri())
    page.wait_for_load_state("load")
    assert errors == []
    assert [u for u in requests if not u.startswith("file://")] == []
    svgs = page.locator("svg")
    assert svgs.count() >= 5  # indicators, error classes, completeness, diversity, trend
    for i in range(svgs.count()):
        box = svgs.nth(i).bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 20
    assert page.locator("svg rect").count() > 10
    text = page.inner_text("body")
    for korean in ("품질검증 결과", "구문 정확성", "형식", "구조", "파일", "달성율", "부적합"):
        assert korean in text, korean
    assert "모름" in text  # the planted error is listed
    title = page.title()
    assert "품질검증" in title
    page.close()
    data = json.loads((root / "reports/quality.json").read_text(encoding="utf-8"))
    assert data["files"]["html"] == "reports/quality.html"
