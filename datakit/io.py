"""Small shared IO: atomic writes, canonical JSON, hashing, paths typed by people.

Every file datakit writes goes through :func:`atomic_write` (temporary file in the same
folder, fsync, rename), so a run that dies half-way leaves the last good state.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
import unicodedata
from collections.abc import Iterator
from concurrent.futures import Future
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

HASH_CHUNK = 1 << 20


@contextlib.contextmanager
def atomic_path(path: str | Path, *, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it over ``path`` on success."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix + ".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with tmp_path.open("rb") as fh:
            os.fsync(fh.fileno())
        tmp_path.replace(target)
    except BaseException as exc:
        tmp_path.unlink(missing_ok=True)
        raise with_path(exc, target) from None if isinstance(exc, OSError) else exc


def with_path(exc: BaseException, path: str | Path) -> BaseException:
    """``exc`` itself, or — for an ``OSError`` that names no file, as pyarrow's writers raise
    them — the same error naming ``path``, so the message can say where it happened."""
    if isinstance(exc, OSError) and exc.filename is None and exc.errno:
        named = OSError(exc.errno, exc.strerror or str(exc), str(path))
        named.__cause__ = exc
        return named
    return exc


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """``open()`` for writing that only replaces ``path`` when the block succeeds."""
    if "b" not in mode:
        kwargs.setdefault("encoding", "utf-8")
        kwargs.setdefault("newline", "\n")
    with atomic_path(path) as tmp, tmp.open(mode, **kwargs) as fh:
        yield fh


def write_text(path: str | Path, text: str) -> None:
    with atomic_open(path, "w") as fh:
        fh.write(text)


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def dumps_json(obj: Any, *, indent: int | None = 2) -> str:
    """Canonical JSON: UTF-8 (Korean unescaped), sorted keys, trailing newline."""
    return json.dumps(obj, ensure_ascii=False, indent=indent, sort_keys=True) + "\n"


def write_json(path: str | Path, obj: Any, *, indent: int | None = 2) -> None:
    write_text(path, dumps_json(obj, indent=indent))


def read_json(path: str | Path) -> Any:
    with Path(path).open(encoding="utf-8") as fh:
        return json.load(fh)


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


@lru_cache(maxsize=16)
def _sha(path: str, mtime_ns: int, size: int) -> str:
    return sha256_file(path)


_PENDING: dict[tuple[str, int, int], Future[str]] = {}
_PENDING_LOCK = threading.Lock()


def file_sha256(path: Path) -> str:
    """sha256 of a file, remembered while the file is unchanged (the gate and the release
    provenance both need the input hashes). Waits for a hash :func:`prefetch_sha256` started."""
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    with _PENDING_LOCK:
        pending = _PENDING.pop(key, None)
    if pending is not None:
        pending.result()  # computed by the prefetch thread, now in the cache
    return _sha(*key)


def prefetch_sha256(paths: list[Path]) -> None:
    """Start hashing ``paths`` on a background thread (hashlib releases the GIL), so that
    the gate's staleness check costs nothing when it comes after other work."""
    for path in paths:
        if not path.is_file():
            continue
        st = path.stat()
        key = (str(path), st.st_mtime_ns, st.st_size)
        future: Future[str] = Future()
        with _PENDING_LOCK:
            if key in _PENDING:
                continue
            _PENDING[key] = future

        def run(key: tuple[str, int, int] = key, future: Future[str] = future) -> None:
            try:
                future.set_result(_sha(*key))
            except BaseException as exc:  # surfaces in file_sha256
                future.set_exception(exc)

        threading.Thread(target=run, name="sha256-prefetch", daemon=True).start()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_text(text: str) -> str:
    return sha256_bytes(text.encode("utf-8"))


# Cells a spreadsheet would run as a formula (OWASP "CSV Injection"): = + - @, tab, CR.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """``value`` for a CSV cell that people open in a spreadsheet: text that a spreadsheet
    would run as a formula gets a leading ``'`` (as OWASP recommends), so it shows as text.

    Text that starts with quotes before such a character gets one more quote, so that
    :func:`csv_unsafe` restores every value exactly. Anything but text is returned as is
    (a number is not a formula). Machine-read files keep raw values."""
    if isinstance(value, str) and value.lstrip("'").startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_unsafe(text: str) -> str:
    """The value :func:`csv_safe` was given, from the cell it wrote (a cell read back from a
    filled-in hand-out)."""
    if text.startswith("'") and text[1:].lstrip("'").startswith(_FORMULA_START):
        return text[1:]
    return text


def resolve_path(path: str | Path) -> Path:
    """``path`` as typed, or — when nothing is there — the same path with each missing part
    matched to a folder entry that is equal under Unicode normalisation (NFC or NFD).

    macOS writes Hangul file names decomposed (NFD: ``ᄀ`` + ``ᅡ``); Linux and Windows
    keyboards type them composed (NFC: ``가``). Linux file systems compare bytes, so a name
    copied from a Mac is "not found" when typed. Only a missing path costs a folder listing.
    When no entry matches (or two do), ``path`` is returned unchanged, so a "not found"
    error still names what the user typed."""
    p = Path(path)
    if os.path.lexists(p) or not any(ord(c) > 127 for c in str(p)):
        return p
    cur = Path(p.anchor)
    for part in p.parts[1:] if p.anchor else p.parts:
        here = cur / part
        if not os.path.lexists(here):
            found = _normalised_entry(cur, part)
            if found is None:
                return p
            here = cur / found
        cur = here
    return cur


def _normalised_entry(folder: Path, name: str) -> str | None:
    """The one entry of ``folder`` whose NFC form is ``name``'s, if exactly one."""
    for form in ("NFC", "NFD"):
        alt = unicodedata.normalize(form, name)
        if alt != name and os.path.lexists(folder / alt):
            return alt
    key = unicodedata.normalize("NFC", name)
    try:
        names = [e.name for e in folder.iterdir()]  # mixed forms inside one name
    except OSError:
        return None
    hits = [n for n in names if unicodedata.normalize("NFC", n) == key]
    return hits[0] if len(hits) == 1 else None


def stored_encoding(name: str | None) -> str:
    """The encoding a text counts as once collected: every Unicode encoding counts as UTF-8,
    since text is stored as UTF-8 and UTF-16/32 is only accepted with a byte-order mark, so
    transcoding it loses nothing. Used by collect (fitness) and check (형식성) alike."""
    n = (name or "").lower().replace("_", "-")
    if n in ("utf8", "utf-8-sig") or n.startswith(("utf-16", "utf16", "utf-32", "utf32")):
        return "utf-8"
    return n
