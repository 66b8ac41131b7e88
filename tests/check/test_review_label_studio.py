"""The semantic-accuracy review through a real Label Studio server: the sample becomes a
review project, inspectors answer PASS/FAIL with a note, verdicts come back."""

from __future__ import annotations

import json
from typing import Any

import pytest


@pytest.mark.labelstudio
def test_review_project_round_trip(
    text_project: Any, cli: Any, label_studio: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datakit.annotate.client import Connection, LabelStudioClient

    monkeypatch.setenv("LABEL_STUDIO_URL", label_studio.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", label_studio.api_key)
    root = text_project()
    res = cli("check", "sample", "-p", root, "--label-studio", "--json")
    assert res.exit_code == 0, res.output
    plan = json.loads(res.output)
    pid = plan["label_studio_project"]
    assert isinstance(pid, int) and plan["size"] == 8
    assert label_studio.api_key not in (root / "reports/inspection/sample.json").read_text()
    with LabelStudioClient(Connection(label_studio.url, label_studio.api_key)) as client:
        tasks = list(client.iter_tasks(pid))
        assert sorted(t["data"]["item_id"] for t in tasks) == plan["items"]
        assert all(t["data"]["text"] and "label" in t["data"]["label_view"] for t in tasks)
        failing = sorted(t["data"]["item_id"] for t in tasks)[:2]
        for t in tasks[:-1]:  # the last task stays uninspected
            verdict = "FAIL" if t["data"]["item_id"] in failing else "PASS"
            result = [
                {"from_name": "verdict", "to_name": "text", "type": "choices",
                 "value": {"choices": [verdict]}},
                {"from_name": "note", "to_name": "text", "type": "textarea",
                 "value": {"text": ["라벨이 틀림" if verdict == "FAIL" else "확인"]}},
            ]  # fmt: skip
            client.post(f"/api/tasks/{t['id']}/annotations", json={"result": result})
        # pushing the same sample again reuses its review project
        from datakit.check.inspection import push_review
        from datakit.project import Project

        assert push_review(Project(root), client) == pid
    res = cli("check", "verdicts", "--from-label-studio", "-p", root, "--json")
    assert res.exit_code == 0, res.output
    got = json.loads(res.output)
    assert got == {"received": 7, "passed": 5, "failed": 2, "pending": 1, "sample_size": 8}
    verdicts = json.loads((root / "reports/inspection/verdicts.json").read_text("utf-8"))
    assert {verdicts[i]["note"] for i in failing} == {"라벨이 틀림"}
    assert all(v["source"] == "label_studio" for v in verdicts.values())
    report = json.loads(cli("check", "-p", root, "--json").output)
    sem = report["indicators"]["semantic"]
    assert sem["value"] == 5 / 7 and sem["passed"] is False
