"""What the package engines share: the seam they meet the stage through (``PackageEngine``),
what they hand back (``BuiltRelease``), how big the shards are (``ShardPlan``), how rows
become release rows (``release_batch``) and how media content is read (``MediaReader``).

``run.package`` picks one engine and calls its ``build``; the local engine (``local.py``)
and the Spark engine (``spark.py``) compute the same release by different means, and both
write their shards with ``shards.ShardFile``, whose bytes depend only on the rows.
"""

from __future__ import annotations

import shutil
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

import pyarrow as pa

from datakit.errors import InputError, ReleaseError
from datakit.project import Project
from datakit.spec.model import ProjectSpec

from .balance import SplitReport
from .shards import MediaMode, is_media

Progress = Callable[[int, int | None], None]

TEXT_SHARD_BYTES = 256 << 20
MEDIA_SHARD_BYTES = 512 << 20
ROW_GROUP_BYTES = 64 << 20
MANIFEST_FILE = "data/manifest.parquet"  # as errors name it


@dataclass
class BuiltRelease:
    """What an engine hands back once the shards are in the temporary release folder. The
    figures are aggregates (never per item), so the driver's work after this is small."""

    split_sizes: dict[str, int]
    shards: dict[str, list[dict[str, Any]]]  # split → [{path, rows, bytes}]
    leakage: dict[str, int]  # leakage_figures(): exact_hash, near_duplicate, group, total
    classes: dict[str, dict[str, int]]  # metadata.class_counts()
    attributes: dict[str, dict[str, dict[str, int]]]  # metadata.attribute_counts()
    sources: dict[str, int]  # source name → items
    methods: dict[str, int]  # label method → items (empty without consensus lineage)
    mean_agreement: float | None
    mean_annotators: float | None
    units: int  # split units (connected groups, clusters, exact duplicates)
    skipped: dict[str, int]  # not_ok, unlabelled, labels_not_released, cross_group_…
    pii_items: int
    split_report: SplitReport
    excluded_rows: list[dict[str, Any]]  # items left out as cross-group near-duplicates
    collection_dates: tuple[str | None, str | None] = (None, None)
    latest_collected_at: str | None = None


@dataclass(frozen=True)
class BuildOptions:
    """How ``run.package`` asks an engine to build: the media mode, an explicit shard size,
    a progress callback, a hook that must run before the first shard is written (the full
    quality gate) and the split report's check (raises to refuse before any shard)."""

    media: MediaMode = "embed"
    rows_per_shard: int | None = None
    progress: Progress | None = None
    before_write: Callable[[], None] | None = None
    split_check: Callable[[SplitReport], SplitReport] | None = None


class PackageEngine(Protocol):
    """An engine of the package stage: builds the release's shards into ``out`` and returns
    the figures; the same inputs give the same files whichever engine builds them."""

    name: str

    def build(
        self, project: Project, spec: ProjectSpec, out: Path, options: BuildOptions
    ) -> BuiltRelease: ...


def no_items() -> ReleaseError:
    return ReleaseError(
        "no item is both collected (status ok) and labelled",
        hint="run `datakit collect` and `datakit annotate pull` first",
    )


