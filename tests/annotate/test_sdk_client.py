"""The client is the Label Studio SDK over datakit's own httpx client: requests carry the
SDK's headers and authentication (legacy tokens and personal access tokens), and faults
injected in the httpx transport under the SDK — against a real Label Studio — are retried,
reported clearly and never leave duplicate tasks."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from datakit.annotate.client import Connection, LabelStudioClient, iter_json_array
from datakit.errors import EXIT_SERVICE, LabelStudioError

Fault = Callable[[httpx.Request, httpx.BaseTransport], httpx.Response | None]


class _Faulty(httpx.BaseTransport):
    """Real HTTP to the server; ``fault`` may answer (or raise) in its place. Records every
    request that reached this transport."""

    def __init__(self, fault: Fault | None = None) -> None:
        self.inner = httpx.HTTPTransport()
        self.fault = fault
        self.seen: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if self.fault is not None:
            answer = self.fault(request, self.inner)
            if answer is not None:
                return answer
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class _BrokenStream(httpx.SyncByteStream):
    def __init__(self, data: bytes) -> None:
        self.data = data

    def __iter__(self) -> Iterator[bytes]:
        yield self.data[: len(self.data) // 2]
        raise httpx.ReadTimeout("injected: the export stalled")


def _nth(method: str, path_end: str, which: set[int]) -> Callable[[httpx.Request], bool]:
    """True for the listed (1-based) requests of this method whose path ends so."""
    count = [0]

    def hit(request: httpx.Request) -> bool:
        if request.method != method or not request.url.path.rstrip("/").endswith(path_end):
            return False
        count[0] += 1
        return count[0] in which

    return hit


@pytest.mark.labelstudio
def test_every_call_goes_through_the_sdk_over_our_transport(
    planned_project: Any, ls_conn: Connection, tmp_path: Path
) -> None:
    from datakit.annotate.push import push

    project = planned_project("text_classification", [{"id": "s1", "text": "좋아요"}])
    seen = _Faulty()
    with LabelStudioClient(ls_conn, transport=seen) as client:
        res = push(project, conn=ls_conn, client=client)
        assert res.tasks_created == 1
        assert client.project(res.project_id)["title"] == res.title  # type: ignore[index]
        assert [t["data"]["item_id"] for t in client.iter_tasks(res.project_id)] == ["s1"]
        client.export_to(res.project_id, tmp_path / "e.json", all_tasks=True)
        assert [t["data"]["text"] for t in iter_json_array(tmp_path / "e.json")] == ["좋아요"]
    paths = {r.url.path for r in seen.seen}
    assert {"/api/current-user/whoami", f"/api/projects/{res.project_id}/import"} <= paths
    for r in seen.seen:  # the SDK built every request, with its authentication
        assert r.headers["user-agent"].startswith("label_studio_sdk/"), r.url
        assert r.headers["authorization"] == f"Token {ls_conn.api_key}"


@pytest.mark.labelstudio
def test_faults_under_the_sdk_are_retried_and_a_lost_import_reply_duplicates_nothing(
    planned_project: Any, ls_conn: Connection
) -> None:
    from datakit.annotate.push import push

    items = [{"id": f"d{i}", "text": f"문장 {i}"} for i in range(5)]
    project = planned_project("text_classification", items)
    busy = _nth("GET", "/api/projects", {1, 2})
    lost = _nth("POST", "/import", {1})

    def fault(request: httpx.Request, inner: httpx.BaseTransport) -> httpx.Response | None:
        if busy(request):
            return httpx.Response(503, text="busy", request=request)
        if lost(request):  # the server imports the tasks, but its reply never arrives
            reply = inner.handle_request(request)
            reply.read()
            reply.close()
            raise httpx.ReadTimeout("injected: the reply was lost", request=request)
        return None

    sleeps: list[float] = []
    faulty = _Faulty(fault)
    client = LabelStudioClient(ls_conn, transport=faulty, sleep=sleeps.append)
    with client, pytest.raises(LabelStudioError) as exc:
        push(project, conn=ls_conn, client=client)
    assert sleeps[:2] == [0.5, 1.0]  # the two 503s were retried with backoff
    imports = [r for r in faulty.seen if r.url.path.rstrip("/").endswith("/import")]
    assert len(imports) == 1  # an import is never repeated blindly
    assert "timed out" in exc.value.message and "/import" in exc.value.message
    assert exc.value.exit_code == EXIT_SERVICE and "rerun" in (exc.value.hint or "")
    assert ls_conn.api_key not in exc.value.message + (exc.value.hint or "")
    # the rerun finds the tasks the lost reply created: nothing is imported twice
    again = push(project, conn=ls_conn)
    assert (again.tasks_created, again.tasks_existing) == (0, 5)
    with LabelStudioClient(ls_conn) as plain:
        ids = [t["data"]["item_id"] for t in plain.iter_tasks(again.project_id)]
    assert sorted(ids) == [f"d{i}" for i in range(5)]


@pytest.mark.labelstudio
def test_an_export_that_stalls_mid_body_is_fetched_again_whole(
    planned_project: Any, ls_conn: Connection, tmp_path: Path
) -> None:
    from datakit.annotate.push import push

    items = [{"id": f"x{i}", "text": "한국어 문장 " * 50} for i in range(30)]
    res = push(planned_project("text_classification", items), conn=ls_conn)
    stall = _nth("GET", "/export", {1})

    def fault(request: httpx.Request, inner: httpx.BaseTransport) -> httpx.Response | None:
        if not stall(request):
            return None
        reply = inner.handle_request(request)
        body = reply.read()
        return httpx.Response(200, stream=_BrokenStream(body), request=request)

    sleeps: list[float] = []
    with LabelStudioClient(ls_conn, transport=_Faulty(fault), sleep=sleeps.append) as client:
        dest = tmp_path / "export.json"
        size = client.export_to(res.project_id, dest, all_tasks=True)
    assert size == dest.stat().st_size and sleeps == [0.5]
    got = sorted(t["data"]["item_id"] for t in iter_json_array(dest))
    assert got == sorted(f"x{i}" for i in range(30))


@pytest.mark.labelstudio
def test_a_personal_access_token_is_refreshed_by_the_sdk_and_never_printed(
    label_studio: Any,
) -> None:
    with LabelStudioClient(Connection(label_studio.url, label_studio.api_key)) as admin:
        for old in admin.sdk.tokens.list():  # one personal token per user: revoke the last
            admin.sdk.tokens.blacklist(refresh=str(old.token))
        pat = admin.sdk.tokens.create().token
    assert pat and pat.count(".") == 2

    def echo(request: httpx.Request, inner: httpx.BaseTransport) -> httpx.Response | None:
        if request.url.path.rstrip("/") != "/api/users":
            return None
        said = {"detail": f"you sent {request.headers.get('authorization')}"}
        return httpx.Response(500, json=said, request=request)

    faulty = _Faulty(echo)
    with LabelStudioClient(
        Connection(label_studio.url, pat), transport=faulty, retries=0
    ) as client:
        assert client.whoami()["email"]
        with pytest.raises(LabelStudioError) as exc:
            client.users()
    sent = [r.headers.get("authorization", "") for r in faulty.seen]
    refreshes = [r for r in faulty.seen if r.url.path.startswith("/api/token/refresh")]
    assert refreshes and json.loads(refreshes[0].content) == {"refresh": pat}
    access = next(a.split(" ", 1)[1] for a in sent if a.startswith("Bearer "))
    text = exc.value.message + (exc.value.hint or "")
    assert "HTTP 500" in text and pat not in text and access not in text


def test_an_expired_personal_access_token_is_a_clear_error() -> None:
    import jwt

    past = datetime.now(UTC) - timedelta(days=1)
    token = jwt.encode({"exp": int(past.timestamp()), "token_type": "refresh"}, "k" * 32)
    with pytest.raises(LabelStudioError) as exc:
        LabelStudioClient(Connection("http://127.0.0.1:9", token))
    e = exc.value
    assert "HTTP 401" in e.message and "expired" in e.message
    assert e.hint and "Access Token" in e.hint and token not in e.message + e.hint
