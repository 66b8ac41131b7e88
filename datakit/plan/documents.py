"""Korean planning documents derived from the spec: 카테고리 정의서 and the
가공(라벨링) 가이드라인 skeleton. Markdown, deterministic."""

from __future__ import annotations

from datakit.markdown import field_dictionary_table, md_table
from datakit.spec.model import ProjectSpec

TASK_KO = {
    "text_classification": "텍스트 분류",
    "ner": "개체명 인식 (텍스트 구간 태깅)",
    "image_classification": "이미지 분류",
    "object_detection": "객체 탐지 (바운딩 박스)",
    "transcription": "음성 전사",
}
DATA_TYPE_KO = {
    "text": "텍스트",
    "image": "이미지",
    "audio": "오디오",
    "video": "비디오",
    "tabular": "정형",
}
PII_KO = {
    "rrn": "주민등록번호",
    "foreigner_rn": "외국인등록번호",
    "phone": "전화번호 (휴대전화·유선)",
    "email": "이메일 주소",
    "card": "카드번호",
    "account": "계좌번호",
    "passport": "여권번호",
}
PII_ACTION_KO = {"flag": "표시만 함 (flag)", "mask": "마스킹 (mask)", "drop": "항목 제외 (drop)"}
INDICATOR_KO = {
    "syntactic": "구문 정확성",
    "format": "형식성 (기술 적합성)",
    "semantic": "의미 정확성",
    "completeness": "완전성",
    "diversity": "다양성",
    "agreement": "작업자 간 일치도",
}


def pct(x: float) -> str:
    return f"{x * 100:g}%"


def category_definition(spec: ProjectSpec) -> str:
    """카테고리 정의서: each class with definition, examples and counter-examples."""
    ds = spec.dataset
    lines = [
        f"# 카테고리 정의서 — {ds.name_ko}",
        "",
        f"- 데이터셋: {ds.name_ko} ({ds.name_en}) v{ds.version}",
        f"- 라벨링 유형: {TASK_KO[spec.task.type]}",
        f"- 클래스 수: {len(spec.task.classes)}",
        "",
        "> 이 문서는 `datakit plan`이 datakit.yaml의 task.classes에서 생성합니다. "
        "내용을 바꾸려면 datakit.yaml을 고치고 `datakit plan`을 다시 실행하세요.",
        "",
    ]
    if not spec.task.classes:
        lines.append("이 과제(전사)는 클래스가 없습니다.")
        return "\n".join(lines) + "\n"
    per_class = spec.targets.per_class
    rows: list[list[object]] = []
    for i, c in enumerate(spec.task.classes, 1):
        rows.append(
            [
                i,
                c.name,
                c.en or "",
                c.definition,
                "<br>".join(c.examples),
                "<br>".join(c.counter_examples),
                f"{per_class[c.name]:,}" if c.name in per_class else "",
            ]
        )
    lines.append(md_table(["번호", "클래스", "영문명", "정의", "예시", "반례", "목표 수량"], rows))
    for attr in spec.task.attributes:
        lines += [
            "",
            f"## 속성: {attr.name}",
            "",
            attr.description or "",
            "",
            "값: " + ", ".join(attr.values) + (" (순서형)" if attr.ordinal else ""),
        ]
    return "\n".join(lines).rstrip() + "\n"


def _task_rules(spec: ProjectSpec) -> list[str]:
    t = spec.task.type
    lf = spec.task.label_field
    if t in ("text_classification", "image_classification"):
        many = spec.label_field.type == "classes"
        return [
            f"- 항목마다 `{lf}`에 클래스를 {'하나 이상' if many else '정확히 하나'} 선택합니다.",
            "- 두 클래스 사이에서 망설여지면 카테고리 정의서의 반례를 먼저 확인합니다.",
            "- 판단할 수 없는 항목은 건너뛰고(skip) 사유를 댓글로 남깁니다.",
        ]
    if t == "ner":
        return [
            f"- 개체의 시작과 끝을 정확히 드래그하여 `{lf}`에 구간(span)으로 표시합니다.",
            "- 조사(은/는/이/가/을/를 등)는 개체 구간에 포함하지 않습니다.",
            "- 겹치는 개체는 표시하지 않고, 더 긴 개체 하나만 표시합니다.",
        ]
    if t == "object_detection":
        return [
            f"- 객체마다 바운딩 박스 하나를 그려 `{lf}`에 클래스와 함께 표시합니다.",
            "- 박스는 객체의 보이는 부분에 빈틈없이 맞춥니다 (여백 최소화).",
            "- 가려진 부분이 절반 이상인 객체도 보이는 부분만 표시합니다.",
            f"- 두 작업자의 박스는 IoU {spec.annotation.iou_threshold:g} 이상일 때 "
            "같은 객체로 봅니다.",
        ]
    return [
        f"- 들리는 그대로 `{lf}`에 한글로 전사합니다 (철자 전사).",
        "- 알아들을 수 없는 구간은 `(())`로 표시합니다.",
        "- 숫자는 들리는 대로 한글로 적습니다 (예: 삼천 원).",
    ]


