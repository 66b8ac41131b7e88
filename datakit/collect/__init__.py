"""The collect stage (수집·정제): raw intake with provenance → ``data/manifest.parquet`` and
the de-identified 원천데이터 under ``data/source/``. See docs/collect.md."""

from __future__ import annotations

from datakit.collect.run import CollectResult, collect
from datakit.collect.sources import Limits, Mapping

__all__ = ["CollectResult", "Limits", "Mapping", "collect"]
