"""Typed view of ``datakit.yaml``. Built only from a dict that passed the JSON Schema."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

DataType = Literal["text", "image", "audio", "video", "tabular"]
TaskType = Literal[
    "text_classification", "ner", "image_classification", "object_detection", "transcription"
]
FieldType = Literal[
    "string",
    "integer",
    "number",
    "boolean",
    "date",
    "datetime",
    "class",
    "classes",
    "spans",
    "boxes",
    "choice",
]
PiiKind = Literal["rrn", "foreigner_rn", "phone", "email", "card", "account", "passport"]
PiiAction = Literal["flag", "mask", "drop"]
SplitName = Literal["train", "validation", "test"]

DEFAULT_LABEL_FIELD: dict[str, str] = {
    "text_classification": "label",
    "image_classification": "label",
    "ner": "entities",
    "object_detection": "objects",
    "transcription": "transcript",
}
# The field type each task's label field must have.
LABEL_FIELD_TYPE: dict[str, tuple[str, ...]] = {
    "text_classification": ("class", "classes"),
    "image_classification": ("class", "classes"),
    "ner": ("spans",),
    "object_detection": ("boxes",),
    "transcription": ("string",),
}
TASK_DATA_TYPE: dict[str, tuple[str, ...]] = {
    "text_classification": ("text", "tabular"),
    "ner": ("text",),
    "image_classification": ("image",),
    "object_detection": ("image",),
    "transcription": ("audio", "video"),
}
PII_KINDS: tuple[PiiKind, ...] = (
    "rrn",
    "foreigner_rn",
    "phone",
    "email",
    "card",
    "account",
    "passport",
)


@dataclass(frozen=True)
class Organizations:
    builder: str | None = None
    labeler: str | None = None
    inspector: str | None = None


@dataclass(frozen=True)
class Dataset:
    id: str
    name_ko: str
    name_en: str
    version: str
    license: str
    domain: str | None = None
    purpose: str | None = None
    services: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    year: int | None = None
    release_date: str | None = None
    organizations: Organizations = field(default_factory=Organizations)
    contact_name: str | None = None
    contact_email: str | None = None


@dataclass(frozen=True)
class TextRequirements:
    min_length: int | None = None
    max_length: int | None = None
    encoding: str = "utf-8"


@dataclass(frozen=True)
class ImageRequirements:
    min_width: int | None = None
    min_height: int | None = None
    max_width: int | None = None
    max_height: int | None = None
    modes: tuple[str, ...] = ()


@dataclass(frozen=True)
class AudioRequirements:
    sample_rates: tuple[int, ...] = ()
    channels: tuple[int, ...] = ()
    min_duration: float | None = None
    max_duration: float | None = None


@dataclass(frozen=True)
class Data:
    type: DataType
    formats: tuple[str, ...] = ()
    text: TextRequirements = field(default_factory=TextRequirements)
    image: ImageRequirements = field(default_factory=ImageRequirements)
    audio: AudioRequirements = field(default_factory=AudioRequirements)


@dataclass(frozen=True)
class LabelClass:
    name: str
    definition: str
    en: str | None = None
    examples: tuple[str, ...] = ()
    counter_examples: tuple[str, ...] = ()
    color: str | None = None


@dataclass(frozen=True)
class Attribute:
    name: str
    values: tuple[str, ...]
    description: str | None = None
    required: bool = False
    ordinal: bool = False


@dataclass(frozen=True)
class Task:
    type: TaskType
    label_field: str
    classes: tuple[LabelClass, ...]
    attributes: tuple[Attribute, ...] = ()
    instructions: str | None = None

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.classes)


@dataclass(frozen=True)
class FieldDef:
    """One row of the field dictionary (속성명 | 타입 | 필수 여부 | 설명 | 범위 | 비고)."""

    name: str
    type: FieldType
    description: str
    required: bool = True
    group: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    values: tuple[str, ...] = ()
    unique: bool = False
    note: str | None = None

    def range_text(self) -> str:
        """The 범위 column of the 데이터설명서."""
        if self.values:
            return ", ".join(self.values)
        parts = []
        if self.minimum is not None or self.maximum is not None:
            lo = "" if self.minimum is None else _num(self.minimum)
            hi = "" if self.maximum is None else _num(self.maximum)
            unit = " (길이)" if self.type == "string" else ""
            parts.append(f"{lo}~{hi}{unit}")
        if self.pattern:
            parts.append(f"정규식 {self.pattern}")
        return "; ".join(parts)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


# 유효성: the metrics a task's baseline (or the user's predictions) can be judged by, the
# default (first) with its default target. Lower is better for error rates.
VALIDITY_METRICS: dict[str, tuple[str, ...]] = {
    "text_classification": ("macro_f1", "accuracy", "weighted_f1"),
    "image_classification": ("macro_f1", "accuracy", "weighted_f1"),
    "ner": ("entity_f1", "entity_precision", "entity_recall"),
    "object_detection": ("map50", "map", "map75"),
    "transcription": ("cer", "wer"),
}
DEFAULT_VALIDITY_TARGET: dict[str, float] = {
    "text_classification": 0.7,
    "image_classification": 0.7,
    "ner": 0.7,
    "object_detection": 0.5,
    "transcription": 0.15,
}
LOWER_IS_BETTER = frozenset({"cer", "wer"})


@dataclass(frozen=True)
class ValidityTarget:
    """``targets.quality.validity``: None takes the task's default (VALIDITY_METRICS)."""

    metric: str | None = None
    target: float | None = None


