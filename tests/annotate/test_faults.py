"""Faults: server down, 5xx, timeouts mid-export, wrong token. Faults are injected with
httpx transports (mocks only inject the fault; the rest runs against a real server)."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest

from datakit.annotate.client import Connection, LabelStudioClient, iter_json_array
from datakit.errors import EXIT_SERVICE, LabelStudioError

TOKEN = "f" * 40


def _client(handler: Any, **kw: Any) -> tuple[LabelStudioClient, list[float]]:
    sleeps: list[float] = []
    client = LabelStudioClient(
        Connection("http://ls.test", TOKEN),
        transport=httpx.MockTransport(handler),
        sleep=sleeps.append,
        **kw,
    )
    return client, sleeps


def test_5xx_is_retried_with_backoff() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        assert request.headers["Authorization"] == f"Token {TOKEN}"
        if len(calls) < 3:
            return httpx.Response(503, text="busy")
        return httpx.Response(200, json={"id": 1, "email": "a@b"})

    client, sleeps = _client(handler)
    assert client.whoami()["id"] == 1
    assert len(calls) == 3 and sleeps == [0.5, 1.0]


def test_persistent_5xx_gives_a_clear_error_without_the_token() -> None:
    client, sleeps = _client(lambda r: httpx.Response(500, json={"detail": "db locked"}), retries=2)
    with pytest.raises(LabelStudioError) as exc:
        client.whoami()
    e = exc.value
    assert "Label Studio at http://ls.test" in e.message
    assert "GET /api/current-user/whoami" in e.message and "HTTP 500" in e.message
    assert "3 attempt" in e.message and "db locked" in e.message
    assert e.hint and "rerun" in e.hint
    assert TOKEN not in e.message + e.hint and e.exit_code == EXIT_SERVICE
    assert sleeps == [0.5, 1.0]


def test_wrong_token_is_not_retried() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(401, json={"detail": "Invalid token."})

    client, _ = _client(handler)
    with pytest.raises(LabelStudioError) as exc:
        client.whoami()
    assert len(calls) == 1
    assert "refused the API key (HTTP 401)" in exc.value.message
    assert exc.value.hint and "Access Token" in exc.value.hint


def test_import_post_is_not_blindly_retried() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(502)

    client, _ = _client(handler)
    with pytest.raises(LabelStudioError):
        client.import_tasks(1, [{"data": {"item_id": "a"}}])
    assert len(calls) == 1  # a retried POST could import the tasks twice


def test_server_down() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends
    sleeps: list[float] = []
    client = LabelStudioClient(Connection(f"http://127.0.0.1:{port}", TOKEN), sleep=sleeps.append)
    with pytest.raises(LabelStudioError) as exc:
        client.whoami()
    assert "not reachable after 5 attempts" in exc.value.message
    assert exc.value.hint and "datakit annotate serve" in exc.value.hint
    assert len(sleeps) == 4


class _BrokenStream(httpx.SyncByteStream):
    def __init__(self, data: bytes) -> None:
        self.data = data

    def __iter__(self):  # type: ignore[no-untyped-def]
        yield self.data[: len(self.data) // 2]
        raise httpx.ReadTimeout("injected: the export stalled")


def test_timeout_mid_export_is_retried_and_the_file_is_complete(tmp_path: Path) -> None:
    body = json.dumps([{"id": i, "data": {"text": "가" * 100}} for i in range(50)]).encode()
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            return httpx.Response(200, stream=_BrokenStream(body))
        return httpx.Response(200, content=body)

    client, _ = _client(handler)
    dest = tmp_path / "export.json"
    assert client.export_to(7, dest) == len(body)
    assert [t["id"] for t in iter_json_array(dest)] == list(range(50))
    # an export that keeps breaking off fails clearly
    client2, _ = _client(lambda r: httpx.Response(200, stream=_BrokenStream(body)), retries=1)
    with pytest.raises(LabelStudioError) as exc:
        client2.export_to(7, dest)
    assert "broke off" in exc.value.message and "resumes" in (exc.value.hint or "")


def test_iter_json_array_across_chunk_boundaries(tmp_path: Path) -> None:
    data = [{"id": i, "t": "한국어 텍스트 " * (i % 7), "n": [1, {"x": "]"}]} for i in range(200)]
    p = tmp_path / "a.json"
    p.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    assert list(iter_json_array(p, chunk_size=7)) == data
    p.write_text("[]", encoding="utf-8")
    assert list(iter_json_array(p)) == []


class _FailExports(httpx.BaseTransport):
    """Real HTTP, except that the listed export requests (1-based) time out."""

    def __init__(self, fail: set[int]) -> None:
        self.inner = httpx.HTTPTransport()
        self.fail = fail
        self.exports = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/export"):
            self.exports += 1
            if self.exports in self.fail:
                raise httpx.ReadTimeout("injected", request=request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@pytest.mark.labelstudio
def test_interrupted_pull_keeps_what_it_fetched_and_resumes(  # type: ignore[no-untyped-def]
    planned_project, ls_conn: Connection
) -> None:
    from datakit.annotate import state
    from datakit.annotate.pull import pull
    from datakit.annotate.push import push
    from datakit.annotate.simulate import simulate

    items = [{"id": f"f{i}", "text": f"리뷰 {i}: 괜찮아요"} for i in range(6)]
    project = planned_project("text_classification", items)
    push(project, conn=ls_conn)
    simulate(project, conn=ls_conn, annotators=["f1@test.local"], plan=None)
    time.sleep(1.1)
    # the first (full) pull: its single export times out, so it goes batch by batch, and
    # breaks off after one batch of two tasks …
    flaky = LabelStudioClient(
        ls_conn, transport=_FailExports({1, 3, 4}), retries=1, sleep=lambda s: None
    )
    with pytest.raises(LabelStudioError):
        pull(project, conn=ls_conn, client=flaky, batch_size=2)
    assert pq.read_table(project.paths.annotations_table).num_rows == 2
    assert len(state.load(project, "pull", ls_conn.url)["pending"]) == 4
    # … and the next run finishes it
    resumed = pull(project, conn=ls_conn, batch_size=2)
    assert resumed.mode == "full" and resumed.tasks_fetched == 4
    before = pq.read_table(project.paths.annotations_table).num_rows
    assert before == 6
    simulate(project, conn=ls_conn, annotators=["f1@test.local", "f2@test.local"])
    time.sleep(1.1)
    flaky = LabelStudioClient(
        ls_conn, transport=_FailExports({2, 3}), retries=1, sleep=lambda s: None
    )
    with pytest.raises(LabelStudioError) as exc:
        pull(project, conn=ls_conn, client=flaky, batch_size=2)
    assert "resumes" in (exc.value.hint or "")
    # the first batch (2 tasks) was kept; 4 tasks are still pending
    kept = pq.read_table(project.paths.annotations_table).num_rows
    assert kept == before + 2
    pending = state.load(project, "pull", ls_conn.url)["pending"]
    assert len(pending) == 4
    again = pull(project, conn=ls_conn)
    assert again.tasks_fetched >= 4
    assert pq.read_table(project.paths.annotations_table).num_rows == 12
    assert state.load(project, "pull", ls_conn.url).get("pending") in (None, [])


@pytest.mark.labelstudio
def test_wrong_token_on_a_real_server(label_studio) -> None:  # type: ignore[no-untyped-def]
    bad = "0" * 40
    client = LabelStudioClient(Connection(label_studio.url, bad))
    with pytest.raises(LabelStudioError) as exc:
        client.whoami()
    assert "HTTP 401" in exc.value.message or "HTTP 403" in exc.value.message
    assert bad not in exc.value.message


def test_pull_state_round_trips_and_a_broken_file_means_a_full_pull(  # type: ignore[no-untyped-def]
    planned_project,
) -> None:
    from datakit.annotate import state
    from datakit.annotate.state import PullState

    project = planned_project("text_classification", [{"id": "p1", "text": "좋아요"}])
    server = "http://ls.test"
    assert PullState.load(project, server, 7) == PullState(project_id=7)
    running = PullState(7, "2026-11-29T00:00:00.000Z", "full", "2026-11-30T00:00:00.000Z", [3, 4])
    running.save(project, server)
    back = PullState.load(project, server, 7)
    assert back == running and back.interrupted
    assert PullState.load(project, server, 8) == PullState(project_id=8)  # another project
    assert PullState.load(project, "http://other", 7) == PullState(project_id=7)
    done = back.completed()
    assert (done.watermark, done.pending, done.interrupted) == (running.started, None, False)
    done.save(project, server)
    assert state.load(project, "pull", server) == {
        "project_id": 7,
        "watermark": running.started,
        "server": server,
    }
    state.save(project, "pull", server, {"project_id": 7, "pending": ["x"], "watermark": 5})
    assert PullState.load(project, server, 7) == PullState(project_id=7)
