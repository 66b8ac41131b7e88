"""Fixtures of the package-stage tests: planned projects with hand-built stage inputs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from datakit.project import Project
from tests.package.builders import make_ready_project


@pytest.fixture
def ready(make_project: Callable[..., Path]) -> Callable[..., Project]:
    """``ready("text_classification", n=60, **builder_options)`` → a project ready to package."""

    def make(template: str = "text_classification", **kw: Any) -> Project:
        return make_ready_project(make_project, template, **kw)

    return make
