"""Where items come from: files, folders, globs, zip/tar archives and record files.

A *source* is what the user names on the command line. It expands into *entries* — one
per file on disk — each of which yields one item (a media or text file), many items (an
archive, a record file), or nothing. Paths are NFC-normalised; anything that points
outside its source (an archive member with ``..`` or an absolute name, a symlink leaving
the folder) is refused with an :class:`~datakit.errors.InputError`.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import lzma
import os
import shutil
import stat
import tarfile
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import IO, Any, Literal, NamedTuple

import yaml

from datakit.errors import InputError
from datakit.io import resolve_path

EntryKind = Literal["file", "archive", "records"]
RECORD_EXTS = ("csv", "tsv", "json", "jsonl", "ndjson", "parquet")
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")
SIDECAR_SUFFIXES = (".meta.yaml", ".meta.yml", ".meta.json")
CONSENT_VALUES = ("yes", "no", "not_required", "unknown")


def nfc(s: str) -> str:
    return unicodedata.normalize("NFC", s)


def is_glob(spec: str) -> bool:
    """A pattern to expand, unless a file or folder has that very name (``photo[1].jpg``)."""
    return any(c in spec for c in "*?[") and not os.path.lexists(spec)


@dataclass(frozen=True)
class Mapping:
    """Which record column (or JSON key) holds what. ``None`` means "not mapped"."""

    text: str | None = None  # default: a column named "text"
    id: str | None = None  # default: a column named "id", if there is one
    group: str | None = None
    label: str | None = None  # → manifest intake_label
    source: str | None = None  # per-row source name (e.g. 쇼핑몰A)
    license: str | None = None
    consent: str | None = None
    date: str | None = None
    attributes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            k: getattr(self, k)
            for k in ("text", "id", "group", "label", "source", "license", "consent", "date")
            if getattr(self, k) is not None
        }
        if self.attributes:
            d["attributes"] = list(self.attributes)
        return d

    def merged(self, other: Mapping) -> Mapping:
        """``self`` with every field that ``other`` sets taken from ``other``."""
        changes: dict[str, Any] = {k: v for k, v in other.to_dict().items() if k != "attributes"}
        if other.attributes:
            changes["attributes"] = tuple(other.attributes)
        return replace(self, **changes)

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, file: str) -> Mapping:
        known = {"text", "id", "group", "label", "source", "license", "consent", "date"}
        unknown = set(d) - known - {"attributes"}
        if unknown:
            raise InputError(
                f"unknown mapping keys: {', '.join(sorted(unknown))}",
                file=file,
                field="mapping",
                hint=f"mapping keys are {', '.join(sorted(known | {'attributes'}))}",
            )
        attrs = d.get("attributes") or ()
        if isinstance(attrs, str):
            attrs = (attrs,)
        return cls(
            **{k: str(d[k]) for k in known if d.get(k) is not None},
            attributes=tuple(str(a) for a in attrs),
        )


@dataclass(frozen=True)
class SourceOptions:
    """Per-source metadata and mapping: flags override the sidecar, which overrides defaults."""

    name: str
    license: str | None = None
    consent: str | None = None
    collection_date: str | None = None
    mapping: Mapping = field(default_factory=Mapping)
    label_from_folder: bool = False
    attributes: dict[str, str] = field(default_factory=dict)  # the same for every item
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # per-file metadata

    def fingerprint_data(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "license": self.license,
            "consent": self.consent,
            "collection_date": self.collection_date,
            "mapping": self.mapping.to_dict(),
            "label_from_folder": self.label_from_folder,
            "attributes": self.attributes,
            "files": self.files,
        }


class Entry(NamedTuple):
    """One file of a source. ``rel`` is its NFC POSIX path inside the source root.

    A named tuple of plain strings, not Path objects in a frozen dataclass: a 100,000-file
    source is scanned on every run, and building those cost more than the stat calls."""

    kind: EntryKind
    fspath: str  # absolute path on disk
    rel: str
    display: str  # manifest source_path of the file (project-relative or absolute)
    size: int
    mtime_ns: int

    @property
    def path(self) -> Path:
        return Path(self.fspath)


@dataclass(frozen=True)
class Source:
    spec: str
    root: Path
    options: SourceOptions
    entries: list[Entry]


def read_sidecar(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else _json(text)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise InputError(f"cannot read the sidecar: {exc}", file=str(path)) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError("a sidecar must be a mapping of keys to values", file=str(path))
    allowed = {
        "source",
        "name",
        "license",
        "consent",
        "collection_date",
        "date",
        "mapping",
        "label_from_folder",
        "attributes",
        "files",
    }
    unknown = set(data) - allowed
    if unknown:
        raise InputError(
            f"unknown keys: {', '.join(sorted(map(str, unknown)))}",
            file=str(path),
            hint=f"a sidecar may hold {', '.join(sorted(allowed))}",
        )
    return data


def _json(text: str) -> Any:
    import json

    return json.loads(text)


def find_sidecar(target: Path) -> Path | None:
    """``<source>.meta.yaml``/``.meta.json`` next to a source, or ``_meta.yaml`` inside a folder."""
    for suffix in SIDECAR_SUFFIXES:
        cand = target.with_name(target.name + suffix)
        if cand.is_file():
            return cand
    if target.is_dir():
        for name in ("_meta.yaml", "_meta.yml", "_meta.json"):
            if (target / name).is_file():
                return target / name
    return None


def default_sources(raw: Path) -> list[Path]:
    """What ``datakit collect`` takes without arguments: the project's ``data/raw`` as one
    source, unless files in it carry their own sidecars (``reviews.csv.meta.yaml``) and the
    folder has none: then each top-level entry is its own source, so that every sidecar's
    licence, consent and column mapping apply (a folder source reads only its own)."""
    if not raw.is_dir() or find_sidecar(raw) is not None:
        return [raw]
    entries = sorted(
        e for e in raw.iterdir() if not e.name.startswith(".") and not _is_sidecar(e.name)
    )
    if any(find_sidecar(e) is not None for e in entries):
        return entries
    return [raw]


def resolve_options(
    target: Path,
    *,
    name: str | None,
    license: str | None,
    consent: str | None,
    collection_date: str | None,
    mapping: Mapping | None,
    label_from_folder: bool | None,
    meta_file: Path | None = None,
) -> SourceOptions:
    sidecar_path = meta_file or find_sidecar(target)
    side: dict[str, Any] = read_sidecar(sidecar_path) if sidecar_path else {}
    where = str(sidecar_path) if sidecar_path else str(target)
    base_map = Mapping.from_dict(side.get("mapping") or {}, file=where)
    final_map = base_map.merged(mapping) if mapping else base_map
    if is_glob(str(target)):  # 'data/raw/*.txt' is named after data/raw, not "*.txt"
        default_name = _abs(_glob_base(str(target))).name or "source"
    else:
        default_name = target.stem if target.is_file() else target.name
    src_name = nfc(str(name or side.get("source") or side.get("name") or default_name))
    cons = consent or side.get("consent")
    if cons is not None and str(cons) not in CONSENT_VALUES:
        raise InputError(
            f"consent must be one of {', '.join(CONSENT_VALUES)}, not {cons!r}",
            file=where,
            field="consent",
        )
    date = collection_date or side.get("collection_date") or side.get("date")
    if date is not None:
        _check_date(str(date), where)
    attrs = side.get("attributes") or {}
    files = side.get("files") or {}
    if not isinstance(attrs, dict) or not isinstance(files, dict):
        raise InputError("attributes and files must be mappings", file=where)
    lff = label_from_folder if label_from_folder is not None else side.get("label_from_folder")
    return SourceOptions(
        name=src_name,
        license=license or (str(side["license"]) if side.get("license") else None),
        consent=str(cons) if cons is not None else None,
        collection_date=str(date) if date is not None else None,
        mapping=final_map,
        label_from_folder=bool(lff),
        attributes={nfc(str(k)): nfc(str(v)) for k, v in attrs.items()},
        files={nfc(str(k)): dict(v or {}) for k, v in files.items()},
    )


def _check_date(value: str, where: str) -> None:
    import datetime as dt

    try:
        dt.date.fromisoformat(value)
    except ValueError as exc:
        raise InputError(
            f"collection date {value!r} is not YYYY-MM-DD", file=where, field="collection_date"
        ) from exc


def _display(path: Path, project_root: Path) -> str:
    return _display_str(os.path.abspath(path), str(project_root))  # noqa: PTH100


def _display_str(abs_path: str, project_root: str) -> str:
    """Project-relative POSIX path when inside the project, else the absolute path (NFC)."""
    prefix = project_root.rstrip(os.sep) + os.sep
    if abs_path.startswith(prefix):
        abs_path = abs_path[len(prefix) :]
    return nfc(abs_path.replace(os.sep, "/"))


def _abs(path: Path) -> Path:
    """Absolute and without ``..`` (``Path.absolute`` keeps them), symlinks left alone."""
    return Path(os.path.abspath(path))  # noqa: PTH100 (keeps symlinks, drops ..)


def _is_sidecar(name: str) -> bool:
    return name.endswith(SIDECAR_SUFFIXES) or name in ("_meta.yaml", "_meta.yml", "_meta.json")


def entry_kind(name: str, record_files: bool) -> EntryKind:
    lower = name.lower()
    if lower.endswith(ARCHIVE_SUFFIXES):
        return "archive"
    if record_files and lower.rsplit(".", 1)[-1] in RECORD_EXTS:
        return "records"
    return "file"


def expand_source(
    spec: str, options: SourceOptions, project_root: Path, *, record_files: bool
) -> Source:
    """Every file entry of one source (file, folder or glob), sorted by path."""
    path = Path(spec)
    if is_glob(spec):
        root, matches = _glob(spec)
        files = [Path(m) for m in matches if Path(m).is_file() and not _is_sidecar(Path(m).name)]
        if not files:
            raise InputError(
                "the glob matches no files" + (" (only folders or sidecars)" if matches else ""),
                file=spec,
                hint="check the pattern; quote it so that datakit, not the shell, expands it, "
                "and use ** to look in subfolders ('data/raw/**/*.txt')",
            )
        entries = [_entry(f, root, project_root, record_files) for f in files]
        return Source(spec, root, options, entries)
    if path.is_dir():
        return Source(spec, path, options, list(_walk(path, project_root, record_files)))
    if path.is_file():
        return Source(
            spec, path.parent, options, [_entry(path, path.parent, project_root, record_files)]
        )
    if path.is_symlink():
        raise InputError("the source is a broken symlink", file=spec)
    raise InputError(
        "the source does not exist or cannot be read",
        file=spec,
        hint="name a file, a folder, a glob (quoted) or an archive",
    )


def _glob(spec: str) -> tuple[Path, list[str]]:
    """(the glob's fixed prefix, its matches, sorted). Names are matched as typed and in
    both Unicode normalisations: a pattern typed in NFC finds files saved in NFD (macOS)."""
    base = _glob_base(spec)
    real_base = resolve_path(base)
    parts = PurePosixPath(spec).parts
    rest = "/".join(parts[len(base.parts) :])
    patterns = {spec, *(str(real_base / unicodedata.normalize(f, rest)) for f in ("NFC", "NFD"))}
    found: dict[str, str] = {}
    for pattern in sorted(patterns):
        for m in glob.glob(pattern, recursive=True):  # noqa: PTH207 (absolute patterns)
            found.setdefault(os.path.abspath(m), m)  # noqa: PTH100
    root = base if os.path.lexists(base) else real_base
    return root, sorted(found.values())


def _glob_base(spec: str) -> Path:
    parts = []
    for part in PurePosixPath(spec).parts:
        if any(c in part for c in "*?["):
            break
        parts.append(part)
    return Path(*parts) if parts else Path()


def _entry(path: Path, root: Path, project_root: Path, record_files: bool) -> Entry:
    try:
        st = path.stat()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=str(path)) from exc
    try:
        rel = _abs(path).relative_to(_abs(root)).as_posix()
    except ValueError:
        rel = path.name
    return Entry(
        kind=entry_kind(path.name, record_files),
        fspath=str(_abs(path)),
        rel=nfc(rel),
        display=_display(path, project_root),
        size=st.st_size,
        mtime_ns=st.st_mtime_ns,
    )


def _walk(root: Path, project_root: Path, record_files: bool) -> Iterator[Entry]:
    root_abs = os.path.abspath(root)  # noqa: PTH100
    real_root = os.path.realpath(root)
    # source_path is computed on the real location, so a project reached through a
    # symlinked folder still gets project-relative paths
    proj = str(project_root)
    cut = len(root_abs) + 1
    stack = [root_abs]
    found: list[Entry] = []
    while stack:
        folder = stack.pop()
        try:
            it = list(os.scandir(folder))
        except OSError as exc:
            raise InputError(f"cannot list the folder: {exc.strerror}", file=folder) from exc
        for de in it:
            name = de.name
            if name.startswith(".") or _is_sidecar(name):
                continue
            p = de.path
            if de.is_symlink():
                target = os.path.realpath(p)
                if not (target + os.sep).startswith(real_root + os.sep):
                    raise InputError(
                        f"symlink points outside the source ({target})",
                        file=p,
                        hint="copy the file into the source folder instead of linking to it",
                    )
                if os.path.isdir(target):  # noqa: PTH112
                    continue  # its target is inside the source and walked anyway
            elif de.is_dir(follow_symlinks=False):
                stack.append(p)
                continue
            try:
                st = de.stat()
            except OSError as exc:
                raise InputError(f"cannot read: {exc.strerror}", file=p) from exc
            if not stat.S_ISREG(st.st_mode):
                continue
            rel = p[cut:].replace(os.sep, "/")
            found.append(
                Entry(
                    kind=entry_kind(name, record_files),
                    fspath=p,
                    rel=nfc(rel),
                    display=_display_str(real_root + os.sep + p[cut:], proj),
                    size=st.st_size,
                    mtime_ns=st.st_mtime_ns,
                )
            )
    found.sort(key=lambda e: e.rel)
    yield from found


# -- archives -------------------------------------------------------------------------------


MiB = 1 << 20
GiB = 1 << 30


def format_size(n: float) -> str:
    """``314572800`` → ``300.0 MiB``: sizes in messages, in binary units like the limits."""
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


_UNITS = {
    "": 1,
    "b": 1,
    "k": 1 << 10,
    "kib": 1 << 10,
    "kb": 10**3,
    "m": MiB,
    "mib": MiB,
    "mb": 10**6,
    "g": GiB,
    "gib": GiB,
    "gb": 10**9,
    "t": 1 << 40,
    "tib": 1 << 40,
    "tb": 10**12,
}


def parse_size(text: str, *, field: str) -> int:
    """``"2GiB"`` → 2147483648; KiB/MiB/GiB (and K/M/G) are binary, KB/MB/GB decimal."""
    import re

    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*", text)
    unit = m.group(2).lower() if m else ""
    if m is None or unit not in _UNITS:
        raise InputError(
            f"{text!r} is not a size",
            field=field,
            hint="give bytes or a number with a unit: 500MiB, 2GiB, 4GB",
        )
    return int(float(m.group(1)) * _UNITS[unit])


@dataclass(frozen=True)
class Limits:
    """How much collect reads of one input before it refuses it (docs/collect.md, "Limits").

    An archive's sizes are checked from its headers before anything is extracted; reading
    never goes past them (zipfile and tarfile stop at the declared size)."""

    member_bytes: int = 2 * GiB  # one archive member, unpacked
    ratio: float = 100.0  # unpacked ÷ packed bytes, of a zip member and of a whole archive
    record_bytes: int = 256 * MiB  # one record file or member (CSV/JSON/Parquet: parsed whole)
    # the ratio is not applied below this many unpacked bytes: a small file of repeated
    # characters packs 1000× and is harmless
    ratio_floor: int = 1 * MiB

    def __post_init__(self) -> None:
        for name, value, least in (
            ("member_bytes", self.member_bytes, 1),
            ("ratio", self.ratio, 1),
            ("record_bytes", self.record_bytes, 1),
            ("ratio_floor", self.ratio_floor, 0),
        ):
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if not ok or not value >= least:  # NaN fails too
                raise InputError(
                    f"limit {name} must be a number of at least {least}, got {value!r}",
                    field=name,
                )

    def check_member(self, archive: Path, name: str, size: int, packed: int | None) -> None:
        """Refuse an archive member (``packed``: its compressed size, zip only) past a limit."""
        if size > self.member_bytes:
            raise InputError(
                f"the archive member unpacks to {format_size(size)}, over the limit of "
                f"{format_size(self.member_bytes)} for one member; nothing was extracted",
                file=str(archive),
                item=name,
                field="size",
                hint="extract it yourself and collect the file, or raise the limit "
                "(--max-member-size)",
            )
        if packed is not None:
            self.check_ratio(archive, name, size, packed)

    def check_ratio(self, archive: Path, name: str | None, size: int, packed: int) -> None:
        if size <= self.ratio_floor or size <= self.ratio * max(packed, 1):
            return
        what = "the archive member" if name else "the archive"
        raise InputError(
            f"{what} unpacks {size / max(packed, 1):,.0f}× ({format_size(packed)} → "
            f"{format_size(size)}), over the limit of {self.ratio:g}× (a zip bomb?); "
            "nothing was extracted",
            file=str(archive),
            item=name,
            field="compression_ratio",
            hint="if the archive is genuine, extract it yourself and collect the folder, or "
            "raise the limit (--max-ratio)",
        )

    def check_record_file(self, file: str, size: int, *, item: str | None = None) -> None:
        if size > self.record_bytes:
            raise InputError(
                f"the record file is {format_size(size)}, over the limit of "
                f"{format_size(self.record_bytes)} for one record file (it is parsed whole)",
                file=file,
                item=item,
                field="size",
                hint="split it into smaller files (e.g. `split -l 500000 "
                "--additional-suffix=.jsonl big.jsonl part-`), or raise the limit "
                "(--max-record-size)",
            )


@dataclass(frozen=True)
class Member:
    """One archive member: its bytes, or (past ``spill_bytes``) a temporary file holding
    them, which the caller deletes."""

    name: str  # NFC POSIX path inside the archive
    data: bytes | None
    spilled: str | None = None
    size: int = 0


def _safe_member_name(name: str, archive: Path) -> str:
    n = nfc(name.replace("\\", "/"))
    parts = PurePosixPath(n).parts
    if n.startswith("/") or (len(n) > 1 and n[1] == ":") or ".." in parts:
        raise InputError(
            f"archive entry {name!r} points outside the archive (zip-slip); refused",
            file=str(archive),
            item=name,
            hint="rebuild the archive with relative paths inside it",
        )
    return "/".join(p for p in parts if p not in ("", "."))


def _read_member(fh: IO[bytes], name: str, size: int, spill: Callable[[], str] | None) -> Member:
    if spill is None:
        return Member(name, fh.read(), size=size)
    tmp = spill()
    try:
        with open(tmp, "wb") as out:  # noqa: PTH123
            shutil.copyfileobj(fh, out, 1 << 22)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)  # noqa: PTH108
        raise
    return Member(name, None, spilled=tmp, size=size)


def iter_archive(
    path: Path,
    *,
    limits: Limits | None = None,
    spill_dir: str | None = None,
    spill_bytes: int = 256 * MiB,
    is_record: Callable[[str], bool] | None = None,
    display: str | None = None,
) -> Iterator[Member]:
    """The regular-file members of a zip or tar archive. Unsafe entries, and members past
    ``limits``, raise InputError before anything is extracted. Members over ``spill_bytes``
    are copied in a stream to a temporary file in ``spill_dir`` (when given) instead of
    being read into memory; ``is_record(name)`` members are held to the record-file limit
    and always read into memory. ``display`` names the archive in errors (default: ``path``)."""
    lim = limits or Limits()
    label = Path(display) if display is not None else path
    packed_total = path.stat().st_size if path.exists() else 0
    counter = itertools.count()

    def spill_for(name: str, size: int) -> Callable[[], str] | None:
        if spill_dir is None or size <= spill_bytes or (is_record and is_record(name)):
            return None  # record files are parsed from bytes (and held to their own limit)
        return lambda: os.path.join(spill_dir, f"{os.getpid()}.{next(counter)}.member")  # noqa: PTH118

    def check(name: str, size: int, packed: int | None) -> None:
        if _skip_member(name):
            return
        lim.check_member(label, name, size, packed)
        if is_record is not None and is_record(name):
            lim.check_record_file(str(label), size, item=name)

    lower = path.name.lower()
    try:
        if lower.endswith(".zip"):
            with zipfile.ZipFile(path) as zf:
                infos = zf.infolist()
                total = 0
                for info in infos:  # check every name and size before extracting anything
                    name = _safe_member_name(info.filename, label)
                    mode = info.external_attr >> 16
                    if stat.S_ISLNK(mode):
                        raise InputError(
                            "archive entry is a symlink; refused",
                            file=str(label),
                            item=info.filename,
                        )
                    if not info.is_dir():
                        check(name, info.file_size, info.compress_size)
                        total += info.file_size
                lim.check_ratio(label, None, total, packed_total)
                for info in infos:
                    if info.is_dir():
                        continue
                    name = _safe_member_name(info.filename, label)
                    if _skip_member(name):
                        continue
                    try:
                        with zf.open(info) as fh:  # stops at the declared size, checks the CRC
                            got = _read_member(
                                fh, name, info.file_size, spill_for(name, info.file_size)
                            )
                    except _READ_ERRORS as exc:
                        raise _unreadable(label, name, exc) from exc
                    yield got
        else:
            with tarfile.open(path) as tf:
                members: list[tarfile.TarInfo] = []
                total = 0
                for m in tf:  # one pass over the headers; a bomb is refused part-way
                    name = _safe_member_name(m.name, label)
                    if m.issym() or m.islnk():
                        raise InputError(
                            f"archive entry is a link to {m.linkname!r}; refused",
                            file=str(label),
                            item=m.name,
                        )
                    if m.isfile():
                        check(name, m.size, None)
                        total += m.size
                        lim.check_ratio(label, None, total, packed_total)
                    members.append(m)
                for m in members:
                    if not m.isfile():
                        continue
                    name = _safe_member_name(m.name, label)
                    if _skip_member(name):
                        continue
                    try:
                        member = tf.extractfile(m)
                        if member is None:
                            continue
                        with member:
                            got = _read_member(member, name, m.size, spill_for(name, m.size))
                    except _READ_ERRORS as exc:
                        raise _unreadable(label, name, exc) from exc
                    yield got
    except _READ_ERRORS as exc:
        raise InputError(f"cannot read the archive: {exc}", file=str(label)) from exc


# what a damaged archive raises (a bad deflate stream is a zlib.error, not an OSError)
_READ_ERRORS = (
    zipfile.BadZipFile,
    tarfile.TarError,
    OSError,
    EOFError,
    zlib.error,
    lzma.LZMAError,
)


def _unreadable(archive: Path, name: str, exc: BaseException) -> InputError:
    return InputError(
        f"cannot read the archive member (damaged archive?): {exc}",
        file=str(archive),
        item=name,
        hint="test the archive (`unzip -t`, `tar -tvf`) and make it again",
    )


def _skip_member(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return base.startswith(".") or name.startswith("__MACOSX/") or _is_sidecar(base)
