"""Every error datakit raises on purpose.

    DatakitError                 exit 2 unless said otherwise; message + hint
     ├── SpecError               datakit.yaml is wrong (carries every SpecProblem found)
     ├── ProjectError            not a project, a stage run out of order, a file in the way
     ├── InputError              bad input data: names the file, the item and the field
     ├── ArtefactError           a generated artefact is missing, stale or hand-edited
     ├── ReleaseError            a release cannot be built or is refused
     ├── ServiceError            exit 3: an external service (Label Studio) failed
     │    └── LabelStudioError
     └── StorageError            exit 4: the file system refused a read or write (disk full,
                                 file size limit, read-only or not permitted)

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
EXIT_STORAGE = 4
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


class StorageError(DatakitError):
    """The file system refused: disk full, file size limit, read-only or not permitted.
    ``path`` names the file or folder (relative where it can be); exit 4, so CI can tell it
    from a failed quality gate (1) and from bad input (2)."""

    exit_code = EXIT_STORAGE

    def __init__(self, message: str, *, path: str | None, hint: str | None = None) -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message, hint=hint)


# errno → (what happened, what to do); the errors one machine's storage can cause.
_STORAGE_ERRNOS: dict[str, tuple[str, str]] = {
    "ENOSPC": ("no space left on the device", "free some space, then rerun the same command"),
    "EDQUOT": ("disk quota exceeded", "free some space, then rerun the same command"),
    "EFBIG": (
        "file too large for this system's file size limit (ulimit -f)",
        "raise the limit (ulimit -f unlimited), then rerun the same command",
    ),
    "EROFS": ("the file system is read-only", "write the project to a writable place"),
    "EACCES": ("permission denied", "check the owner and mode of the file or folder"),
    "EPERM": (
        "operation not permitted (an immutable or protected file?)",
        "check the file's attributes (lsattr) and owner",
    ),
    "EIO": ("input/output error", "check the disk, then rerun the same command"),
}


def storage_error(exc: OSError, *, root: str | None = None) -> StorageError | None:
    """The :class:`StorageError` for an ``OSError`` the file system raised, or None when the
    error is of another kind (a missing file is the caller's business). ``root`` shortens
    paths under it."""
    import errno
    from pathlib import Path

    name = errno.errorcode.get(exc.errno or -1, "")
    if name not in _STORAGE_ERRNOS:
        return None
    what, hint = _STORAGE_ERRNOS[name]
    path = exc.filename if isinstance(exc.filename, str) else None
    if path and root and Path(path).is_absolute() and Path(path).is_relative_to(root):
        path = Path(path).relative_to(root).as_posix()
    return StorageError(what, path=path, hint=hint)