def annotation_guide(spec: ProjectSpec) -> str:
    """가공(라벨링) 가이드라인 skeleton: generated sections plus ones for the team to fill."""
    ds, an, q = spec.dataset, spec.annotation, spec.targets.quality
    todo = "_(작성 필요: 이 절은 팀이 채웁니다)_"
    lines = [
        f"# {ds.name_ko} 가공(라벨링) 가이드라인",
        "",
        f"버전 {ds.version} · 생성: `datakit plan` · 원본: datakit.yaml",
        "",
        "## 1. 개요",
        "",
        f"- 구축 목적: {ds.purpose or todo}",
        f"- 데이터 유형: {DATA_TYPE_KO[spec.data.type]}",
        f"- 라벨링 유형: {TASK_KO[spec.task.type]}",
        f"- 구축 목표 수량: {spec.targets.total:,}건"
        if spec.targets.total
        else "- 구축 목표 수량: 미정",
        "",
        "## 2. 작업 도구",
        "",
        "작업은 Label Studio에서 합니다. 작업 화면 설정은 `labeling/label_config.xml`이며 "
        "`datakit annotate push`가 프로젝트에 올립니다.",
        "",
        "## 3. 카테고리 정의",
        "",
        "클래스별 정의·예시·반례는 `카테고리_정의서.md`를 따릅니다.",
        "",
    ]
    if spec.task.classes:
        lines.append(
            md_table(["클래스", "정의"], [[c.name, c.definition] for c in spec.task.classes])
        )
        lines.append("")
    lines += ["## 4. 라벨링 규칙", "", *_task_rules(spec), "", todo, ""]
    lines += ["## 5. 라벨 데이터 구조 (필드 정의)", "", field_dictionary_table(spec), ""]
    lines += [
        "## 6. 교차검증",
        "",
        f"- 항목의 {pct(an.cross_check_share)}를 작업자 {an.annotators_per_item}명이 각각 "
        "독립적으로 라벨링합니다 (2인 이상 교차검증).",
        f"- 작업자 간 일치도 목표: {q.agreement:g}; 일치도가 {an.review_below:g} 미만이거나 "
        "동률인 항목은 검토(review)로 넘어갑니다.",
        "",
        "## 7. 비식별화",
        "",
        "- 탐지 대상: " + ", ".join(PII_KO[k] for k in spec.pii.detect),
        f"- 처리: {PII_ACTION_KO[spec.pii.action]}, 마스킹 문자 `{spec.pii.mask_char}`",
        "- 작업 중 마스킹되지 않은 개인정보를 발견하면 라벨링하지 말고 관리자에게 알립니다.",
        "",
        "## 8. 검수 기준",
        "",
        md_table(
            ["지표", "목표"],
            [
                [INDICATOR_KO[k], pct(getattr(q, k)) if k != "agreement" else f"{q.agreement:g}"]
                for k in INDICATOR_KO
            ],
        ),
        "",
        "## 9. 예외 처리와 자주 묻는 질문",
        "",
        todo,
        "",
    ]
    return "\n".join(lines)


def plan_summary_rows(spec: ProjectSpec) -> list[tuple[str, str]]:
    """(indicator, target) pairs for printing the plan."""
    q = spec.targets.quality
    return [
        (
            f"{INDICATOR_KO[k]} ({k})",
            f"{getattr(q, k):g}" if k == "agreement" else pct(getattr(q, k)),
        )
        for k in INDICATOR_KO
    ]
