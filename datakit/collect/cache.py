"""The collect stage's local state: ``.datakit/collect/cache.sqlite``.

* ``files``: one row per source file seen (key = source name + NUL + path in the source),
  with the size, mtime and processing fingerprint it had when its items were made. A file
  whose three values are unchanged is not read again.
* ``items``: the pre-dedup manifest row of every item, as JSON, keyed by item id, with the
  file it came from (``parent``). ``data/manifest.parquet`` is rebuilt from this table.
* ``meta``: a generation counter bumped by every change, and what the last manifest was
  built from, so an unchanged rerun writes nothing.

SQLite commits are atomic: a run killed with ``kill -9`` loses at most the files of the
batch it was working on, and the rerun does them again (per-file work is idempotent).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from datakit.errors import InputError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    key TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    fp TEXT NOT NULL, n_items INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY, parent TEXT NOT NULL, row TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS items_parent ON items(parent);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
"""


class CollectCache:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    # -- files ---------------------------------------------------------------------------
    def file_states(self) -> dict[str, tuple[int, int, str]]:
        cur = self.db.execute("SELECT key, size, mtime_ns, fp FROM files")
        return {k: (s, m, fp) for k, s, m, fp in cur}

    def owner_of(self, item_id: str) -> str | None:
        row = self.db.execute("SELECT parent FROM items WHERE id = ?", (item_id,)).fetchone()
        return None if row is None else str(row[0])

    def commit_files(self, done: Iterable[tuple[str, int, int, str, list[dict[str, Any]]]]) -> None:
        """Replace the items of each (key, size, mtime_ns, fp, rows) file in one transaction."""
        cur = self.db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            for key, size, mtime_ns, fp, rows in done:
                for r in rows:
                    if not r.get("_own_id"):
                        continue  # derived ids hash the file's path: they cannot collide
                    hit = cur.execute(
                        "SELECT parent, row FROM items WHERE id = ?", (r["id"],)
                    ).fetchone()
                    if hit is not None and hit[0] != key:
                        other = json.loads(hit[1]).get("source_path")
                        raise InputError(
                            f"item id {r['id']!r} is already used by {other}",
                            file=r.get("source_path"),
                            field="id",
                            hint="item ids must be unique across sources; fix the id column "
                            "or drop --id-column to let datakit derive ids from paths",
                        )
                cur.execute("DELETE FROM items WHERE parent = ?", (key,))
                cur.executemany(
                    "INSERT OR REPLACE INTO items(id, parent, row) VALUES (?, ?, ?)",
                    [(r["id"], key, json.dumps(r, ensure_ascii=False)) for r in rows],
                )
                cur.execute(
                    "INSERT OR REPLACE INTO files(key, size, mtime_ns, fp, n_items) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (key, size, mtime_ns, fp, len(rows)),
                )
            cur.execute(
                "INSERT INTO meta(k, v) VALUES ('generation', '1') ON CONFLICT(k) "
                "DO UPDATE SET v = CAST(CAST(v AS INTEGER) + 1 AS TEXT)"
            )
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    # -- items ---------------------------------------------------------------------------
    def iter_row_batches(self, batch: int = 1000) -> Iterator[list[dict[str, Any]]]:
        """Every item row, in id order, ``batch`` at a time."""
        cur = self.db.execute("SELECT row FROM items ORDER BY id")
        while chunk := cur.fetchmany(batch):
            yield [json.loads(row) for (row,) in chunk]

    def count_items(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM items").fetchone()[0])

    # -- meta ----------------------------------------------------------------------------
    def get(self, key: str) -> str | None:
        row = self.db.execute("SELECT v FROM meta WHERE k = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta(k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v",
            (key, value),
        )

    @property
    def generation(self) -> int:
        return int(self.get("generation") or 0)
