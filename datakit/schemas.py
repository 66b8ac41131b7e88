"""The JSON Schemas in ``specs/``: found inside the wheel (``datakit/_specs``) or, in a
source checkout, in the top-level ``specs/`` folder."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent


def specs_dir() -> Path:
    for candidate in (_HERE / "_specs", _HERE.parent / "specs"):
        if (candidate / "project.schema.json").is_file():
            return candidate
    raise FileNotFoundError("datakit's JSON Schemas (specs/) are missing from this installation")


def schema_path(name: str) -> Path:
    """Path of ``specs/<name>.schema.json``."""
    return specs_dir() / f"{name}.schema.json"


@cache
def load_schema(name: str) -> dict[str, Any]:
    with schema_path(name).open(encoding="utf-8") as fh:
        schema: dict[str, Any] = json.load(fh)
    return schema
