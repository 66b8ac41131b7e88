"""Every error datakit raises on purpose.

    DatakitError                 exit 2 unless said otherwise; message + hint
     ├── SpecError               datakit.yaml is wrong (carries every SpecProblem found)
     ├── ProjectError            not a project, a stage run out of order, a file in the way
     ├── InputError              bad input data: names the file, the item and the field
     ├── ArtefactError           a generated artefact is missing, stale or hand-edited
     ├── ReleaseError            a release cannot be built or is refused
     └── ServiceError            exit 3: an external service (Label Studio) failed
          └── LabelStudioError

Quality results are *not* exceptions: a check returns a report, and the CLI turns a
failed gate into exit code 1. Exceptions are for "cannot proceed".

The CLI catches ``DatakitError`` in one place and prints ``message`` and ``hint``
without a traceback (``--debug`` shows it).
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_SERVICE = 3
EXIT_INTERRUPTED = 130


class DatakitError(Exception):
    """Base of all datakit errors: a message, a hint for what to do next, an exit code."""

    exit_code: int = EXIT_BAD_INPUT

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class SpecProblem:
    """One problem in a spec file: where it is, what was expected, what was found."""

    file: str
    path: str  # dotted key path, e.g. "targets.per_class.긍정"; "" for the document root
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        key = self.path or "(top level)"
        return f"{where}: {key}: {self.message}"


class SpecError(DatakitError):
    """The project spec is invalid. ``problems`` lists every problem found, in file order."""

    def __init__(self, problems: list[SpecProblem], *, hint: str | None = None) -> None:
        self.problems = problems
        n = len(problems)
        head = "the project spec is invalid" if n != 1 else "the project spec has an error"
        body = "\n".join(f"  {p}" for p in problems)
        super().__init__(
            f"{head} ({n} problem{'s' if n != 1 else ''}):\n{body}",
            hint=hint or "fix the spec and run `datakit plan` again",
        )


class ProjectError(DatakitError):
    """The project is not in a state where the command can run."""


class InputError(DatakitError):
    """Bad input data. Names the file, the item and the field where known."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        item: str | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.file = file
        self.item = item
        self.field = field
        where = ", ".join(
            part
            for part in (
                file and f"file {file}",
                item and f"item {item}",
                field and f"field {field}",
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message, hint=hint)


class ArtefactError(DatakitError):
    """A generated artefact is missing, out of date, or was edited by hand."""


class ReleaseError(DatakitError):
    """A release cannot be built, or is refused by the gate."""


class ServiceError(DatakitError):
    """An external service failed. ``service`` names it (with its URL, never a token)."""

    exit_code = EXIT_SERVICE

    def __init__(self, message: str, *, service: str, hint: str | None = None) -> None:
        self.service = service
        super().__init__(f"{service}: {message}", hint=hint)


class LabelStudioError(ServiceError):
    """Label Studio did not answer, refused the token, or returned an error."""