@dataclass(frozen=True)
class ShardPlan:
    """Rows per shard and per row group, chosen from the items' mean size (or an explicit
    ``rows_per_shard``), and the manifest column the content comes from."""

    rows_per_shard: int
    row_group_rows: int
    source_column: str  # "text", or "stored_path" for media

    @classmethod
    def of(
        cls, spec: ProjectSpec, mean_size: float | None, rows_per_shard: int | None
    ) -> ShardPlan:
        media = is_media(spec)
        avg = max(1.0, float(mean_size or 1.0))
        target = MEDIA_SHARD_BYTES if media else TEXT_SHARD_BYTES
        per_shard = rows_per_shard or max(1, int(target / avg))
        row_group = max(1, min(per_shard, 100 if media else 100_000, int(ROW_GROUP_BYTES / avg)))
        return cls(per_shard, row_group, "stored_path" if media else "text")

    def shard_count(self, rows: int) -> int:
        """Shards of a split of ``rows`` rows (an empty split still gets one, empty)."""
        return max(1, -(-rows // self.rows_per_shard))

    def require_source(self, project: Project, columns: Iterable[str]) -> None:
        if self.source_column not in set(columns):
            raise InputError(
                f"manifest has no {self.source_column} column",
                file=project.paths.rel(project.paths.manifest),
            )


def release_batch(
    schema: pa.Schema,
    content: str,
    columns: Mapping[str, pa.Array | pa.ChunkedArray],
    content_values: pa.Array | pa.ChunkedArray,
    num_rows: int,
) -> pa.RecordBatch:
    """Rows projected onto the release schema: ``content_values`` as the content column,
    ``columns`` cast to their release types, null for any release column not given."""
    arrays = []
    for f in schema:
        values = content_values if f.name == content else columns.get(f.name)
        if values is None:
            arrays.append(pa.nulls(num_rows, f.type))
            continue
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        arrays.append(values.cast(f.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


class SourceFileError(Exception):
    """An item whose stored file is missing or unreadable; carries what the ``InputError``
    names (a Spark task hands these fields back to the driver as data)."""

    def __init__(self, pos: int, item: str, file: str, message: str) -> None:
        super().__init__(message)
        self.pos, self.item, self.file, self.message = pos, item, file, message

    def input_error(self) -> InputError:
        return source_file_error(self.message, self.file, self.item)


def source_file_error(message: str, file: str, item: str) -> InputError:
    return InputError(
        message,
        file=file,
        item=item,
        field="stored_path",
        hint=None if file == MANIFEST_FILE else "rerun `datakit collect` to restore data/source/",
    )


class MediaReader:
    """The content of media items, over ``pyarrow.fs``: each stored file embedded as
    ``{bytes, path}`` or copied to ``files/<split>/`` (``reference``). ``root`` is the
    project folder and ``out`` the release folder, as URIs or local paths."""

    def __init__(self, media: MediaMode, root: str, out: str) -> None:
        import pyarrow.fs as pafs

        self.media = media
        self.src_fs, self.src_root = pafs.FileSystem.from_uri(_uri(root))
        self.out_fs, self.out_root = pafs.FileSystem.from_uri(_uri(out))
        # On a local filesystem plain file calls do the same with less overhead.
        self.local = isinstance(self.src_fs, pafs.LocalFileSystem) and isinstance(
            self.out_fs, pafs.LocalFileSystem
        )
        self.type = (
            pa.struct([("bytes", pa.binary()), ("path", pa.string())])
            if media == "embed"
            else pa.string()
        )

    def values(
        self, ids: list[str], stored: list[str | None], positions: list[int], split: str
    ) -> pa.Array:
        import pyarrow.fs as pafs

        out: list[Any] = []
        folder = f"{self.out_root}/files/{split}"
        made = False
        for item_id, rel, pos in zip(ids, stored, positions, strict=True):
            if not rel:
                raise SourceFileError(pos, item_id, MANIFEST_FILE, "the item has no stored file")
            name = unicodedata.normalize("NFC", f"{item_id}{PurePosixPath(rel).suffix.lower()}")
            path = f"{self.src_root}/{rel}"
            try:
                if self.media == "embed" and self.local:
                    out.append({"bytes": Path(path).read_bytes(), "path": name})
                elif self.media == "embed":
                    with self.src_fs.open_input_stream(path) as fh:
                        out.append({"bytes": fh.read(), "path": name})
                else:
                    if not made:
                        if self.local:
                            Path(folder).mkdir(parents=True, exist_ok=True)
                        else:
                            self.out_fs.create_dir(folder, recursive=True)
                        made = True
                    if self.local:
                        shutil.copyfile(path, f"{folder}/{name}")
                    else:
                        pafs.copy_files(
                            path,
                            f"{folder}/{name}",
                            source_filesystem=self.src_fs,
                            destination_filesystem=self.out_fs,
                        )
                    out.append(f"files/{split}/{name}")
            except OSError as exc:
                reason = exc.strerror or str(exc).splitlines()[0]
                raise SourceFileError(
                    pos, item_id, rel, f"cannot read the source file ({reason})"
                ) from None
        return pa.array(out, self.type)


def _uri(location: str) -> str:
    """A local path as an absolute path (``FileSystem.from_uri`` takes those), else as is."""
    if "://" in location:
        return location
    return str(Path(location).absolute())
