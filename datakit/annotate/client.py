"""The connection to a Label Studio server: where it is, how to authenticate, retries.

:func:`connect` resolves the URL and API key: explicit arguments, then the environment
variables named in the spec (``annotation.label_studio.url_env/api_key_env``), then the
project's local server (``.datakit/label-studio/server.json`` + ``token``). When nothing is
found the error lists every place that was looked at.

:class:`LabelStudioClient` speaks Label Studio's REST API over one ``httpx`` connection
pool (the same library the official SDK uses). Reads are retried with exponential backoff
on connection errors, timeouts and 5xx answers; every failure becomes a
:class:`~datakit.errors.LabelStudioError` naming the server and the request, never the
token.

A server is not trusted to be Label Studio, nor to be well-behaved: replies are checked
for the shape Label Studio gives them (a reply of another shape is a clear error, not an
``AttributeError``), exports are checked task by task (:func:`task_problem`), and every
message is passed through :func:`redact`, so neither a ``user:password@`` in the URL nor
an ``Authorization`` value echoed back by the server is ever printed. The URL's
credentials live apart from :attr:`Connection.url`, which is safe to show and to store.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from datakit.errors import LabelStudioError
from datakit.project import Project

RETRY_STATUS = frozenset({500, 502, 503, 504, 429})


@dataclass(frozen=True)
class Connection:
    """Where the server is. ``document_root`` is set when it serves the project's files
    through local-file serving (a local server started for this project).

    A ``user:password@`` in the URL is moved out of ``url`` (safe to print and to key state
    by) into ``userinfo``; requests still carry it (:attr:`request_url`)."""

    url: str
    api_key: str = field(repr=False)
    source: str = "arguments"
    document_root: Path | None = None
    userinfo: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if "@" in parts.netloc:
            userinfo, _, host = parts.netloc.rpartition("@")
            object.__setattr__(self, "url", urlunsplit(parts._replace(netloc=host)))
            object.__setattr__(self, "userinfo", userinfo)

    @property
    def request_url(self) -> str:
        """The URL requests go to, with the credentials it was given (never print it)."""
        if not self.userinfo:
            return self.url
        parts = urlsplit(self.url)
        return urlunsplit(parts._replace(netloc=f"{self.userinfo}@{parts.netloc}"))

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in a message."""
        out = [self.api_key]
        if self.userinfo:
            out.append(self.userinfo)
            out += [p for p in self.userinfo.split(":", 1) if len(p) >= 4]
        return tuple(s for s in out if s)

    @property
    def service(self) -> str:
        return f"Label Studio at {self.url}"


