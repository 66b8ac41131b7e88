"""A local Label Studio server for one project (``datakit annotate serve``).

Label Studio's pins clash with datakit's, so it lives in its own virtual environment.
Its SQLite data, the admin's API token and the server's pid/URL sit under
``<project>/.datakit/label-studio/`` (git-ignored). The admin account and a 40-hex token are
provisioned through Label Studio's ``LABEL_STUDIO_USERNAME/PASSWORD/USER_TOKEN``
environment variables, so nobody has to open the web UI to get a key.

Label Studio's ``--host`` is only the public URL; the bind address is ``--internal-host``
(it defaults to 0.0.0.0), so both are passed and the listening socket is checked.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datakit.errors import LabelStudioError, ProjectError
from datakit.io import write_json, write_text

DEFAULT_VENV = Path("~/.cache/datakit/label-studio-venv").expanduser()
VENV_ENV = "DATAKIT_LABEL_STUDIO_VENV"
ADMIN_EMAIL = "admin@datakit.local"
BIND_HOST = "127.0.0.1"
START_TIMEOUT = 180.0


@dataclass(frozen=True)
class ServerFiles:
    """Where a local server keeps its state (inside the project's ``.datakit/``)."""

    root: Path  # .datakit/label-studio

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def token(self) -> Path:
        return self.root / "token"

    @property
    def password(self) -> Path:
        return self.root / "password"

    @property
    def state(self) -> Path:
        return self.root / "server.json"

    @property
    def log(self) -> Path:
        return self.root / "server.log"


@dataclass(frozen=True)
class ServerInfo:
    url: str
    port: int
    pid: int | None
    document_root: str
    admin_email: str
    data_dir: str
    bind: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "port": self.port,
            "pid": self.pid,
            "document_root": self.document_root,
            "admin_email": self.admin_email,
            "data_dir": self.data_dir,
            "bind": self.bind,
        }


def server_files(project_root: Path) -> ServerFiles:
    return ServerFiles(project_root / ".datakit" / "label-studio")


# -- finding and installing Label Studio -------------------------------------------------


def venv_candidates(configured: str | None = None) -> list[tuple[str, Path]]:
    """Every place ``label-studio`` is looked for, in order: (where it came from, path)."""
    out: list[tuple[str, Path]] = []
    if configured:
        out.append(("spec annotation.label_studio.venv", _venv_exe(Path(configured).expanduser())))
    env = os.environ.get(VENV_ENV)
    if env:
        out.append((f"env {VENV_ENV}", _venv_exe(Path(env).expanduser())))
    on_path = shutil.which("label-studio")
    out.append(("PATH", Path(on_path) if on_path else Path("label-studio")))
    out.append(("default venv", _venv_exe(DEFAULT_VENV)))
    return out


def _venv_exe(venv: Path) -> Path:
    return venv / ("Scripts" if sys.platform == "win32" else "bin") / "label-studio"


def find_label_studio(configured: str | None = None) -> Path | None:
    for _, exe in venv_candidates(configured):
        if exe.is_file() and os.access(exe, os.X_OK):
            return exe
    return None


def install_label_studio(
    venv: Path | None = None, *, log: Callable[[str], None] | None = None
) -> Path:
    """Create a virtual environment holding ``label-studio`` (pip) and return the executable."""
    venv = (venv or DEFAULT_VENV).expanduser()
    exe = _venv_exe(venv)
    if exe.is_file():
        return exe
    say = log or (lambda _m: None)
    say(f"creating {venv} (Label Studio needs its own environment)")
    python = venv / ("Scripts" if sys.platform == "win32" else "bin") / "python"
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        say("installing label-studio with pip (a few minutes)")
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "label-studio"],
            check=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ProjectError(
            f"could not install Label Studio into {venv}: {exc}",
            hint=f"install it by hand: python3 -m venv {venv} && "
            f"{venv}/bin/pip install label-studio",
        ) from exc
    return exe


def not_found_error(configured: str | None) -> ProjectError:
    looked = "\n".join(f"  - {where}: {path}" for where, path in venv_candidates(configured))
    return ProjectError(
        f"Label Studio is not installed; looked in:\n{looked}",
        hint="run `datakit annotate serve --install` to create "
        f"{DEFAULT_VENV} with label-studio, or install it yourself "
        f"(python3 -m venv DIR && DIR/bin/pip install label-studio) and set {VENV_ENV}=DIR",
    )


# -- starting and stopping ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((BIND_HOST, 0))
        return int(s.getsockname()[1])


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.3)
        return s.connect_ex((BIND_HOST, port)) == 0


def _secret_file(path: Path, make: Callable[[], str]) -> str:
    """Read a secret file, creating it with 0600 permissions on first use."""
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(value + "\n")
    path.chmod(0o600)
    return value


def read_token(files: ServerFiles) -> str | None:
    if not files.token.is_file():
        return None
    return files.token.read_text(encoding="utf-8").strip() or None


