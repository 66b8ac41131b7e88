"""The package stage (개방): versioned releases with splits, checked metadata, documents and
the AI Hub layout; and the tools around them (verify, trace, diff).

    from datakit.package import package, verify_release, trace_item, diff_releases
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datakit.package.diff import diff_releases as diff_releases
    from datakit.package.run import PackageResult as PackageResult
    from datakit.package.run import package as package
    from datakit.package.trace import trace_item as trace_item
    from datakit.package.verify import verify_release as verify_release

_EXPORTS = {
    "package": "datakit.package.run",
    "PackageResult": "datakit.package.run",
    "verify_release": "datakit.package.verify",
    "trace_item": "datakit.package.trace",
    "diff_releases": "datakit.package.diff",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'datakit.package' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