@dataclass(frozen=True)
class QualityTargets:
    syntactic: float = 0.995
    format: float = 0.99
    semantic: float = 0.90
    completeness: float = 1.0
    diversity: float = 0.9
    agreement: float = 0.6
    validity: ValidityTarget = field(default_factory=ValidityTarget)


@dataclass(frozen=True)
class Targets:
    total: int | None = None
    per_class: dict[str, int] = field(default_factory=dict)
    composition: dict[str, dict[str, float]] = field(default_factory=dict)
    quality: QualityTargets = field(default_factory=QualityTargets)


@dataclass(frozen=True)
class LabelStudioSettings:
    url_env: str = "LABEL_STUDIO_URL"
    api_key_env: str = "LABEL_STUDIO_API_KEY"
    port: int = 8080
    venv: str | None = None


@dataclass(frozen=True)
class Annotation:
    annotators_per_item: int = 2
    cross_check_share: float = 1.0
    agreement_metric: str = "auto"
    review_below: float = 0.5
    iou_threshold: float = 0.5
    label_studio: LabelStudioSettings = field(default_factory=LabelStudioSettings)


@dataclass(frozen=True)
class Splits:
    ratios: dict[str, float] = field(
        default_factory=lambda: {"train": 0.8, "validation": 0.1, "test": 0.1}
    )
    seed: int = 42
    stratify: str | None = None
    group: str | None = None
    tolerance: float = 0.02
    cross_group_near_duplicates: Literal["exclude", "ignore", "together"] = "exclude"


@dataclass(frozen=True)
class PiiPolicy:
    detect: tuple[PiiKind, ...] = PII_KINDS
    action: PiiAction = "mask"
    mask_char: str = "*"
    keep_length: bool = True
    # names the variable, never holds the key (like annotation.label_studio.api_key_env)
    pseudonym_key_env: str = "DATAKIT_PSEUDONYM_KEY"


@dataclass(frozen=True)
class NearDuplicateSettings:
    """How collect decides that two texts are near-duplicates (docs/collect.md)."""

    threshold: float = 0.5  # 2-shingle Jaccard similarity; --near-dup-threshold overrides
    # shorter normalised texts are near-duplicates only when equal (chosen from labelled pairs)
    min_length: int = 20


@dataclass(frozen=True)
class CollectSettings:
    near_duplicates: NearDuplicateSettings = field(default_factory=NearDuplicateSettings)


@dataclass(frozen=True)
class EngineSettings:
    """Where ``check`` and ``package`` run (``--engine`` and ``DATAKIT_ENGINE`` override)."""

    name: Literal["local", "spark"] = "local"
    master: str | None = None
    conf: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProjectSpec:
    """The whole spec. ``raw`` keeps the validated mapping for hashing and documents."""

    dataset: Dataset
    data: Data
    task: Task
    fields: tuple[FieldDef, ...]
    targets: Targets
    annotation: Annotation
    splits: Splits
    pii: PiiPolicy
    engine: EngineSettings = field(default_factory=EngineSettings)
    collect: CollectSettings = field(default_factory=CollectSettings)
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def label_field(self) -> FieldDef:
        return self.field(self.task.label_field)

    def field(self, name: str) -> FieldDef:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def validity_target(self) -> tuple[str, float]:
        """The validity metric and target, the task's defaults filling what the spec omits."""
        v = self.targets.quality.validity
        metric = v.metric or VALIDITY_METRICS[self.task.type][0]
        if v.target is not None:
            return metric, float(v.target)
        return metric, DEFAULT_VALIDITY_TARGET[self.task.type]

    @property
    def stratify_key(self) -> str | None:
        """The field splits are stratified on: the spec's, else the label for classification."""
        if self.splits.stratify is not None:
            return self.splits.stratify
        if self.task.type in ("text_classification", "image_classification"):
            return self.task.label_field
        return None
