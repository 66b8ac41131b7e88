"""datakit's command line: a thin layer over the library (``datakit.cli.app``)."""

from __future__ import annotations


def main() -> None:
    from datakit.cli.app import app

    app(prog_name="datakit")


__all__ = ["main"]
