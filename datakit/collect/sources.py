"""Where items come from: files, folders, globs, zip/tar archives and record files.

A *source* is what the user names on the command line. It expands into *entries* — one
per file on disk — each of which yields one item (a media or text file), many items (an
archive, a record file), or nothing. Paths are NFC-normalised; anything that points
outside its source (an archive member with ``..`` or an absolute name, a symlink leaving
the folder) is refused with an :class:`~datakit.errors.InputError`.
"""

from __future__ import annotations

import glob
import os
import stat
import tarfile
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any, Literal, NamedTuple

import yaml

from datakit.errors import InputError

EntryKind = Literal["file", "archive", "records"]
RECORD_EXTS = ("csv", "tsv", "json", "jsonl", "ndjson", "parquet")
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")
SIDECAR_SUFFIXES = (".meta.yaml", ".meta.yml", ".meta.json")
CONSENT_VALUES = ("yes", "no", "not_required", "unknown")


def nfc(s: str) -> str:
    return unicodedata.normalize("NFC", s)


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
    if any(c in spec for c in "*?["):
        base = _glob_base(spec)
        matches = sorted(glob.glob(spec, recursive=True))  # noqa: PTH207 (absolute patterns)
        files = [Path(m) for m in matches if Path(m).is_file() and not _is_sidecar(Path(m).name)]
        root = base
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


@dataclass(frozen=True)
class Member:
    name: str  # NFC POSIX path inside the archive
    data: bytes


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


def iter_archive(path: Path) -> Iterator[Member]:
    """The regular-file members of a zip or tar archive. Unsafe entries raise InputError."""
    lower = path.name.lower()
    try:
        if lower.endswith(".zip"):
            with zipfile.ZipFile(path) as zf:
                infos = zf.infolist()
                for info in infos:  # check every name before extracting anything
                    _safe_member_name(info.filename, path)
                    mode = info.external_attr >> 16
                    if stat.S_ISLNK(mode):
                        raise InputError(
                            "archive entry is a symlink; refused",
                            file=str(path),
                            item=info.filename,
                        )
                for info in infos:
                    if info.is_dir():
                        continue
                    name = _safe_member_name(info.filename, path)
                    if _skip_member(name):
                        continue
                    yield Member(name, zf.read(info))
        else:
            with tarfile.open(path) as tf:
                members = tf.getmembers()
                for m in members:
                    _safe_member_name(m.name, path)
                    if m.issym() or m.islnk():
                        raise InputError(
                            f"archive entry is a link to {m.linkname!r}; refused",
                            file=str(path),
                            item=m.name,
                        )
                for m in members:
                    if not m.isfile():
                        continue
                    name = _safe_member_name(m.name, path)
                    if _skip_member(name):
                        continue
                    fh = tf.extractfile(m)
                    if fh is not None:
                        yield Member(name, fh.read())
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError) as exc:
        raise InputError(f"cannot read the archive: {exc}", file=str(path)) from exc


def _skip_member(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return base.startswith(".") or name.startswith("__MACOSX/") or _is_sidecar(base)
