"""The Typer application. Commands live one per module; this file wires them together
and translates library errors into exit codes and messages in one place."""

from __future__ import annotations

import os
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from datakit import __version__
from datakit.cli import annotate as annotate_cmd
from datakit.cli import check as check_cmd
from datakit.cli import collect as collect_cmd
from datakit.cli import init as init_cmd
from datakit.cli import package as package_cmd
from datakit.cli import plan as plan_cmd
from datakit.cli import status as status_cmd
from datakit.cli._common import err_console
from datakit.errors import EXIT_INTERRUPTED, DatakitError, storage_error

EPILOG = (
    "Exit codes: 0 ok · 1 a quality gate or check failed · 2 bad input or usage · "
    "3 an external service failed · 4 the file system refused (disk full, read-only) · "
    "130 interrupted."
)


def render_error(exc: DatakitError, *, debug: bool) -> None:
    if debug:
        err_console.print("".join(traceback.format_exception(exc)), markup=False)
    from rich.markup import escape  # messages quote user text and `pip install 'x[extra]'`

    err_console.print(f"[bold red]error:[/] {escape(exc.message)}", markup=True)
    if exc.hint:
        err_console.print(f"[yellow]hint:[/] {escape(exc.hint)}", markup=True)


class DatakitGroup(TyperGroup):
    """Catches DatakitError from any command: message + hint on stderr, no traceback."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except DatakitError as exc:
            debug = bool((ctx.obj or {}).get("debug")) or os.environ.get("DATAKIT_DEBUG") == "1"
            render_error(exc, debug=debug)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            err_console.print("interrupted; rerun the same command to continue", markup=False)
            ctx.exit(EXIT_INTERRUPTED)
        except OSError as exc:  # disk full, ulimit -f, read-only: one message, exit 4
            mapped = storage_error(exc, root=str(Path.cwd()))
            if mapped is None:
                raise
            debug = bool((ctx.obj or {}).get("debug")) or os.environ.get("DATAKIT_DEBUG") == "1"
            if debug:
                err_console.print("".join(traceback.format_exception(exc)), markup=False)
            render_error(mapped, debug=False)
            ctx.exit(mapped.exit_code)


app = typer.Typer(
    name="datakit",
    cls=DatakitGroup,
    help="Build AI training datasets the AI Hub way: plan → collect → annotate → check → "
    "package.\n\nExample: datakit init my-dataset --template text_classification",
    epilog=EPILOG,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"datakit {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks for errors.", envvar="DATAKIT_DEBUG")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    ctx.obj = {"debug": debug}


# In stage order: this is the order `datakit --help` lists them.
init_cmd.register(app)
plan_cmd.register(app)
collect_cmd.register(app)
annotate_cmd.register(app)
check_cmd.register(app)
package_cmd.register(app)  # package, verify, trace, diff
status_cmd.register(app)
