"""The connection to a Label Studio server: where it is, how to authenticate, retries.

:func:`connect` resolves the URL and API key: explicit arguments, then the environment
variables named in the spec (``annotation.label_studio.url_env/api_key_env``), then the
project's local server (``.datakit/label-studio/server.json`` + ``token``). When nothing is
found the error lists every place that was looked at.

:class:`LabelStudioClient` speaks to Label Studio through the official SDK
(``label_studio_sdk.LabelStudio``, which follows the API: personal access tokens and their
refresh, endpoints), handing it an ``httpx.Client`` of datakit's own whose
:class:`RetryTransport` retries with exponential backoff on connection errors, and on
timeouts and 5xx answers for requests that are safe to repeat. Every failure becomes a
:class:`~datakit.errors.LabelStudioError` naming the server and the request, never the
token (:meth:`LabelStudioClient._calls` is the one place that maps them).

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
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from datakit.annotate.transport import RetryTransport
from datakit.errors import LabelStudioError
from datakit.project import Project


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
    """Label Studio through its official SDK (``label_studio_sdk.LabelStudio``), given an
    ``httpx.Client`` of datakit's own: timeouts, :class:`RetryTransport`, and a ``transport``
    that tests wrap to inject faults. The SDK handles authentication (legacy tokens and
    personal access tokens, whose access token it refreshes) and the endpoints; this class
    checks the replies, maps every failure to one :class:`LabelStudioError` (:meth:`_calls`)
    and keeps what the SDK cannot do well: a streamed export checked task by task, and
    paging bounded by what the server says. Use as a context manager or call :meth:`close`.
    """

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
        # LabelStudio's base class: the same client and constructor, without the extensions
        # (pandas export helpers, a pager wrapper) whose import costs ~1.5 s and ~45 MB per
        # command; datakit streams exports and pages itself
        from label_studio_sdk.base_client import LabelStudioBase as LabelStudio

        self.conn = conn
        self.timeout = timeout
        self.export_timeout = export_timeout
        self.retries = retries
        self.backoff = backoff
        self.transport = RetryTransport(
            transport or httpx.HTTPTransport(), retries=retries, backoff=backoff, sleep=sleep
        )
        self._http = httpx.Client(
            transport=self.transport,
            timeout=httpx.Timeout(timeout, connect=10.0),
            headers={"Accept": "application/json"},
        )
        self._secrets: tuple[str, ...] = conn.secrets
        with self._calls("authentication"):
            self.sdk = LabelStudio(
                base_url=conn.request_url,
                api_key=conn.api_key,
                httpx_client=self._http,
                max_retries=0,  # RetryTransport retries
            )

    def __enter__(self) -> LabelStudioClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- one place that turns failures into LabelStudioError --------------------------------
    def _all_secrets(self) -> tuple[str, ...]:
        sdk = getattr(self, "sdk", None)
        tokens = getattr(getattr(sdk, "_client_wrapper", None), "_tokens_client", None)
        access = getattr(tokens, "_access_token", None)
        return (*self._secrets, access) if access else self._secrets

    def _error(self, what: str, message: str, hint: str) -> LabelStudioError:
        secrets = self._all_secrets()
        return LabelStudioError(
            redact(f"{what}: {message}", secrets),
            service=self.conn.service,
            hint=redact(hint, secrets),
        )

    @contextmanager
    def _calls(
        self, what: str = "", *, retry: bool | None = None, expected: str = "another reply"
    ) -> Iterator[None]:
        """Run SDK calls; map httpx errors, the SDK's ``ApiError`` and replies the SDK could
        not read to a :class:`LabelStudioError` naming the request (never the token)."""
        from label_studio_sdk.core.api_error import ApiError

        self.transport.last = ""
        try:
            with self.transport.retrying(retry):
                yield
        except LabelStudioError:
            raise
        except ApiError as exc:
            raise self._api_error(self.transport.last or what, exc) from None
        except httpx.ConnectError as exc:
            raise self._error(
                self.transport.last or what,
                f"not reachable after {self.transport.attempts} attempts "
                f"(could not connect, {type(exc).__name__})",
                "is the server running? start the local one with "
                "`datakit annotate serve --background`, or check the URL variable",
            ) from None
        except httpx.TimeoutException as exc:
            raise self._error(
                self.transport.last or what,
                f"timed out ({type(exc).__name__}) after {self.transport.attempts} attempt(s)",
                "the server is slow or overloaded; rerun the command: it resumes",
            ) from None
        except httpx.HTTPError as exc:
            raise self._error(
                self.transport.last or what,
                f"connection failed ({type(exc).__name__}) after {self.transport.attempts} "
                "attempt(s)",
                "rerun the command: it resumes",
            ) from None
        except (TypeError, ValueError, AttributeError):
            # the SDK could not read a 2xx reply (a list where an object belongs, …)
            raise self._shape_error(
                self.transport.last or what, expected, self._last_reply()
            ) from None

    def _last_reply(self) -> Any:
        resp = self.transport.response
        try:
            return resp.json() if resp is not None else None
        except Exception:  # unread or not JSON: show nothing rather than fail again
            return None

    def _api_error(self, what: str, exc: Any) -> LabelStudioError:
        code = int(exc.status_code or 0)
        body = exc.body
        if 200 <= code < 300 or code == 0:  # the SDK could not parse a successful reply
            headers = {str(k).lower(): str(v) for k, v in (exc.headers or {}).items()}
            if isinstance(body, str):
                kind = headers.get("content-type", "no content type").split(";")[0]
                head = body[:120].strip()
                shown = f": {head!r}" if head else " (empty)"
                return self._error(
                    what,
                    f"answered HTTP {code} with {kind} that is not JSON{shown}",
                    f"is {self.conn.url} a Label Studio server? check the URL (a proxy or login "
                    "page may answer in its place)",
                )
            return self._shape_error(what, "a reply the SDK can read", body)
        detail = _detail(body)
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
                f"answered HTTP {code} after {self.transport.attempts} attempt(s) {detail}".strip(),
                "the server failed; check its log and rerun the command: it resumes",
            )
        return self._error(what, f"HTTP {code} {detail}".strip(), "see the server's message above")

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

    def _expect(self, data: Any, kind: type | tuple[type, ...], what: str, expected: str) -> Any:
        if not isinstance(data, kind):
            raise self._shape_error(what, expected, data)
        return data

    def expect(self, data: Any, kind: type | tuple[type, ...], what: str, expected: str) -> Any:
        """``data`` when it is of ``kind``, else a LabelStudioError naming the reply (exit 3):
        for callers that read a reply this client does not check itself."""
        return self._expect(data, kind, what, expected)

    def _objects(self, items: Any, what: str, expected: str, *, key: str = "id") -> list[Any]:
        """A list of objects that each carry ``key`` (an integer id)."""
        if not isinstance(items, list):
            raise self._shape_error(what, expected, items)
        for obj in items:
            if not isinstance(obj, dict) or not _is_int(obj.get(key)):
                raise self._shape_error(what, f"{expected} (each an object with an {key})", obj)
        return items

    def _object(self, model: Any, what: str, expected: str) -> dict[str, Any]:
        """An SDK reply as a plain dict with an integer id (the fields the server sent)."""
        data = _plain(model)
        if not isinstance(data, dict) or not _is_int(data.get("id")):
            raise self._shape_error(self.transport.last or what, expected, data)
        return data

    # -- requests the SDK has no method for (multipart upload, project summary) -------------
    def request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        files: Any = None,
        retry: bool | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        """One request through the SDK's HTTP layer (its authentication, this client's
        transport); a 4xx/5xx answer is a LabelStudioError."""
        options: dict[str, Any] = {"timeout": timeout} if timeout else {}
        with self._calls(f"{method} {path}", retry=retry):
            resp = self.sdk._client_wrapper.httpx_client.request(
                path.lstrip("/"),
                method=method,
                params=params,
                json=json,
                files=files,
                request_options=options or None,  # type: ignore[arg-type]
            )
        if resp.status_code >= 400:
            from label_studio_sdk.core.api_error import ApiError

            body: Any
            try:
                body = resp.json()
            except ValueError:
                body = resp.text
            raise self._api_error(
                f"{method} {resp.request.url.path}",
                ApiError(status_code=resp.status_code, headers=dict(resp.headers), body=body),
            )
        return resp

    def _json(self, resp: httpx.Response) -> Any:
        """The reply's JSON; a reply that is not JSON is an error saying what came instead."""
        try:
            return resp.json()
        except ValueError:  # also UnicodeDecodeError
            from label_studio_sdk.core.api_error import ApiError

            raise self._api_error(
                f"{resp.request.method} {resp.request.url.path}",
                ApiError(
                    status_code=resp.status_code,
                    headers=dict(resp.headers),
                    body=resp.content[:120].decode("utf-8", "replace"),
                ),
            ) from None

    def get(self, path: str, **kw: Any) -> Any:
        return self._json(self.request("GET", path, **kw))

    def post(self, path: str, **kw: Any) -> Any:
        resp = self.request("POST", path, **kw)
        return self._json(resp) if resp.content else None

    def patch(self, path: str, **kw: Any) -> Any:
        return self._json(self.request("PATCH", path, **kw))

    def delete(self, path: str, **kw: Any) -> None:
        self.request("DELETE", path, **kw)

    # -- API --------------------------------------------------------------------------------
    def whoami(self) -> dict[str, Any]:
        with self._calls("GET /api/current-user/whoami", expected="the current user as an object"):
            me = _plain(self.sdk.users.whoami())
        what = self.transport.last or "GET /api/current-user/whoami"
        return dict(self._expect(me, dict, what, "the current user as an object"))

    def server_time(self) -> str:
        """The server's clock (from the Date header), ISO 8601 UTC."""
        with self._calls("GET /api/current-user/whoami"):
            date = self.sdk.users.with_raw_response.whoami().headers.get("date")
        if not date:
            return ""
        try:
            return parsedate_to_datetime(date).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        except (TypeError, ValueError):  # a Date header that is not a date: use the local clock
            return ""

    def users(self) -> list[dict[str, Any]]:
        with self._calls("GET /api/users", expected="a list of users"):
            data = self.sdk.users.list()
        return self._objects(_plain(data), self.transport.last, "a list of users")

    def create_user(self, *, email: str, username: str, **fields: Any) -> dict[str, Any]:
        with self._calls("POST /api/users"):
            user = self.sdk.users.create(email=email, username=username, **fields)
        return self._object(user, "POST /api/users", "a user object")

    def find_project(self, title: str) -> dict[str, Any] | None:
        """The project with exactly this title (the first page of a title search: titles are
        unique per dataset, so one page is enough and a server cannot page us forever)."""
        try:
            with self._calls("GET /api/projects", expected="a list of projects"):
                items = _plain(self.sdk.projects.list(title=title, page=1, page_size=100).items)
        except LabelStudioError:
            items = self._last_reply()  # servers before 1.8 answer with the bare list
            if not isinstance(items, list):
                raise
        for p in self._objects(items, self.transport.last, "a list of projects"):
            if p.get("title") == title:
                return dict(p)
        return None

    def project(self, project_id: int) -> dict[str, Any] | None:
        """The project, or None when the server has no project with this id."""
        try:
            with self._calls(f"GET /api/projects/{project_id}", expected="a project object"):
                found = self.sdk.projects.get(project_id)
        except LabelStudioError as exc:
            if "HTTP 404" in exc.message:
                return None
            raise
        return self._object(found, f"GET /api/projects/{project_id}", "a project object")

    def create_project(self, **settings: Any) -> dict[str, Any]:
        with self._calls("POST /api/projects"):
            made = self.sdk.projects.create(**settings)
        return self._object(made, "POST /api/projects", "a project object")

    def update_project(self, project_id: int, **settings: Any) -> dict[str, Any]:
        with self._calls(f"PATCH /api/projects/{project_id}"):
            changed = self.sdk.projects.update(project_id, **settings)
        return self._object(changed, f"PATCH /api/projects/{project_id}", "a project object")

    def project_summary(self, project_id: int) -> dict[str, Any]:
        """Label counts of existing annotations (not in the SDK: raw request)."""
        data = self.get(f"/api/projects/{project_id}/summary/")
        return dict(self._expect(data, dict, "project summary", "an object"))

    def import_tasks(self, project_id: int, tasks: list[dict[str, Any]]) -> list[int]:
        """Import tasks; returns their new ids in order. Not retried (it is not idempotent)."""
        what = f"POST /api/projects/{project_id}/import"
        with self._calls(what, retry=False):
            reply = self.sdk.projects.import_tasks(
                project_id,
                request=tasks,
                return_task_ids=True,
                request_options={"timeout": max(self.timeout, 300.0)},
            )
        got = _plain(reply)
        got = self._expect(got, dict, what, "an object with task_ids").get("task_ids", [])
        if not isinstance(got, list) or not all(_is_int(i) for i in got):
            raise self._shape_error(what, "task_ids as a list of task ids", got)
        ids = [int(i) for i in got]
        if len(ids) != len(tasks):
            raise self._error(
                what,
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
        """The project's tasks (only the ``include`` fields), page by page with the SDK's
        ``tasks.list``. The pages are asked for here, one ``tasks.list`` call each, and
        paging stops at the first short page: the SDK's own pager keeps asking as long as a
        server answers with items, which a misbehaving server can do forever."""
        page = 1
        while True:
            what = "GET /api/tasks"
            try:
                with self._calls(what, expected="an object with a list of tasks"):
                    got: Any = self.sdk.tasks.list(
                        project=project_id,
                        page=page,
                        page_size=page_size,
                        fields="task_only",
                        include=include,
                        query=json.dumps(query) if query else None,
                        request_options={"timeout": max(self.timeout, 300.0)},
                    )
                    tasks = _plain(got.items)
            except LabelStudioError as exc:
                if "HTTP 404" in exc.message:  # past the last page
                    return
                tasks = self._last_reply()  # servers before 1.8 answer with the bare list
                if not isinstance(tasks, list):
                    raise
            yield from self._objects(tasks, self.transport.last or what, "a list of tasks")
            if len(tasks) < page_size:
                return
            page += 1

    def task(self, task_id: int) -> dict[str, Any]:
        with self._calls(f"GET /api/tasks/{task_id}"):
            got = self.sdk.tasks.get(str(task_id))
        return self._object(got, f"GET /api/tasks/{task_id}", "a task object")

    def create_annotation(self, task_id: int, **fields: Any) -> dict[str, Any]:
        with self._calls(f"POST /api/tasks/{task_id}/annotations", retry=False):
            made = self.sdk.annotations.create(task_id, **fields)
        return self._object(made, f"POST /api/tasks/{task_id}/annotations", "an annotation")

    def predictions(self, project_id: int) -> list[dict[str, Any]]:
        with self._calls("GET /api/predictions"):
            data = _plain(self.sdk.predictions.list(project=project_id))
        return self._objects(data, self.transport.last, "a list of predictions", key="task")

    def create_prediction(self, **fields: Any) -> dict[str, Any]:
        with self._calls("POST /api/predictions", retry=False):
            made = self.sdk.predictions.create(**fields)
        return self._object(made, "POST /api/predictions", "a prediction object")

    def local_storages(self, project_id: int) -> list[dict[str, Any]]:
        with self._calls("GET /api/storages/localfiles"):
            data = _plain(self.sdk.import_storage.local.list(project=project_id))
        return self._objects(data, self.transport.last, "a list of storages")

    def create_local_storage(self, project_id: int, **fields: Any) -> dict[str, Any]:
        with self._calls("POST /api/storages/localfiles", retry=False):
            made = self.sdk.import_storage.local.create(project=project_id, **fields)
        return self._object(made, "POST /api/storages/localfiles", "a storage object")

    def file_uploads(self, project_id: int, ids: list[int]) -> list[dict[str, Any]]:
        with self._calls(f"GET /api/projects/{project_id}/file-uploads"):
            data = _plain(self.sdk.files.list(project_id, ids=json.dumps(ids)))
        return self._objects(data, self.transport.last, "a list of file uploads")

    def export_to(
        self,
        project_id: int,
        dest: Path,
        *,
        task_ids: list[int] | None = None,
        all_tasks: bool = False,
        attempts: int | None = None,
    ) -> int:
        """Stream a JSON export (the SDK's ``exports.download_sync``) into ``dest`` chunk by
        chunk; returns the bytes written.

        Retried as a whole on connection errors, timeouts and 5xx (the file is rewritten).
        The file is then checked to be a JSON array of tasks of the shape Label Studio
        exports (:func:`task_problem`); anything else is a :class:`LabelStudioError`.
        """
        options: dict[str, Any] = {"timeout": self.export_timeout, "chunk_size": 1 << 20}
        if task_ids:  # the server reads `ids[]` (the SDK's `ids` parameter sends `ids`)
            options["additional_query_parameters"] = {"ids[]": [str(i) for i in task_ids]}
        what = f"GET /api/projects/{project_id}/export"
        attempts = attempts or self.retries + 1
        for attempt in range(attempts):
            n = 0
            broke: httpx.TransportError | None = None
            with self._calls(what, retry=attempts > 1):
                try:
                    with dest.open("wb") as fh:
                        for chunk in self.sdk.projects.exports.download_sync(
                            project_id,
                            export_type="JSON",
                            download_all_tasks=bool(all_tasks or task_ids),
                            request_options=options,
                        ):
                            fh.write(chunk)
                            n += len(chunk)
                except httpx.TransportError as exc:
                    if not self.transport.responded:  # the transport has retried it already
                        raise
                    broke = exc  # the answer broke off mid-body: fetch it again whole
            if broke is not None:
                if attempt + 1 < attempts:
                    self.transport.sleep(self.backoff * 2**attempt)
                    continue
                raise self._error(
                    what,
                    f"the export broke off after {n:,} bytes ({type(broke).__name__}), "
                    f"{attempts} attempts",
                    "rerun `datakit annotate pull`: what was pulled before is kept and it "
                    "resumes from there",
                )
            self._check_export(dest, what)
            return n
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


def _detail(body: Any) -> str:
    """The server's own words from an error reply's body (parsed JSON, or text)."""
    if body is None:
        return ""
    if isinstance(body, str | bytes):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        text = text.strip()
        return f"— {text[:300]}" if text and "<html" not in text[:200].lower() else ""
    if isinstance(body, dict):
        for key in ("validation_errors", "detail", "message", "error"):
            if body.get(key):
                value = body[key]
                text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                return f"— {text[:600]}"
    return f"— {json.dumps(body, ensure_ascii=False, default=str)[:300]}"


def _plain(value: Any) -> Any:
    """An SDK reply (pydantic models, lists of them) as plain JSON data: the fields the server
    sent, with their JSON types."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    dump = getattr(value, "model_dump", None)
    if dump is None:
        return value
    with warnings.catch_warnings():  # a field of an unexpected type is checked by the caller
        warnings.simplefilter("ignore")
        return dump(mode="json", exclude_unset=True, by_alias=True)


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
