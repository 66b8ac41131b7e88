"""The engine seam: where ``check`` and ``package`` do their per-item work.

``local`` (the default) runs on this machine with processes and threads. ``spark`` hands
the per-item work to Apache Spark: the same compiled validators, split rules and figures,
run as Spark jobs, with the driver only combining aggregated results. Choosing:

1. ``--engine`` on the command line,
2. else the ``DATAKIT_ENGINE`` environment variable,
3. else ``engine.name`` in ``datakit.yaml`` (default ``local``).

The Spark master comes from ``engine.master`` in the spec, else from the usual Spark
settings (``spark-submit --master``, ``MASTER``, ``spark-defaults.conf``), else
``local[*]``. pyspark is an optional extra: ``pip install 'datakit[spark]'``.

On a cluster (any master but ``local…``) datakit ships itself: the driver zips the datakit
package it runs from and adds it with ``SparkContext.addPyFile``, so executors import the
driver's exact code. Their Python (``PYSPARK_PYTHON`` or ``engine.conf``'s
``spark.pyspark.python``) must still hold the third-party dependencies (docs/scale.md).
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import zipfile
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from datakit.errors import DatakitError

if TYPE_CHECKING:
    from datakit.spec.model import ProjectSpec

Engine = Literal["local", "spark"]
ENGINES: tuple[Engine, ...] = ("local", "spark")
ENGINE_ENV = "DATAKIT_ENGINE"
INSTALL_HINT = "install the Spark extra: pip install 'datakit[spark]' (Java 17+ must be on PATH)"


def resolve_engine(option: str | None, spec: ProjectSpec | None = None) -> Engine:
    """The engine to use: the command-line option, else ``DATAKIT_ENGINE``, else the spec."""
    chosen = option or os.environ.get(ENGINE_ENV) or (spec.engine.name if spec else None)
    name = (chosen or "local").strip().lower()
    if name not in ENGINES:
        source = "--engine" if option else ENGINE_ENV if os.environ.get(ENGINE_ENV) else "spec"
        raise DatakitError(
            f"unknown engine {chosen!r} (from {source})",
            hint="use local or spark",
        )
    return name


def require_pyspark() -> Any:
    """Import pyspark or fail with the install hint (no traceback)."""
    try:
        import pyspark
    except ImportError as exc:
        raise DatakitError(
            "the spark engine needs pyspark, which is not installed", hint=INSTALL_HINT
        ) from exc
    return pyspark


def spark_session(spec: ProjectSpec | None = None, app_name: str = "datakit") -> Any:
    """The active SparkSession, or a new one configured from the spec and Spark's settings.

    For a local master the Python workers run this interpreter (``PYSPARK_PYTHON``
    defaults to ``sys.executable``) so that they see datakit and its dependencies; for any
    other master datakit ships itself to the executors (:func:`ship_datakit`).
    """
    require_pyspark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        ship_datakit(active)
        return active
    master = (spec.engine.master if spec else None) or None
    conf = dict(spec.engine.conf) if spec else {}
    # MASTER is read by spark-submit, which pyspark runs to start the JVM
    effective = master or os.environ.get("MASTER")
    local = effective is None or effective.startswith("local")
    if conf.get("spark.pyspark.python"):
        # a pyspark driver started from Python takes the executors' interpreter from the
        # environment only; spark-submit would have copied the setting there
        os.environ["PYSPARK_PYTHON"] = str(conf["spark.pyspark.python"])
    if local:
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    defaults = {
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(max(4, 2 * (os.cpu_count() or 2))) if local else None,
        "spark.ui.enabled": "false" if local else None,
    }
    for key, value in {**{k: v for k, v in defaults.items() if v is not None}, **conf}.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # JAVA_GATEWAY_EXITED and friends
        raise DatakitError(
            f"could not start Spark ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})",
            hint="Spark needs Java 17+ (JAVA_HOME or java on PATH) and a reachable master; "
            + INSTALL_HINT,
        ) from exc
    session.sparkContext.setLogLevel(os.environ.get("DATAKIT_SPARK_LOG_LEVEL", "ERROR"))
    ship_datakit(session)
    return session


def ship_datakit(session: Any) -> str | None:
    """Add this datakit, zipped, to the session's Python files when its master is not local:
    executors then import the driver's own code, whether or not (and whichever version) their
    Python has installed. Returns the zip's path, or None for a local master."""
    sc = session.sparkContext
    if str(sc.master).startswith("local"):
        return None
    path = package_zip()
    if path.name not in (sc._python_includes or []):
        sc.addPyFile(str(path))
    return str(path)


@cache
def package_zip() -> Path:
    """``datakit-<content hash>.zip`` in the temporary folder: the datakit package this
    process imported (sources and data files, no bytecode), made once per process (every
    session of a run ships the same code) and reused across runs while the code is unchanged."""
    import datakit

    root = Path(datakit.__file__).resolve().parent
    files = sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    digest = hashlib.sha256()
    for p in files:
        digest.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes())
    target = Path(tempfile.gettempdir()) / f"datakit-{digest.hexdigest()[:16]}.zip"
    if not target.exists():
        partial = target.with_name(f"{target.name}.{os.getpid()}.part")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
            for p in files:
                zf.write(p, f"datakit/{p.relative_to(root).as_posix()}")
        partial.replace(target)
    return target


def spark_path(path: str | Path) -> str:
    """A path as Spark should see it: URIs (``s3a://…``, ``hdfs://…``, ``file://…``) pass
    through untouched; a local path becomes an absolute ``file://`` URI, so that a cluster
    whose default filesystem is HDFS does not reinterpret it."""
    text = str(path)
    if "://" in text:
        return text
    return Path(text).resolve().as_uri()