def read_state(files: ServerFiles) -> dict[str, Any] | None:
    if not files.state.is_file():
        return None
    try:
        data: dict[str, Any] = json.loads(files.state.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child still "exists"; treat it as dead
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def health(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/health", timeout=timeout) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def listening_address(port: int) -> str | None:
    """The local address a TCP socket listens on for ``port`` (Linux /proc), else None."""
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            local, state = parts[1], parts[3]
            if state != "0A":  # LISTEN
                continue
            addr_hex, port_hex = local.split(":")
            if int(port_hex, 16) != port:
                continue
            if v6:
                return "::" if set(addr_hex) == {"0"} else addr_hex
            raw = bytes.fromhex(addr_hex)[::-1]
            return socket.inet_ntoa(raw)
    return None


def start_server(
    project_root: Path,
    *,
    port: int | None = None,
    files: ServerFiles | None = None,
    venv: str | None = None,
    install: bool = False,
    wait: bool = True,
    timeout: float = START_TIMEOUT,
    log: Callable[[str], None] | None = None,
) -> tuple[ServerInfo, subprocess.Popen[bytes]]:
    """Start Label Studio detached from the terminal, wait for ``/health``, write server.json.

    ``project_root`` is the local-files document root (media are served from it).
    Returns the server info and the process handle. The token is in ``files.token``.
    """
    files = files or server_files(project_root)
    exe = find_label_studio(venv)
    if exe is None:
        if not install:
            raise not_found_error(venv)
        exe = install_label_studio(Path(venv).expanduser() if venv else None, log=log)
    existing = read_state(files)
    if existing and pid_alive(existing.get("pid")) and health(existing["url"]):
        raise ProjectError(
            f"a Label Studio server for this project is already running at {existing['url']} "
            f"(pid {existing['pid']})",
            hint="use it, or stop it with `datakit annotate stop`",
        )
    port = port or free_port()
    if _port_in_use(port):
        raise ProjectError(
            f"port {port} on {BIND_HOST} is already in use",
            hint="pick another with --port, or set annotation.label_studio.port in datakit.yaml",
        )
    files.data.mkdir(parents=True, exist_ok=True)
    token = _secret_file(files.token, lambda: secrets.token_hex(20))
    password = _secret_file(files.password, lambda: secrets.token_urlsafe(18))
    url = f"http://{BIND_HOST}:{port}"
    env = {
        **os.environ,
        "LABEL_STUDIO_BASE_DATA_DIR": str(files.data),
        "LABEL_STUDIO_USERNAME": ADMIN_EMAIL,
        "LABEL_STUDIO_PASSWORD": password,
        "LABEL_STUDIO_USER_TOKEN": token,
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
        "LOCAL_FILES_SERVING_ENABLED": "true",
        "LOCAL_FILES_DOCUMENT_ROOT": str(project_root),
        "LABEL_STUDIO_HOST": url,
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("HOST", None)
    cmd = [
        str(exe),
        "start",
        "--host",
        url,
        "--internal-host",
        BIND_HOST,
        "--port",
        str(port),
        "--no-browser",
        "--data-dir",
        str(files.data),
    ]
    logfile = files.log.open("ab")
    try:
        proc = subprocess.Popen(
            cmd,
            env=env,
            stdout=logfile,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    finally:
        logfile.close()
    info = ServerInfo(
        url=url,
        port=port,
        pid=proc.pid,
        document_root=str(project_root),
        admin_email=ADMIN_EMAIL,
        data_dir=str(files.data),
    )
    write_json(files.state, info.to_dict())
    if wait:
        try:
            _wait_ready(info, proc, files, timeout)
        except BaseException:  # Ctrl-C or a failed start: never leave a server behind
            stop_pid(proc.pid)
            raise
        info = ServerInfo(**{**info.to_dict(), "bind": listening_address(port)})
        write_json(files.state, info.to_dict())
        if info.bind not in (None, BIND_HOST):
            stop_server(project_root, files=files)
            raise LabelStudioError(
                f"listens on {info.bind}, not only {BIND_HOST}; stopped it",
                service=f"Label Studio at {url}",
                hint="this Label Studio version ignores --internal-host; upgrade it",
            )
    return info, proc


def _wait_ready(
    info: ServerInfo, proc: subprocess.Popen[bytes], files: ServerFiles, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = _log_tail(files.log)
            raise LabelStudioError(
                f"exited with code {proc.returncode} while starting; last log lines:\n{tail}",
                service=f"Label Studio at {info.url}",
                hint=f"read {files.log}",
            )
        if health(info.url):
            return
        time.sleep(0.5)
    stop_pid(proc.pid)
    raise LabelStudioError(
        f"did not answer /health within {timeout:.0f} s",
        service=f"Label Studio at {info.url}",
        hint=f"read {files.log}; the first start creates the database and can take a minute",
    )


def _log_tail(path: Path, n: int = 15) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join("  " + line for line in lines[-n:])


def stop_pid(pid: int, timeout: float = 15.0) -> bool:
    """SIGTERM the server's process group, then SIGKILL after ``timeout``. True if it ran."""
    if not pid_alive(pid):
        return False
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return False
    # only signal the group if the server leads it (it was started in its own session)
    kill: Callable[[int], None]
    if pgid == pid:

        def kill(sig: int) -> None:
            os.killpg(pgid, sig)
    else:

        def kill(sig: int) -> None:
            os.kill(pid, sig)

    try:
        kill(signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            _reap(pid)
            return True
        _reap(pid)
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        kill(signal.SIGKILL)
    _reap(pid)
    return True


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def stop_server(project_root: Path, *, files: ServerFiles | None = None) -> bool:
    """Stop the project's local server. True if one was running."""
    files = files or server_files(project_root)
    state = read_state(files)
    if not state:
        return False
    ran = stop_pid(int(state.get("pid") or 0))
    write_json(files.state, {**state, "pid": None})
    return ran


def running_server(project_root: Path) -> dict[str, Any] | None:
    """server.json of the project's local server if its process is alive."""
    state = read_state(server_files(project_root))
    if state and pid_alive(state.get("pid")):
        return state
    return None


def ensure_gitignored(project_root: Path) -> None:
    """Make sure ``.datakit/`` is ignored in the project's .gitignore (tokens live there)."""
    gi = project_root / ".gitignore"
    lines = gi.read_text(encoding="utf-8").splitlines() if gi.is_file() else []
    if any(line.strip() in (".datakit", ".datakit/", "/.datakit/", "/.datakit") for line in lines):
        return
    write_text(gi, "\n".join([*lines, "/.datakit/"]) + "\n")
