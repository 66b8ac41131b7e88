"""How well a release's splits meet the plan: planned and achieved shares, the tolerance, the
units too large to fit and the items left out as cross-group near-duplicates.

One :class:`SplitReport` is written into ``metadata.json`` (``splits``), the 데이터설명서, the
dataset card and the ``package`` summary, and read back by ``verify`` through the same object.
Both engines build it from aggregates (never per item), so the driver's work stays small.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from datakit.errors import EXIT_GATE_FAILED, ReleaseError
from datakit.splits import split_names

# Named in the report: at most this many large units, and group/cluster values per unit.
MAX_UNITS_NAMED = 10
MAX_VALUES_NAMED = 10
EXCLUDED_FILE = "excluded.csv"
EXCLUDED_REASON = "cross_group_near_duplicate"


@dataclass(frozen=True)
class LargeUnit:
    """A unit large enough to move a split's share past the tolerance on its own. ``excess``
    is how many items it put beyond what its split still needed (0: it fitted).
    ``groups``/``clusters`` are the most common values that joined it (value → items), with
    the number of distinct values in ``n_groups``/``n_clusters``."""

    size: int
    split: str
    excess: int
    groups: dict[str, int]
    n_groups: int
    clusters: dict[str, int]
    n_clusters: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "split": self.split,
            "excess": self.excess,
            "groups": self.groups,
            "n_groups": self.n_groups,
            "clusters": self.clusters,
            "n_clusters": self.n_clusters,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LargeUnit:
        return cls(
            size=int(d["size"]),
            split=str(d["split"]),
            excess=int(d["excess"]),
            groups={str(k): int(v) for k, v in d["groups"].items()},
            n_groups=int(d["n_groups"]),
            clusters={str(k): int(v) for k, v in d["clusters"].items()},
            n_clusters=int(d["n_clusters"]),
        )

    def describe(self) -> str:
        beyond = f" ({self.excess} beyond its target)" if self.excess else ""
        parts = [f"{self.size} items in {self.split}{beyond}"]
        for n, shown, what in (
            (self.n_groups, self.groups, "groups"),
            (self.n_clusters, self.clusters, "near-duplicate clusters"),
        ):
            if n:
                listed = ", ".join(f"{k} ({v})" for k, v in shown.items())
                more = f" and {n - len(shown)} more" if n > len(shown) else ""
                joined = "joined through " if what != "groups" else ""
                parts.append(f"{joined}{n} {what}: {listed}{more}")
        return "; ".join(parts)


@dataclass(frozen=True)
class SplitReport:
    """Planned against achieved split shares of the released items."""

    planned: dict[str, float]
    counts: dict[str, int]
    tolerance: float
    cross_group_near_duplicates: str
    excluded: int = 0
    large_units: tuple[LargeUnit, ...] = ()
    accepted_deviation: bool = False
    achieved: dict[str, float] = field(init=False)

    def __post_init__(self) -> None:
        total = sum(self.counts.values())
        object.__setattr__(
            self,
            "achieved",
            {s: round(self.counts.get(s, 0) / total, 6) if total else 0.0 for s in self.planned},
        )

    @property
    def deviation(self) -> dict[str, float]:
        return {s: round(self.achieved[s] - p, 6) for s, p in self.planned.items()}

    @property
    def outside(self) -> list[str]:
        """The splits whose share misses the plan by more than the tolerance."""
        return [s for s, d in self.deviation.items() if abs(d) > self.tolerance + 1e-9]

    @property
    def within_tolerance(self) -> bool:
        return not self.outside

    def to_dict(self) -> dict[str, Any]:
        return {
            "planned": dict(self.planned),
            "achieved": dict(self.achieved),
            "counts": dict(self.counts),
            "tolerance": self.tolerance,
            "within_tolerance": self.within_tolerance,
            "accepted_deviation": self.accepted_deviation,
            "cross_group_near_duplicates": self.cross_group_near_duplicates,
            "excluded": self.excluded,
            "large_units": [u.to_dict() for u in self.large_units],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SplitReport:
        return cls(
            planned={str(k): float(v) for k, v in d["planned"].items()},
            counts={str(k): int(v) for k, v in d["counts"].items()},
            tolerance=float(d["tolerance"]),
            cross_group_near_duplicates=str(d["cross_group_near_duplicates"]),
            excluded=int(d["excluded"]),
            large_units=tuple(LargeUnit.from_dict(u) for u in d["large_units"]),
            accepted_deviation=bool(d["accepted_deviation"]),
        )

    def lines(self) -> list[str]:
        """One line per split, for people: ``train 80.1% (plan 80.0%)``."""
        return [
            f"{s} {self.achieved[s]:.1%} (plan {p:.1%}, {self.counts.get(s, 0):,} items)"
            for s, p in self.planned.items()
        ]

    def accepted(self) -> SplitReport:
        return replace(self, accepted_deviation=True)


class SplitDeviationError(ReleaseError):
    """The splits miss the plan by more than ``splits.tolerance``: exit 1, like a failed gate."""

    exit_code = EXIT_GATE_FAILED

    def __init__(self, report: SplitReport) -> None:
        self.report = report
        misses = ", ".join(
            f"{s} {report.achieved[s]:.1%} (plan {report.planned[s]:.1%})" for s in report.outside
        )
        units = "; ".join(
            f"unit {k + 1}: {u.describe()}"
            for k, u in enumerate(u for u in report.large_units if u.excess)
        )
        msg = f"split shares outside the tolerance of {report.tolerance:g}: {misses}"
        if units:
            msg += f". Too large to fit: {units}"
        super().__init__(
            msg,
            hint="split the groups more finely (splits.group), set "
            "splits.cross_group_near_duplicates to exclude, raise splits.tolerance, or pass "
            "--accept-split-deviation to release anyway (the release records it)",
        )


def planned_shares(ratios: Mapping[str, float]) -> dict[str, float]:
    names = split_names(ratios)
    total = sum(ratios[s] for s in names)
    return {s: round(ratios[s] / total, 6) for s in names}


def large_unit(
    size: int,
    split: str,
    excess: float,
    groups: Mapping[str, int],
    clusters: Mapping[str, int],
) -> LargeUnit:
    """Describe a unit from the counts of its members' group and cluster values."""

    def top(counts: Mapping[str, int]) -> dict[str, int]:
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return {k: int(v) for k, v in ranked[:MAX_VALUES_NAMED]}

    return LargeUnit(
        size=size,
        split=split,
        excess=round(excess),
        groups=top(groups),
        n_groups=len(groups),
        clusters=top(clusters),
        n_clusters=len(clusters),
    )


def named_units(
    large_units: Sequence[Mapping[str, Any]], report: SplitReport
) -> list[Mapping[str, Any]]:
    """The large units to name (both engines): those that could move a split's share past
    the tolerance on their own (more items than ``tolerance`` × released items), the ones
    that overflowed their split first, then by size; at most ``MAX_UNITS_NAMED``."""
    least = max(1.0, report.tolerance * sum(report.counts.values()))
    big = [u for u in large_units if u["size"] > least]
    big.sort(key=lambda u: (-u["excess"], -u["size"], u["key"]))
    return big[:MAX_UNITS_NAMED]


def write_excluded(path: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    """The items left out of the release, with the reason (CSV, UTF-8 with BOM for Excel)."""
    import csv
    import io

    from datakit.io import csv_safe, write_text

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "reason", "near_dup_cluster", "group", "home_group"])
    for r in rows:
        cells = [
            r["id"],
            EXCLUDED_REASON,
            r.get("cluster") or "",
            r.get("group") or "",
            r.get("home_group") or "",
        ]
        w.writerow([csv_safe(c) for c in cells])  # people open it in Excel
    write_text(path, "\ufeff" + buf.getvalue())
