"""The Spark engine's tests run on a real local Spark (``local[2]``, Java 17).

One SparkSession for the whole test session (starting the JVM costs seconds). When pyspark
or Java is missing the tests fail when ``CI`` is set, and are skipped otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from datakit.errors import DatakitError


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    os.environ.setdefault("DATAKIT_SPARK_LOG_LEVEL", "ERROR")
    try:
        from datakit.engine import require_pyspark, spark_session
        from datakit.spec.model import EngineSettings

        require_pyspark()

        class _Spec:  # only the engine settings are read
            engine = EngineSettings(name="spark", master="local[2]")

        session = spark_session(_Spec(), app_name="datakit-tests")  # type: ignore[arg-type]
    except DatakitError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Spark is required when CI is set: {exc} ({exc.hint})")
        pytest.skip(f"Spark not available: {exc}")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A standalone master and two workers (one core, 1 GB each) on 127.0.0.1, started from
    pyspark's launcher; logs and work folders in a temporary folder; stopped at teardown
    (also when a test failed). The executors' Python lacks datakit (tests/spark/standalone.py)."""
    from tests.spark.standalone import StandaloneCluster, java_available

    problem = None
    try:
        import pyspark  # noqa: F401
    except ImportError:
        problem = "pyspark is not installed"
    if problem is None and not java_available():
        problem = "java is not on PATH (nor JAVA_HOME)"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"a Spark cluster is required when CI is set: {problem}")
        pytest.skip(f"no Spark cluster: {problem}")
    folder = tmp_path_factory.mktemp("spark-cluster")
    running = StandaloneCluster(folder).start()
    try:
        yield running
    finally:
        running.stop()
