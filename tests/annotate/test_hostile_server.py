"""A hostile or wrong "Label Studio" server (issue 13, item 5): credentials in the URL and
an Authorization header echoed back are never printed; replies and exports of the wrong
shape are clear errors (exit 3 from a server, exit 2 from an export file), never an
AttributeError. The server is a real HTTP server on 127.0.0.1, run in a thread."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from datakit.annotate.client import Connection, LabelStudioClient, redact
from datakit.errors import EXIT_BAD_INPUT, EXIT_SERVICE, InputError, LabelStudioError

TOKEN = "0123456789abcdef0123456789abcdef01234567"
PASSWORD = "hunter2-s3cret"

# path → (status, content type, body); a callable gets the request's headers
Reply = tuple[int, str, str]
Routes = dict[str, Reply | Callable[[dict[str, str]], Reply]]


class _Server:
    def __init__(self, routes: Routes) -> None:
        self.routes = routes
        self.seen: list[dict[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                outer.seen.append({"path": self.path, **headers})
                # Label Studio answers with and without the trailing slash (the SDK adds one)
                path = urlsplit(self.path).path
                route = outer.routes.get(path) or outer.routes.get(path.rstrip("/"))
                if route is None:
                    status, kind, body = 404, "application/json", '{"detail": "Not found."}'
                else:
                    status, kind, body = route(headers) if callable(route) else route
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = _reply

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, userinfo: str = "") -> str:
        return f"http://{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[[Routes], _Server]]:
    servers: list[_Server] = []

    def start(routes: Routes) -> _Server:
        servers.append(_Server(routes))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def _echo(status: int) -> Callable[[dict[str, str]], Reply]:
    def reply(headers: dict[str, str]) -> Reply:
        body = {
            "detail": f"bad request, you sent {headers.get('authorization')}",
            "headers": headers,
        }
        return status, "application/json", json.dumps(body)

    return reply


def _client(url: str) -> LabelStudioClient:
    return LabelStudioClient(Connection(url, TOKEN), retries=1, sleep=lambda s: None)


def _no_secret(*texts: str | None) -> None:
    for t in texts:
        assert TOKEN not in (t or "") and PASSWORD not in (t or "")


def test_password_in_the_url_is_never_printed_but_still_sent(serve: Any) -> None:
    server = serve({"/api/current-user/whoami": (500, "text/plain", "db down")})
    conn = Connection(server.url(f"admin:{PASSWORD}"), TOKEN)
    assert conn.url == server.url() and PASSWORD not in repr(conn) and PASSWORD not in conn.service
    with pytest.raises(LabelStudioError) as exc:
        LabelStudioClient(conn, retries=0).whoami()
    _no_secret(exc.value.message, exc.value.hint, str(exc.value))
    assert f"127.0.0.1:{server.port}" in exc.value.message
    # the credentials still reach the server (httpx sends them as Basic auth)
    assert server.seen[0]["authorization"].startswith("Basic ")


def test_an_echoed_authorization_header_is_redacted(serve: Any) -> None:
    server = serve({"/api/current-user/whoami": _echo(400), "/api/users": _echo(500)})
    client = _client(server.url())
    for call in (client.whoami, client.users):
        with pytest.raises(LabelStudioError) as exc:
            call()
        _no_secret(exc.value.message, exc.value.hint)
        assert "Token ***" in exc.value.message
    assert server.seen[0]["authorization"] == f"Token {TOKEN}"


def test_redact_covers_urls_header_values_and_secret_fields() -> None:
    text = (
        f"http://u:{PASSWORD}@h/x Bearer eyJhbGciOi.eyJzdWIi.sig "
        f'{{"api_key": "{TOKEN}", "password": "{PASSWORD}"}} token {TOKEN}'
    )
    out = redact(text, (TOKEN,))
    _no_secret(out)
    assert "eyJhbGciOi" not in out and "http://***@h/x" in out


@pytest.mark.parametrize(
    ("route", "reply", "call", "expected"),
    [
        (
            "/api/current-user/whoami",
            (200, "text/html", "<!DOCTYPE html><html><body>Sign in to the proxy</body></html>"),
            "whoami",
            "with text/html that is not JSON",
        ),
        ("/api/current-user/whoami", (200, "application/json", "[1, 2]"), "whoami", "expected"),
        ("/api/users", (200, "application/json", '"oops"'), "users", "a list of users"),
        ("/api/users", (200, "application/json", '[{"email": "x"}]'), "users", "with an id"),
        ("/api/projects", (200, "application/json", '{"results": 7}'), "find", "projects"),
        ("/api/projects/1", (200, "application/json", '"oops"'), "project", "a project"),
        ("/api/tasks", (200, "application/json", '{"tasks": "oops"}'), "tasks", "tasks"),
    ],
)
def test_a_reply_that_is_not_label_studio_json_is_a_clear_error(
    serve: Any, route: str, reply: Reply, call: str, expected: str
) -> None:
    server = serve({route: reply})
    client = _client(server.url())
    calls: dict[str, Callable[[], Any]] = {
        "whoami": client.whoami,
        "users": client.users,
        "find": lambda: client.find_project("x"),
        "project": lambda: client.project(1),
        "tasks": lambda: list(client.iter_tasks(1)),
    }
    with pytest.raises(LabelStudioError) as exc:
        calls[call]()
    assert expected in exc.value.message and exc.value.exit_code == EXIT_SERVICE
    assert exc.value.hint and "Label Studio server" in exc.value.hint


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('[{"id": 1, "data": {}, "annotations": "oops"}]', "task 1: annotations: is a str"),
        ('[{"id": 1, "annotations": [{"id": "x"}]}]', "annotations[0].id"),
        ('[{"id": 1, "annotations": [{"id": 2, "result": {"a": 1}}]}]', "annotations[0].result"),
        ('["oops"]', "element 1: task: is a str"),
        ("<html>export failed</html>", "not a JSON array of tasks"),
        ('[{"id": 1}, {"id": 2', "not a JSON array of tasks (after 1 tasks"),
    ],
)
def test_an_export_of_the_wrong_shape_is_refused(
    serve: Any, tmp_path: Path, body: str, expected: str
) -> None:
    server = serve({"/api/projects/1/export": (200, "application/json", body)})
    with pytest.raises(LabelStudioError) as exc:
        _client(server.url()).export_to(1, tmp_path / "export.json", attempts=1)
    assert expected in exc.value.message


def _hostile_ls(title: str, export: str, echo: bool = False) -> Routes:
    """Enough of Label Studio for a pull to reach the export."""
    who = _echo(200) if echo else (200, "application/json", '{"id": 1, "email": "a@b"}')
    return {
        "/api/current-user/whoami": who,
        "/api/projects": (200, "application/json", json.dumps([{"id": 1, "title": title}])),
        "/api/projects/1": (200, "application/json", '{"id": 1, "num_tasks_with_annotations": 1}'),
        "/api/users": (200, "application/json", '[{"id": 1, "email": "a@b"}]'),
        "/api/tasks": (200, "application/json", '{"tasks": [{"id": 1}]}'),
        "/api/projects/1/export": (200, "application/json", export),
    }


def _run_cli(project: Any, url: str, *args: str) -> Any:
    from typer.testing import CliRunner

    from datakit.cli.app import app

    ls = project.spec.annotation.label_studio
    env = {ls.url_env: url, ls.api_key_env: TOKEN}
    return CliRunner().invoke(app, ["annotate", *args, "-p", str(project.root)], env=env)


def test_cli_pull_from_a_hostile_server_prints_no_secret_and_no_traceback(
    serve: Any, planned_project: Any
) -> None:
    from datakit.annotate.state import project_title

    project = planned_project("text_classification", [{"id": "t1", "text": "좋아요"}])
    export = '[{"id": 1, "data": {"item_id": "t1"}, "annotations": "oops"}]'
    server = serve(_hostile_ls(project_title(project), export, echo=True))
    res = _run_cli(project, server.url(f"admin:{PASSWORD}"), "pull")
    out = res.output + (res.stderr if res.stderr_bytes is not None else "")
    assert res.exit_code == EXIT_SERVICE, out
    assert "Traceback" not in out and not isinstance(res.exception, AttributeError)
    assert "annotations: is a str, not a list" in out
    _no_secret(out)


def test_cli_pull_from_a_login_page_is_exit_3(serve: Any, planned_project: Any) -> None:
    project = planned_project("text_classification", [{"id": "t1", "text": "좋아요"}])
    page = (200, "text/html", "<html><form>login</form></html>")
    server = serve({"/api/current-user/whoami": page})
    res = _run_cli(project, server.url(), "pull")
    assert res.exit_code == EXIT_SERVICE and "not JSON" in res.output
    assert "Traceback" not in res.output


@pytest.mark.parametrize(
    ("tasks", "item", "field"),
    [
        ([{"id": 5, "data": {"item_id": "t1"}, "annotations": "oops"}], "task 5", "annotations"),
        ([{"id": 5, "data": "oops"}], "task 5", "data"),
        (["oops"], "element 1 of the array", "task"),
        (
            [{"id": 5, "data": {"item_id": "t1"}, "annotations": [{"id": 1, "completed_by": "x"}]}],
            "task 5",
            "annotations[0].completed_by",
        ),
        (
            [
                {
                    "id": 5,
                    "data": {"item_id": "t1"},
                    "annotations": [
                        {
                            "id": 1,
                            "result": [{"from_name": "label", "type": "choices", "value": "oops"}],
                        }
                    ],
                }
            ],
            "t1",
            "label",
        ),
    ],
)
def test_an_export_file_of_the_wrong_shape_names_the_task_and_field(
    planned_project: Any, tmp_path: Path, tasks: list[Any], item: str, field: str
) -> None:
    from datakit.annotate.importing import import_export

    project = planned_project("text_classification", [{"id": "t1", "text": "좋아요"}])
    export = tmp_path / "export.json"
    export.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(InputError) as exc:
        import_export(project, export)
    e = exc.value
    assert e.file == str(export) and e.item == item and e.field == field
    assert e.exit_code == EXIT_BAD_INPUT


def test_cli_import_of_a_malformed_export_is_exit_2_without_traceback(
    planned_project: Any, tmp_path: Path
) -> None:
    project = planned_project("text_classification", [{"id": "t1", "text": "좋아요"}])
    export = tmp_path / "export.json"
    export.write_text('[{"id": 5, "data": {"item_id": "t1"}, "annotations": "oops"}]')
    res = _run_cli(project, "http://unused", "import", str(export))
    assert res.exit_code == EXIT_BAD_INPUT and "Traceback" not in res.output
    assert "task 5" in res.output and "annotations" in res.output
