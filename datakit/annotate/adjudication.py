"""Reviewers settle items; they are not annotators.

A label counts as *settled* (adjudicated) when it comes from

* the review project (``<dataset id> review``), where a reviewer answers the items that
  datakit sent to review, or
* a ground-truth annotation (``ground_truth: true``) in the labelling project itself —
  Label Studio's way of marking the settled label of a task.

Settled labels are the item's final label, but they never enter inter-annotator
agreement: a reviewer who labels exactly the items where two annotators differed would
otherwise turn them into 2-to-1 majorities and drive agreement up. What reviewers did is
reported separately (:class:`~datakit.reports.Adjudication`): how often they overturned the
label the annotators' own consensus proposed, and each annotator's agreement with the
settled labels.

A ground-truth annotation settles its item when it is the item's only one and the item
has other annotations (:func:`settling_annotations`). Who is a reviewer in the labelling
project: an account whose every annotation there settles its item. An annotator whose
label a reviewer starred as ground truth has other, ordinary annotations and stays an
annotator (that label then is both a rating and the settled label).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from datakit.annotate.agreement import Ann, cer, latest_per_annotator, matched_pair, value_key
from datakit.annotate.consensus import proposal
from datakit.reports import Adjudication
from datakit.spec.model import ProjectSpec

REVIEW_PROJECT = "review_project"
GROUND_TRUTH = "ground_truth"


@dataclass(frozen=True)
class Settled:
    """An item's settled label and where it came from (``review_project`` | ``ground_truth``)."""

    ann: Ann
    source: str


RowKey = tuple[str, int]  # (origin, annotation id) of an annotations.parquet row


def row_key(row: Mapping[str, Any]) -> RowKey:
    return str(row["origin"]), int(row["annotation_id"])


def settling_annotations(rows: Iterable[Mapping[str, Any]]) -> set[RowKey]:
    """The ground-truth annotations that settle their item: the item's only ground-truth
    annotation, next to other annotations of the item. (Label Studio keeps one ground truth
    per task; annotations imported into Label Studio are all marked ground truth by
    default, and a flag on every annotation, or on an item's only annotation, settles
    nothing.) ``rows`` are annotations.parquet rows."""
    by_item: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        if not r["was_cancelled"]:
            by_item[str(r["item_id"])].append(r)
    out: set[RowKey] = set()
    for anns in by_item.values():
        truth = [r for r in anns if r["ground_truth"]]
        if len(truth) == 1 and len(anns) > 1:
            out.add(row_key(truth[0]))
    return out


def reviewer_accounts(rows: Iterable[Mapping[str, Any]], settling: set[RowKey]) -> set[str]:
    """Accounts whose every (not cancelled) annotation settles its item: reviewers working
    in the labelling project itself."""
    only: dict[str, bool] = {}
    for r in rows:
        if r["was_cancelled"]:
            continue
        who = str(r["annotator"])
        only[who] = only.get(who, True) and row_key(r) in settling
    return {who for who, yes in only.items() if yes}


def keep_latest(labels: dict[str, Ann], item_id: str, ann: Ann) -> None:
    """Keep ``ann`` as the item's label if it is newer than the one held."""
    cur = labels.get(item_id)
    if cur is None or (ann.updated_at, ann.annotation_id) > (cur.updated_at, cur.annotation_id):
        labels[item_id] = ann


def latest_settled(*sources: tuple[str, Mapping[str, Ann]]) -> dict[str, Settled]:
    """Per item, the latest settled label over the given (source name, item → label)."""
    out: dict[str, Settled] = {}
    for source, labels in sources:
        for iid, ann in labels.items():
            cur = out.get(iid)
            key = (ann.updated_at, ann.annotation_id)
            if cur is None or key > (cur.ann.updated_at, cur.ann.annotation_id):
                out[iid] = Settled(ann, source)
    return out


def label_score(spec: ProjectSpec, settled: Ann, other: Ann) -> float:
    """How far ``other``'s label agrees with the settled one: 1/0 for classes, F1 for boxes
    and spans, 1 − CER for transcripts."""
    label = spec.task.label_field
    t = spec.task.type
    if t in ("text_classification", "image_classification"):
        same = value_key(settled.fields.get(label)) == value_key(other.fields.get(label))
        return 1.0 if same else 0.0
    if t in ("object_detection", "ner"):
        return matched_pair(spec, settled, other, label)
    a, b = str(settled.fields.get(label) or ""), str(other.fields.get(label) or "")
    return 1 - min(1.0, cer(a, b))


def measure_name(spec: ProjectSpec) -> str:
    t = spec.task.type
    if t == "object_detection":
        return f"box F1 at IoU ≥ {spec.annotation.iou_threshold}"
    if t == "ner":
        return "span F1"
    if t == "transcription":
        return "1 − CER"
    return "exact match"


def summarize(
    spec: ProjectSpec,
    items: Mapping[str, list[Ann]],
    settled: Mapping[str, Settled],
    reviewers: Iterable[str] = (),
) -> Adjudication:
    """What the settled labels say about the annotators' labels of the same items.

    ``items`` holds the annotators' annotations (reviewers left out). ``overturned`` counts
    items with two or more annotators whose consensus proposed a label (no tie) that the
    settled label differs from."""
    sources: dict[str, int] = defaultdict(int)
    scores: dict[str, list[float]] = defaultdict(list)
    with_majority = overturned = n_items = 0
    for iid, s in settled.items():
        sources[s.source] += 1
        anns = latest_per_annotator(items.get(iid) or [])
        if not anns:
            continue
        n_items += 1
        for a in anns:
            scores[a.annotator].append(label_score(spec, s.ann, a))
        if len(anns) >= 2:
            fields, agreed = proposal(spec, anns)
            if agreed:
                with_majority += 1
                overturned += label_score(spec, s.ann, Ann("", 0, fields)) < 1.0
    in_review = {s.ann.annotator for s in settled.values() if s.source == REVIEW_PROJECT}
    per_annotator = {
        who: {"n_items": len(v), "accuracy": round(sum(v) / len(v), 6)}
        for who, v in sorted(scores.items())
    }
    return Adjudication(
        n_items=n_items,
        sources=dict(sources),
        reviewers=sorted(set(reviewers) | in_review),
        n_items_with_majority=with_majority,
        overturned=overturned,
        measure=measure_name(spec),
        per_annotator=per_annotator,
    )
