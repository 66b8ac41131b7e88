"""A Spark standalone cluster on this machine, started from pyspark's own launcher.

One master and two workers (``spark-class org.apache.spark.deploy.master.Master`` and
``…worker.Worker``), bound to 127.0.0.1 on free ports, each worker with one core and 1 GB.
Their logs and work directories live under the given folder. ``stop()`` ends exactly the
processes started here (by their process id), whatever state they are in.

The executors run ``executor_python``: an interpreter that sees this virtual environment's
third-party packages (pyspark, pyarrow, pandas, Great Expectations …) but not datakit, so a
job only works when the driver ships datakit to them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def java_available() -> bool:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return True
    return shutil.which("java") is not None


def executor_python(folder: Path) -> Path:
    """A virtual environment whose only link to the packages is a ``.pth`` line naming this
    environment's site-packages: every third-party module imports, datakit does not (its
    editable install is a ``.pth`` file there too, and ``.pth`` files in a folder added by a
    ``.pth`` line are not processed)."""
    env = folder / "executor-env"
    if not (env / "bin" / "python").exists():
        subprocess.run(
            [sys.executable, "-m", "venv", "--without-pip", str(env)], check=True, timeout=120
        )
    purelib = Path(sysconfig.get_paths()["purelib"])
    target = Path(
        subprocess.run(
            [
                str(env / "bin" / "python"),
                "-c",
                "import sysconfig; print(sysconfig.get_paths()['purelib'])",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (target / "driver-site-packages.pth").write_text(f"{purelib}\n", encoding="utf-8")
    return env / "bin" / "python"


def _die_with_parent() -> None:
    """Linux: SIGTERM this process (and, through exec, the JVM) when the test process dies
    without running its teardown (killed by a timeout, say)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class StandaloneCluster:
    folder: Path
    workers: int = 2
    cores: int = 1
    memory: str = "1g"
    master_port: int = 0
    webui_port: int = 0
    python: Path | None = None  # the executors' interpreter (executor_python)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _logs: list[IO[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"spark://{HOST}:{self.master_port}"

    @property
    def json_url(self) -> str:
        return f"http://{HOST}:{self.webui_port}/json/"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK", "SPARK_"))}
        env.pop("PYTHONPATH", None)
        env.update(
            SPARK_HOME=str(spark_home()),
            SPARK_LOCAL_IP=HOST,
            SPARK_LOCAL_DIRS=str(self.folder / "local"),
            SPARK_CONF_DIR=str(self.folder / "conf"),  # empty: no spark-defaults.conf
        )
        return env

    def _start(self, name: str, *args: str) -> None:
        log = (self.folder / f"{name}.log").open("wb")
        self._logs.append(log)
        launcher = spark_home() / "bin" / "spark-class"
        proc = subprocess.Popen(
            ["bash", str(launcher), *args],
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.folder,
            start_new_session=True,  # its own process group: stop() reaches the JVM
            preexec_fn=_die_with_parent,
        )
        self.procs.append(proc)

    def state(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.json_url, timeout=5) as reply:
            data: dict[str, Any] = json.load(reply)
            return data

    def alive_workers(self) -> list[dict[str, Any]]:
        try:
            workers = self.state().get("workers", [])
        except OSError:
            return []
        return [w for w in workers if w.get("state") == "ALIVE"]

    def driver_env(self, **extra: str) -> dict[str, str]:
        """Environment for a datakit process whose Spark driver uses this cluster: the master
        from ``MASTER`` (read by spark-submit, so the project's spec stays as it is), the
        executors' Python from ``PYSPARK_PYTHON``, everything bound to 127.0.0.1."""
        assert self.python is not None
        env = self.env()
        env.pop("SPARK_HOME")
        env.update(
            MASTER=self.url,
            PYSPARK_PYTHON=str(self.python),
            DATAKIT_SPARK_LOG_LEVEL="ERROR",
            **extra,
        )
        return env

    def start(self, timeout: float = 120.0) -> StandaloneCluster:
        for sub in ("local", "conf", "work"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        self.python = self.python or executor_python(self.folder)
        self.master_port = self.master_port or free_port()
        self.webui_port = self.webui_port or free_port()
        self._start(
            "master",
            "org.apache.spark.deploy.master.Master",
            "--host", HOST,
            "--port", str(self.master_port),
            "--webui-port", str(self.webui_port),
        )  # fmt: skip
        for i in range(self.workers):
            self._start(
                f"worker-{i}",
                "org.apache.spark.deploy.worker.Worker",
                "--host", HOST,
                "--webui-port", str(free_port()),
                "--cores", str(self.cores),
                "--memory", self.memory,
                "--work-dir", str(self.folder / "work" / str(i)),
                self.url,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while len(self.alive_workers()) < self.workers:
            dead = [p.args for p in self.procs if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"the standalone cluster did not come up ({'exited: ' if dead else 'timeout'}"
                    f"{dead or ''}); logs in {self.folder}:\n{self.log_tail()}"
                )
            time.sleep(0.5)
        return self

    def log_tail(self, lines: int = 15) -> str:
        out = []
        for path in sorted(self.folder.glob("*.log")):
            text = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
            out.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(out)

    def stop(self) -> None:
        """Workers first, then the master: SIGTERM to each process group started here, then
        SIGKILL to whatever is still running after 20 s."""
        for proc in reversed(self.procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        self.procs.clear()
        for log in self._logs:
            log.close()
        self._logs.clear()