_AUTH_VALUE = re.compile(r"(?i)\b(token|bearer|basic)(\s+|%20|\+)[A-Za-z0-9._~+/=%-]{6,}")
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")
_JSON_SECRET = re.compile(
    r"(?i)([\"']?(?:authorization|api[_-]?key|token|access|refresh|password|secret)[\"']?"
    r"\s*[:=]\s*[\"']?)([^\"'\s,}]{6,})"
)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` without credentials: the given secret values, ``Token …``/``Bearer …``/
    ``Basic …`` values, ``user:password@`` in URLs, and values of authorization, token,
    password or key fields."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, "***")
    text = _AUTH_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
    text = _URL_USERINFO.sub(lambda m: f"{m.group(1)}***@", text)
    return _JSON_SECRET.sub(lambda m: f"{m.group(1)}***", text)


def connect(
    project: Project | None = None,
    *,
    url: str | None = None,
    api_key: str | None = None,
    document_root: Path | None = None,
) -> Connection:
    """Resolve the server's URL and API key (see module docstring)."""
    looked: list[str] = []
    if url and api_key:
        return Connection(url.rstrip("/"), api_key, "arguments", document_root)
    looked.append("arguments (url=, api_key=)")
    if project is not None:
        ls = project.spec.annotation.label_studio
        env_url, env_key = os.environ.get(ls.url_env), os.environ.get(ls.api_key_env)
        if env_url and env_key:
            return Connection(
                env_url.strip().rstrip("/"),
                env_key.strip(),
                f"env {ls.url_env}/{ls.api_key_env}",
                document_root,
            )
        looked.append(
            f"environment variables {ls.url_env} ({'set' if env_url else 'not set'}) and "
            f"{ls.api_key_env} ({'set' if env_key else 'not set'}), named in datakit.yaml"
        )
        from datakit.annotate.server import read_state, read_token, server_files

        files = server_files(project.root)
        state, token = read_state(files), read_token(files)
        if state and token and state.get("url"):
            root = Path(state["document_root"]) if state.get("document_root") else None
            return Connection(state["url"], token, "local server", root)
        looked.append(f"local server state {project.paths.rel(files.state)} and token file")
    raise LabelStudioError(
        "no Label Studio server configured; looked in:\n" + "\n".join(f"  - {w}" for w in looked),
        service="Label Studio",
        hint="start a local one with `datakit annotate serve --background`, or export the URL "
        "and API key in the environment variables named in datakit.yaml",
    )


class LabelStudioClient:
    """A small, retrying REST client. Use as a context manager or call :meth:`close`."""

    def __init__(
        self,
        conn: Connection,
        *,
        timeout: float = 60.0,
        export_timeout: float = 900.0,
        retries: int = 4,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.conn = conn
        self.timeout = timeout
        self.export_timeout = export_timeout
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=conn.request_url,
            timeout=httpx.Timeout(timeout, connect=10.0),
            transport=transport,
            headers={"Accept": "application/json"},
        )
        self._auth: str | None = None
        self._secrets: tuple[str, ...] = conn.secrets

    def __enter__(self) -> LabelStudioClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- plumbing -------------------------------------------------------------------------
    def _authorization(self) -> str:
        if self._auth is None:
            key = self.conn.api_key
            if key.count(".") == 2:  # a personal access token (JWT refresh token)
                what = "POST /api/token/refresh"
                resp = self._send("POST", "/api/token/refresh", json={"refresh": key}, auth=False)
                access = self._expect(self._json(resp, what), dict, what, "a token object")
                if not isinstance(access.get("access"), str) or not access["access"]:
                    raise self._shape_error(what, "a token object with 'access'", access)
                self._auth = f"Bearer {access['access']}"
                self._secrets = (*self._secrets, access["access"])
            else:
                self._auth = f"Token {key}"
        return self._auth

    def _error(self, what: str, message: str, hint: str) -> LabelStudioError:
        return LabelStudioError(
            redact(f"{what}: {message}", self._secrets),
            service=self.conn.service,
            hint=redact(hint, self._secrets),
        )

    def _json(self, resp: httpx.Response, what: str) -> Any:
        """The reply's JSON; a reply that is not JSON is an error saying what came instead."""
        try:
            return resp.json()
        except ValueError:  # also UnicodeDecodeError
            kind = resp.headers.get("content-type", "no content type").split(";")[0]
            head = resp.content[:120].decode("utf-8", "replace").strip()
            shown = f": {head!r}" if head else " (empty)"
            raise self._error(
                what,
                f"answered HTTP {resp.status_code} with {kind} that is not JSON{shown}",
                f"is {self.conn.url} a Label Studio server? check the URL (a proxy or login page "
                "may answer in its place)",
            ) from None

    def _shape_error(self, what: str, expected: str, got: Any) -> LabelStudioError:
        shown = json.dumps(got, ensure_ascii=False, default=str)
        shown = shown if len(shown) <= 120 else shown[:117] + "..."
        return self._error(
            what,
            f"the reply is not what Label Studio sends (expected {expected}, got "
            f"{type(got).__name__} {shown})",
            f"is {self.conn.url} a Label Studio server, and a version datakit supports "
            "(1.7 or later)?",
        )

    def _expect(self, data: Any, kind: type, what: str, expected: str) -> Any:
        if not isinstance(data, kind):
            raise self._shape_error(what, expected, data)
        return data

    def expect(self, data: Any, kind: type | tuple[type, ...], what: str, expected: str) -> Any:
        """``data`` when it is of ``kind``, else a LabelStudioError naming the reply (exit 3):
        for callers that read a reply this client does not check itself."""
        return self._expect(data, kind, what, expected)  # type: ignore[arg-type]

    def _objects(self, items: Any, what: str, expected: str, *, key: str = "id") -> list[Any]:
        """A list of objects that each carry ``key`` (an integer id)."""
        if not isinstance(items, list):
            raise self._shape_error(what, expected, items)
        for obj in items:
            if not isinstance(obj, dict) or not _is_int(obj.get(key)):
                raise self._shape_error(what, f"{expected} (each an object with an {key})", obj)
        return items

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        files: Any = None,
        retry: bool | None = None,
        timeout: float | None = None,
        auth: bool = True,
        stream: bool = False,
    ) -> httpx.Response:
        """One request with retries. ``retry`` defaults to True for GET/PATCH/PUT/DELETE;
        a POST is only retried when the connection never reached the server."""
        what = f"{method} {path}"
        retry = method != "POST" if retry is None else retry
        attempts = self.retries + 1
        last: str = ""
        for attempt in range(attempts):
            headers = {"Authorization": self._authorization()} if auth else {}
            try:
                req = self._http.build_request(
                    method,
                    path,
                    params=params,
                    json=json,
                    files=files,
                    headers=headers,
                    timeout=httpx.Timeout(timeout or self.timeout, connect=10.0),
                )
                resp = self._http.send(req, stream=stream)
            except httpx.ConnectError as exc:
                last = f"could not connect ({type(exc).__name__})"
                if attempt + 1 < attempts:
                    self._sleep(self.backoff * 2**attempt)
                    continue
                raise self._error(
                    what,
                    f"not reachable after {attempts} attempts ({last})",
                    "is the server running? start the local one with "
                    "`datakit annotate serve --background`, or check the URL variable",
                ) from None
            except httpx.TimeoutException as exc:
                last = f"timed out ({type(exc).__name__})"
                if retry and attempt + 1 < attempts:
                    self._sleep(self.backoff * 2**attempt)
                    continue
                raise self._error(
                    what,
                    f"{last} after {attempt + 1} attempt(s)",
                    "the server is slow or overloaded; rerun the command: it resumes",
                ) from None
            except httpx.TransportError as exc:
                last = f"connection failed ({type(exc).__name__})"
                if retry and attempt + 1 < attempts:
                    self._sleep(self.backoff * 2**attempt)
                    continue
                raise self._error(
                    what, f"{last} after {attempt + 1} attempt(s)", "rerun the command: it resumes"
                ) from None
            if resp.status_code in RETRY_STATUS and retry and attempt + 1 < attempts:
                resp.close()
                last = f"HTTP {resp.status_code}"
                self._sleep(self.backoff * 2**attempt)
                continue
            if resp.status_code >= 400:
                if stream:
                    resp.read()
                raise self._status_error(what, resp, attempt + 1)
            return resp
        raise self._error(what, last, "rerun the command")  # pragma: no cover

    def _status_error(self, what: str, resp: httpx.Response, attempts: int) -> LabelStudioError:
        code = resp.status_code
        detail = _detail(resp)
        if code in (401, 403):
            hint = (
                "the API key is wrong, expired or lacks rights: set a valid key in the environment "
                "variable named in datakit.yaml (Label Studio → Account & Settings → Access "
                "Token), or restart the local server with `datakit annotate serve`"
            )
            return self._error(what, f"refused the API key (HTTP {code}) {detail}".strip(), hint)
        if code >= 500:
            return self._error(
                what,
                f"answered HTTP {code} after {attempts} attempt(s) {detail}".strip(),
                "the server failed; check its log and rerun the command: it resumes",
            )
        return self._error(what, f"HTTP {code} {detail}".strip(), "see the server's message above")

    def get(self, path: str, **kw: Any) -> Any:
        return self._json(self._send("GET", path, **kw), f"GET {path}")

    def post(self, path: str, **kw: Any) -> Any:
        resp = self._send("POST", path, **kw)
        return self._json(resp, f"POST {path}") if resp.content else None

    def patch(self, path: str, **kw: Any) -> Any:
        return self._json(self._send("PATCH", path, **kw), f"PATCH {path}")

    def delete(self, path: str, **kw: Any) -> None:
        self._send("DELETE", path, **kw)

    # -- API ------------------------------------------------------------------------------
    def whoami(self) -> dict[str, Any]:
        what = "GET /api/current-user/whoami"
        data: dict[str, Any] = self._expect(
            self.get("/api/current-user/whoami"), dict, what, "the current user as an object"
        )
        return data

    def users(self) -> list[dict[str, Any]]:
        data = self.get("/api/users")
        if isinstance(data, dict) and "results" in data:
            data = data["results"]
        return list(self._objects(data, "GET /api/users", "a list of users"))

    def find_project(self, title: str) -> dict[str, Any] | None:
        data = self.get("/api/projects", params={"title": title, "page_size": 100})
        results = data.get("results", data) if isinstance(data, dict) else data
        for p in self._objects(results, "GET /api/projects", "a list of projects"):
            if p.get("title") == title:
                return dict(p)
        return None

    def project(self, project_id: int) -> dict[str, Any] | None:
        what = f"GET /api/projects/{project_id}"
        try:
            data: dict[str, Any] = self._expect(
                self.get(f"/api/projects/{project_id}"), dict, what, "a project object"
            )
        except LabelStudioError as exc:
            if "HTTP 404" in exc.message:
                return None
            raise
        return data

    def import_tasks(self, project_id: int, tasks: list[dict[str, Any]]) -> list[int]:
        """Import tasks; returns their new ids in order. Not retried (it is not idempotent)."""
        data = self.post(
            f"/api/projects/{project_id}/import",
            params={"return_task_ids": "true"},
            json=tasks,
            timeout=max(self.timeout, 300.0),
        )
        what = f"POST /api/projects/{project_id}/import"
        got = self._expect(data, dict, what, "an object with task_ids").get("task_ids", [])
        if not isinstance(got, list) or not all(_is_int(i) for i in got):
            raise self._shape_error(what, "task_ids as a list of task ids", got)
        ids = [int(i) for i in got]
        if len(ids) != len(tasks):
            raise self._error(
                f"POST /api/projects/{project_id}/import",
                f"imported {len(ids)} of {len(tasks)} tasks",
                "rerun `datakit annotate push`: it skips tasks that already exist",
            )
        return ids

    def iter_tasks(
        self,
        project_id: int,
        *,
        include: str = "id,data",
        query: dict[str, Any] | None = None,
        page_size: int = 5000,
    ) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            params: dict[str, Any] = {
                "project": project_id,
                "page": page,
                "page_size": page_size,
                "fields": "task_only",
                "include": include,
            }
            if query:
                params["query"] = json.dumps(query)
            try:
                data = self.get("/api/tasks", params=params, timeout=max(self.timeout, 300.0))
            except LabelStudioError as exc:
                if "HTTP 404" in exc.message:  # past the last page
                    return
                raise
            what = "GET /api/tasks"
            if isinstance(data, list):  # older servers answer with the bare list
                tasks = data
            else:
                tasks = self._expect(data, dict, what, "an object with tasks").get("tasks", [])
            yield from self._objects(tasks, what, "a list of tasks")
            if len(tasks) < page_size:
                return
            page += 1

    def server_time(self) -> str:
        """The server's clock (from the Date header), ISO 8601 UTC."""
        resp = self._send("GET", "/api/current-user/whoami")
        date = resp.headers.get("date")
        if not date:
            return ""
        try:
            return parsedate_to_datetime(date).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        except (TypeError, ValueError):  # a Date header that is not a date: use the local clock
            return ""

    def export_to(
        self,
        project_id: int,
        dest: Path,
        *,
        task_ids: list[int] | None = None,
        all_tasks: bool = False,
        attempts: int | None = None,
    ) -> int:
        """Stream a JSON export into ``dest`` chunk by chunk; returns the bytes written.

        Retried as a whole on connection errors, timeouts and 5xx (the file is rewritten).
        The file is then checked to be a JSON array of tasks of the shape Label Studio
        exports (:func:`task_problem`); anything else is a :class:`LabelStudioError`.
        """
        params: list[tuple[str, str]] = [
            ("exportType", "JSON"),
            ("download_all_tasks", "true" if all_tasks or task_ids else "false"),
        ]
        if task_ids:
            params += [("ids[]", str(i)) for i in task_ids]
        path = f"/api/projects/{project_id}/export"
        attempts = attempts or self.retries + 1
        for attempt in range(attempts):
            resp = self._send(
                "GET",
                path,
                params=params,
                timeout=self.export_timeout,
                stream=True,
                retry=attempts > 1,
            )
            n = 0
            try:
                with dest.open("wb") as fh:
                    for chunk in resp.iter_bytes(1 << 20):
                        fh.write(chunk)
                        n += len(chunk)
                self._check_export(dest, f"GET {path}")
                return n
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                if attempt + 1 < attempts:
                    self._sleep(self.backoff * 2**attempt)
                    continue
                raise self._error(
                    f"GET {path}",
                    f"the export broke off after {n:,} bytes ({type(exc).__name__}), "
                    f"{attempts} attempts",
                    "rerun `datakit annotate pull`: what was pulled before is kept and it "
                    "resumes from there",
                ) from None
            finally:
                resp.close()
        raise AssertionError("unreachable")  # pragma: no cover

    def _check_export(self, dest: Path, what: str) -> None:
        """Read the export once, element by element, and refuse one of another shape."""
        hint = (
            f"is {self.conn.url} a Label Studio server? rerun the command; if it happens again, "
            "the server's export is broken (see its log)"
        )
        n = 0
        try:
            for n, task in enumerate(iter_json_array(dest), 1):
                problem = task_problem(task)
                if problem is not None:
                    where, message = problem
                    tid = task.get("id") if isinstance(task, dict) else None
                    name = f"task {tid}" if tid is not None else f"element {n}"
                    raise self._error(
                        what,
                        f"the export is not what Label Studio sends: {name}: {where}: {message}",
                        hint,
                    )
        except ValueError as exc:  # not JSON, not an array, not UTF-8
            msg = str(exc).replace(str(dest), "the export")
            raise self._error(
                what, f"the export is not a JSON array of tasks (after {n} tasks: {msg})", hint
            ) from None


def _is_int(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, str) and value.isdigit())


def task_problem(task: Any, *, require_id: bool = True) -> tuple[str, str] | None:
    """What is wrong with one exported task, as ``(field, message)``; None if its shape is
    that of a Label Studio export (only the parts datakit reads are checked)."""

    def kind(v: Any) -> str:
        return "null" if v is None else type(v).__name__

    if not isinstance(task, dict):
        return "task", f"is a {kind(task)}, not an object"
    if ("id" in task or require_id) and not _is_int(task.get("id")):
        return "id", f"is {kind(task.get('id'))} {task.get('id')!r}, not a task id"
    if task.get("data") is not None and not isinstance(task["data"], dict):
        return "data", f"is a {kind(task['data'])}, not an object"
    anns = task.get("annotations")
    if anns is None:
        return None
    if not isinstance(anns, list):
        return "annotations", f"is a {kind(anns)}, not a list"
    for i, ann in enumerate(anns):
        where = f"annotations[{i}]"
        if not isinstance(ann, dict):
            return where, f"is a {kind(ann)}, not an object"
        if not _is_int(ann.get("id")):
            return f"{where}.id", f"is {kind(ann.get('id'))} {ann.get('id')!r}, not an id"
        result = ann.get("result")
        if result is not None and not (
            isinstance(result, list) and all(isinstance(r, dict) for r in result)
        ):
            return f"{where}.result", "is not a list of result objects"
        who = ann.get("completed_by")
        if who is not None and not (_is_int(who) or isinstance(who, dict)):
            return f"{where}.completed_by", f"is {who!r}, not a user id or object"
        lead = ann.get("lead_time")
        if lead is not None and (isinstance(lead, bool) or not isinstance(lead, int | float)):
            return f"{where}.lead_time", f"is {lead!r}, not a number of seconds"
        for key in ("created_at", "updated_at"):
            if ann.get(key) is not None and not isinstance(ann[key], str):
                return f"{where}.{key}", f"is {ann[key]!r}, not a date"
    return None


def _detail(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        text = resp.text.strip()
        return f"— {text[:300]}" if text and "<html" not in text[:200].lower() else ""
    if isinstance(body, dict):
        for key in ("validation_errors", "detail", "message", "error"):
            if body.get(key):
                value = body[key]
                text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                return f"— {text[:600]}"
    return f"— {json.dumps(body, ensure_ascii=False)[:300]}"


def iter_json_array(path: Path, chunk_size: int = 1 << 20) -> Iterator[dict[str, Any]]:
    """Yield the elements of a JSON array file one by one, without loading the whole file."""
    decoder = json.JSONDecoder()
    with path.open(encoding="utf-8") as fh:
        buf = ""
        pos = 0
        started = False
        eof = False
        while True:
            # skip whitespace, the opening bracket and commas
            while True:
                while pos < len(buf) and buf[pos] in " \t\r\n,":
                    pos += 1
                if pos < len(buf) or eof:
                    break
                more = fh.read(chunk_size)
                if not more:
                    eof = True
                buf, pos = buf[pos:] + more, 0
            if pos >= len(buf):
                return
            if not started:
                if buf[pos] != "[":
                    raise ValueError(f"{path} is not a JSON array")
                started = True
                pos += 1
                continue
            if buf[pos] == "]":
                return
            while True:
                try:
                    obj, end = decoder.raw_decode(buf, pos)
                except json.JSONDecodeError:
                    more = fh.read(chunk_size)
                    if not more:
                        raise
                    buf, pos = buf[pos:] + more, 0
                    continue
                break
            yield obj
            pos = end
            if pos > chunk_size:
                buf, pos = buf[pos:], 0
