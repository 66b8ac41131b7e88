"""Generate the raw data of the bundled example projects, deterministically.

    .venv/bin/python scripts/make_examples.py            # rewrite examples/*/data/raw/
    .venv/bin/python scripts/make_examples.py --check    # exit 1 if the committed files differ
    .venv/bin/python scripts/make_examples.py --out DIR  # write into DIR/<example>/data/raw/

The output is committed: the examples are what the demo and the end-to-end tests run,
so they must not change under anyone's feet. Same script + same Pillow → same bytes.

Planted problems (what the collect stage must find) are listed in PLANTS below and in
each example's README.md.

* review-sentiment/data/raw/reviews.csv — Korean product reviews
  (review_id,text,source,region,sentiment; sentiment is the ground truth)
* road-objects/data/raw/images/*.png + truth.json — road scenes with boxes
  (file name → {weather, objects: [{label, x, y, width, height} in % of the image]})
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
SEED = 20261129

# What each example has planted, by count (tests/test_examples.py checks the data).
PLANTS: dict[str, dict[str, int]] = {
    "review-sentiment": {
        "rows": 312,
        "unique_reviews": 300,
        "pii_rows": 6,
        "exact_duplicates": 4,
        "near_duplicates": 5,
        "too_short": 3,
    },
    "road-objects": {
        "images": 40,
        "scenes": 34,
        "exact_duplicates": 2,
        "near_duplicates": 2,
        "corrupt": 1,
        "too_small": 1,
    },
}

# ---------------------------------------------------------------------------------------
# review-sentiment
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Product:
    name: str
    pos: tuple[str, ...]
    neg: tuple[str, ...]
    neu: tuple[str, ...]


PRODUCTS: tuple[Product, ...] = (
    Product(
        "블루투스 이어폰",
        (
            "음질이 생각보다 훨씬 깨끗해요",
            "노이즈 캔슬링이 지하철에서도 잘 돼요",
            "귀에 딱 맞아서 오래 껴도 안 아파요",
            "배터리가 하루 종일 가요",
            "연결이 끊기는 일이 한 번도 없었어요",
        ),
        (
            "한쪽 이어폰만 자꾸 연결이 끊겨요",
            "통화할 때 상대방이 제 목소리를 잘 못 들어요",
            "충전 케이스 뚜껑이 헐거워서 계속 열려요",
            "배터리가 두 시간도 안 가요",
            "왼쪽에서 지직거리는 잡음이 나요",
        ),
        (
            "케이스 크기는 손바닥 절반 정도예요",
            "충전 단자는 C타입입니다",
            "색상은 화이트와 블랙 두 가지가 있어요",
            "이어팁은 대·중·소 세 가지가 들어 있어요",
        ),
    ),
    Product(
        "운동화",
        (
            "쿠션이 좋아서 오래 걸어도 발이 편해요",
            "평소 신는 사이즈로 샀는데 딱 맞아요",
            "가벼워서 러닝할 때 부담이 없어요",
            "디자인이 깔끔해서 어디에나 잘 어울려요",
        ),
        (
            "한 번 신었는데 밑창이 벌써 떨어지려고 해요",
            "사이즈가 표기보다 한 치수 작게 나왔어요",
            "뒤꿈치가 까져서 도저히 못 신겠어요",
            "본드 자국이 여기저기 묻어 있어요",
        ),
        (
            "평소 250 신는데 250으로 주문했어요",
            "발볼은 보통 정도입니다",
            "끈은 흰색과 검은색이 같이 와요",
            "무게는 한 짝에 300그램 정도예요",
        ),
    ),
    Product(
        "텀블러",
        (
            "얼음이 저녁까지 안 녹아요",
            "뚜껑이 꽉 닫혀서 가방에 넣어도 안 새요",
            "손잡이가 있어서 들고 다니기 편해요",
            "세척이 쉬워서 매일 쓰고 있어요",
        ),
        (
            "뚜껑 사이로 커피가 줄줄 새요",
            "보온이 두 시간도 안 돼요",
            "안쪽에 녹 같은 얼룩이 있어요",
            "도장이 벌써 벗겨지기 시작했어요",
        ),
        (
            "용량은 500밀리리터 정도예요",
            "빨대는 따로 구매해야 해요",
            "높이가 차량 컵홀더에 겨우 들어가요",
            "식기세척기 사용은 안 된다고 적혀 있어요",
        ),
    ),
    Product(
        "전기포트",
        (
            "물이 금방 끓어서 아침에 시간이 절약돼요",
            "소음이 거의 없어서 밤에 써도 괜찮아요",
            "입구가 넓어서 안쪽까지 닦기 편해요",
            "온도 조절이 돼서 차 우릴 때 좋아요",
        ),
        (
            "물에서 플라스틱 냄새가 계속 나요",
            "일주일 만에 전원이 안 들어와요",
            "뚜껑 버튼이 부러져서 안 열려요",
            "끓을 때 소리가 너무 커요",
        ),
        (
            "용량은 1.7리터입니다",
            "전원선 길이는 1미터 남짓해요",
            "물 끓는 데 4분 정도 걸려요",
            "바닥 받침은 360도 회전돼요",
        ),
    ),
    Product(
        "니트 가디건",
        (
            "촉감이 부드럽고 따끔거리지 않아요",
            "색감이 사진보다 더 예뻐요",
            "핏이 여유 있어서 편하게 입기 좋아요",
            "보풀이 거의 안 생겨요",
        ),
        (
            "한 번 빨았는데 줄어서 못 입게 됐어요",
            "보풀이 하루 만에 잔뜩 생겼어요",
            "실밥이 여기저기 풀려 있어요",
            "사진과 색이 완전히 달라요",
        ),
        (
            "소재는 아크릴과 울 혼방이에요",
            "길이는 엉덩이를 살짝 덮는 정도예요",
            "단추는 다섯 개입니다",
            "키 163에 M 사이즈 입었어요",
        ),
    ),
    Product(
        "무선청소기",
        (
            "흡입력이 좋아서 반려견 털도 한 번에 빨아들여요",
            "가벼워서 한 손으로도 쉽게 돌려요",
            "거치대가 있어서 보관이 편해요",
            "먼지통 비우기가 간단해요",
        ),
        (
            "흡입력이 약해서 과자 부스러기도 못 빨아들여요",
            "배터리가 10분도 안 가요",
            "소음이 심해서 아랫집에 미안할 정도예요",
            "헤드 브러시가 자꾸 빠져요",
        ),
        (
            "완충까지 3시간 정도 걸려요",
            "헤드는 총 세 종류가 들어 있어요",
            "먼지통 용량은 작은 편이에요",
            "무게는 1.5킬로그램이라고 나와 있어요",
        ),
    ),
    Product(
        "햅쌀 10kg",
        (
            "밥맛이 쫀득하고 윤기가 좋아요",
            "도정일이 최근이라 냄새가 하나도 없어요",
            "포대가 튼튼해서 터진 데 없이 왔어요",
        ),
        (
            "쌀에서 묵은내가 나요",
            "포대 한쪽이 터져서 쌀이 쏟아져 왔어요",
            "싸라기가 너무 많이 섞여 있어요",
        ),
        (
            "도정일은 주문 사흘 전이었어요",
            "10킬로그램 한 포대로 왔어요",
            "원산지는 국내산으로 표기돼 있어요",
        ),
    ),
    Product(
        "샴푸",
        (
            "향이 은은해서 하루 종일 기분이 좋아요",
            "머리가 덜 빠지는 느낌이에요",
            "거품이 잘 나서 조금만 써도 돼요",
        ),
        (
            "쓰고 나서 두피가 가렵고 따가워요",
            "향이 너무 독해서 머리가 아파요",
            "펌프가 고장 나서 내용물이 안 나와요",
        ),
        (
            "용량은 1리터 대용량이에요",
            "향은 허브 계열이에요",
            "지성 두피용이라고 적혀 있어요",
        ),
    ),
    Product(
        "백팩",
        (
            "수납공간이 많아서 노트북이랑 책이 다 들어가요",
            "어깨끈이 두꺼워서 무겁게 메도 편해요",
            "방수가 돼서 비 오는 날에도 안심이에요",
        ),
        (
            "지퍼가 한 달 만에 고장 났어요",
            "어깨끈 박음질이 뜯어졌어요",
            "노트북 칸이 좁아서 15인치가 안 들어가요",
        ),
        (
            "15인치 노트북 칸이 따로 있어요",
            "색상은 네이비로 골랐어요",
            "무게는 800그램 정도예요",
        ),
    ),
    Product(
        "에어프라이어",
        (
            "기름 없이도 튀김이 바삭하게 돼요",
            "바스켓 세척이 쉬워요",
            "타이머 조작이 직관적이에요",
        ),
        (
            "코팅이 벗겨져서 음식에 묻어나요",
            "처음 돌릴 때 탄 냄새가 심하게 났어요",
            "온도가 제멋대로라 음식이 자꾸 타요",
        ),
        (
            "용량은 5.5리터예요",
            "최고 온도는 200도까지 돼요",
            "바스켓은 분리형이에요",
        ),
    ),
    Product(
        "노트북 거치대",
        (
            "각도 조절이 돼서 목이 훨씬 편해졌어요",
            "알루미늄이라 튼튼하고 흔들림이 없어요",
            "접으면 얇아서 들고 다니기 좋아요",
        ),
        (
            "타자 칠 때마다 흔들려서 못 쓰겠어요",
            "나사가 헐거워서 자꾸 내려앉아요",
            "모서리가 날카로워서 손을 베였어요",
        ),
        (
            "높이는 여섯 단계로 조절돼요",
            "17인치 노트북까지 올릴 수 있대요",
            "접으면 A4 용지 크기 정도예요",
        ),
    ),
    Product(
        "캠핑의자",
        (
            "등받이가 높아서 오래 앉아 있어도 편해요",
            "접고 펴기가 정말 간단해요",
            "생각보다 튼튼해서 덩치 큰 남편도 잘 앉아요",
        ),
        (
            "앉자마자 다리 연결부가 휘었어요",
            "원단에서 화학약품 냄새가 심하게 나요",
            "수납 가방 지퍼가 안 잠겨요",
        ),
        (
            "접었을 때 길이는 40센티미터 정도예요",
            "최대 하중은 120킬로그램이래요",
            "컵홀더가 오른쪽에 하나 있어요",
        ),
    ),
)

# Sentences not tied to a product. {n}: days, {w}: weeks, {price}: a price, {p}: product.
OPENERS = {
    "긍정": (
        "고민하다 샀는데 대만족입니다",
        "{w}주째 쓰고 있는데 아주 좋아요",
        "선물용으로 샀는데 반응이 좋았어요",
        "두 번째 구매예요",
        "{p} 찾다가 후기 보고 샀는데 잘 산 것 같아요",
        "오래 쓰던 {p} 바꾸려고 샀어요",
    ),
    "부정": (
        "기대하고 샀는데 실망이에요",
        "후기 보고 샀는데 속은 느낌이네요",
        "{price}원 주고 산 게 후회돼요",
        "{p} 처음 사 보는데 첫인상부터 별로예요",
        "받자마자 반품하고 싶어졌어요",
    ),
    "중립": (
        "{w}주 정도 써 본 후기입니다",
        "{p} 정보 공유합니다",
        "구매 전에 궁금했던 부분 적어 볼게요",
        "선물로 받은 건데 간단히 남겨요",
        "{p} 비교하다가 이걸로 골랐어요",
    ),
}
GENERIC = {
    "긍정": (
        "배송이 {n}일 만에 와서 놀랐어요",
        "주문 다음 날 바로 받았어요",
        "기사님이 문 앞에 조심히 두고 가셨어요",
        "새벽배송으로 아침에 바로 받았어요",
        "포장이 꼼꼼해서 흠집 하나 없었어요",
        "뽁뽁이로 두 번 감싸져 왔어요",
        "{price}원에 이 정도면 충분히 만족해요",
        "할인할 때 사서 더 만족스러워요",
        "가성비로는 이만한 게 없어요",
        "판매자분이 문의에 친절하게 답해 주셨어요",
    ),
    "부정": (
        "배송이 {n}일이나 걸렸어요",
        "주문하고 일주일 넘게 아무 연락이 없었어요",
        "다른 집으로 배송돼서 한참 찾았어요",
        "고객센터는 전화를 아예 안 받아요",
        "문의 글을 남겼는데 사흘째 답이 없어요",
        "교환 요청했더니 단순 변심이라며 배송비를 내라네요",
        "판매자 답변이 복사 붙여넣기 같아요",
        "상자가 찌그러진 채로 왔어요",
        "포장이 허술해서 본체에 흠집이 있었어요",
        "{price}원이면 다른 데서 더 좋은 걸 사겠어요",
    ),
    "중립": (
        "배송은 {n}일 걸렸어요",
        "택배는 평일 오후에 도착했어요",
        "배송은 빨랐는데 포장은 좀 허술했어요",
        "가격은 적당한데 디자인은 평범해요",
        "기능은 괜찮지만 마감은 아쉬워요",
        "장점과 단점이 딱 반반이에요",
        "{price}원 주고 샀어요",
        "상세페이지 설명과 실물은 거의 같아요",
    ),
}
CLOSINGS = {
    "긍정": (
        "재구매 의사 있어요",
        "주변에도 벌써 추천했어요",
        "부모님 것도 하나 더 주문했어요",
        "다음에도 여기서 살게요",
        "고민하시는 분들께 강력 추천합니다",
        "별 다섯 개 드려요",
        "정말 만족합니다",
    ),
    "부정": (
        "환불 요청했습니다",
        "다시는 안 살 거예요",
        "돈이 아까워요",
        "비추천합니다",
        "반품 접수했어요",
        "사진만 보고 사지 마세요",
        "별 하나도 아까워요",
    ),
    "중립": (
        "조금 더 써 보고 다시 남길게요",
        "가격 생각하면 무난한 정도예요",
        "딱 가격만큼 하는 제품이에요",
        "특별히 좋지도 나쁘지도 않아요",
        "구매하실 분들 참고하세요",
        "기대만큼은 아니지만 쓸 만은 해요",
    ),
}
TAILS = {"긍정": ("ㅎㅎ", "^^", "!", "!!"), "부정": ("ㅠㅠ", "...", "!", ""), "중립": ("", "~", "")}
PRICES = ("12,900", "19,800", "24,500", "31,000", "39,900", "45,000", "58,000", "89,000")

SOURCES = {"쇼핑몰A": 0.5, "쇼핑몰B": 0.5}
REGIONS = {"서울": 0.3, "경기": 0.25, "부산": 0.15, "대구": 0.1, "광주": 0.1, "대전": 0.1}
CLASS_COUNTS = {"긍정": 98, "부정": 97, "중립": 99}  # plus the 6 PII reviews below = 300

# Six reviews carrying personal information (비식별화 must mask it). {rrn} and {card}
# are filled in with a valid-looking 주민등록번호 and a Luhn-valid card number.
PII_REVIEWS: tuple[tuple[str, str], ...] = (
    (
        "부정",
        "배송이 안 와서 문의 남깁니다. 기사님 연락처 010-3847-2951 로 몇 번을 전화해도 "
        "안 받으세요. 환불 요청했습니다.",
    ),
    (
        "부정",
        "교환 요청 메일을 minji.kim82@example.com 으로 보냈는데 닷새째 답장이 없어요. "
        "운동화 사이즈가 한 치수 작게 나왔어요.",
    ),
    (
        "중립",
        "주문할 때 실수로 배송 메모에 주민번호 {rrn} 를 적었어요. 판매자님 확인하시면 "
        "지워 주세요. 제품은 아직 안 뜯어 봤어요.",
    ),
    (
        "긍정",
        "카드 {card} 로 무이자 할부 결제했는데 적립까지 잘 됐어요. 에어프라이어 튀김이 "
        "바삭하게 잘 돼요!",
    ),
    (
        "긍정",
        "선물로 보냈는데 받는 분이 너무 좋아하셨어요. 후기 사진 필요하시면 010-5512-7730 "
        "이나 sunny.day@example.org 로 연락 주세요.",
    ),
    (
        "중립",
        "사장님 번호 010-9183-4402 로 재입고 문의드렸어요. 색상은 사진과 같고 두께는 보통이에요.",
    ),
)
TOO_SHORT: tuple[tuple[str, str], ...] = (("굿", "긍정"), ("별로예요", "부정"), ("쏘쏘", "중립"))


def rrn_check_digit(first12: str) -> int:
    """주민등록번호 check digit (numbers issued before October 2020)."""
    weights = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
    total = sum(int(d) * w for d, w in zip(first12, weights, strict=True))
    return (11 - total % 11) % 10


def luhn_check_digit(body: str) -> int:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:  # every second digit from the right, the check digit not yet there
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def make_rrn() -> str:
    first12 = "900215" + "123456"  # born 1990-02-15, gender digit 1 (male, 1900s)
    return f"{first12[:6]}-{first12[6:]}{rrn_check_digit(first12)}"


def make_card() -> str:
    body = "453201511283036"
    digits = body + str(luhn_check_digit(body))
    return "-".join(digits[i : i + 4] for i in range(0, 16, 4))


def shingles(text: str, k: int = 3) -> set[str]:
    s = "".join(text.split())
    return {s[i : i + k] for i in range(max(1, len(s) - k + 1))}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _fill(rng: random.Random, sentence: str, product: str) -> str:
    return sentence.format(
        n=rng.randint(2, 6), w=rng.randint(2, 8), price=rng.choice(PRICES), p=product
    )


def _compose(rng: random.Random, label: str) -> str:
    """One review of class ``label``: 2–4 sentences from the banks, in a natural order."""
    product = rng.choice(PRODUCTS)
    parts: list[str] = []
    if rng.random() < 0.45:
        parts.append(_fill(rng, rng.choice(OPENERS[label]), product.name))
    if label == "중립":
        if rng.random() < 0.5:
            parts.append("좋은 점: " + rng.choice(product.pos))
            parts.append("아쉬운 점: " + rng.choice(product.neg))
        else:
            parts.extend(rng.sample(product.neu, 2))
    else:
        bank = product.pos if label == "긍정" else product.neg
        parts.extend(rng.sample(bank, rng.choice((1, 2))))
    parts.append(_fill(rng, rng.choice(GENERIC[label]), product.name))
    if label == "중립" and rng.random() < 0.4:
        parts.append(rng.choice(product.neu))
    parts.append(rng.choice(CLOSINGS[label]))
    # dedupe sentences while keeping order (a product fact may repeat)
    seen: list[str] = []
    for part in parts:
        if part not in seen:
            seen.append(part)
    text = ". ".join(seen)
    tail = rng.choice(TAILS[label])
    return text + (tail if tail else ".")


def _quota(rng: random.Random, shares: dict[str, float], n: int) -> list[str]:
    """Exactly n values in the planned shares (largest remainder), shuffled."""
    raw = {k: v * n for k, v in shares.items()}
    counts = {k: int(v) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: raw[k] - counts[k], reverse=True)[
        : n - sum(counts.values())
    ]:
        counts[k] += 1
    values = [k for k, c in counts.items() for _ in range(c)]
    rng.shuffle(values)
    return values


def _near_duplicate(text: str, which: int) -> str:
    """A small edit of a review: what a user posting the same review twice produces."""
    edits: list[Callable[[str], str]] = [
        lambda t: t.rstrip(".!~^ㅎㅠ") + "!!",
        lambda t: t.replace("요. ", "요 ", 1),
        lambda t: "진짜 " + t,
        lambda t: t.rstrip(".!~^ㅎㅠ") + " ㅎㅎ",
        lambda t: t.replace(". ", ". 그리고 ", 1),
    ]
    edited = edits[which % len(edits)](text)
    return edited if edited != text else text + " (수정)"


def review_rows() -> list[dict[str, str]]:
    rng = random.Random(SEED)
    reviews: list[tuple[str, str]] = []  # (text, label)
    sets: list[set[str]] = []
    for label, count in CLASS_COUNTS.items():
        made = attempts = 0
        while made < count:
            attempts += 1
            if attempts > 100 * count:
                raise RuntimeError(f"phrase banks too small for {count} distinct {label} reviews")
            text = _compose(rng, label)
            sh = shingles(text)
            # keep reviews clearly distinct so that only the planted ones are near-duplicates
            if len(text) < 25 or any(jaccard(sh, other) > 0.4 for other in sets):
                continue
            reviews.append((text, label))
            sets.append(sh)
            made += 1
    for label, text in PII_REVIEWS:
        reviews.append((text.format(rrn=make_rrn(), card=make_card()), label))
    rng.shuffle(reviews)

    n = len(reviews)
    sources = _quota(rng, SOURCES, n)
    regions = _quota(rng, REGIONS, n)
    base = [
        {"text": t, "source": s, "region": r, "sentiment": lab}
        for (t, lab), s, r in zip(reviews, sources, regions, strict=True)
    ]
    pii_texts = {r["text"] for r in base if "010-" in r["text"] or "@" in r["text"]}
    pii_texts |= {r["text"] for r in base if "주민번호" in r["text"] or "카드 " in r["text"]}
    plain = [r for r in base if r["text"] not in pii_texts]
    long_ones = sorted((r for r in plain if len(r["text"]) >= 70), key=lambda r: r["text"])

    extra: list[dict[str, str]] = []
    twice = rng.sample(plain, 4)
    for r in twice:  # exact duplicates: the same review posted twice
        extra.append(dict(r))
    long_ones = [r for r in long_ones if r not in twice]
    for i, r in enumerate(rng.sample(long_ones, 5)):  # near duplicates: small edits
        extra.append({**r, "text": _near_duplicate(r["text"], i)})
    for text, label in TOO_SHORT:  # fail data.requirements.text.min_length (5)
        extra.append(
            {
                "text": text,
                "source": rng.choice(list(SOURCES)),
                "region": rng.choice(list(REGIONS)),
                "sentiment": label,
            }
        )
    rows = list(base)
    for r in extra:  # spread the planted rows through the file
        rows.insert(rng.randrange(len(rows) // 4, len(rows) + 1), r)
    return [{"review_id": f"RV-{i:05d}", **r} for i, r in enumerate(rows, start=10001)]


def reviews_csv() -> bytes:
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(
        buf, fieldnames=["review_id", "text", "source", "region", "sentiment"], lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows(review_rows())
    return buf.getvalue().encode("utf-8")


# ---------------------------------------------------------------------------------------
# road-objects
# ---------------------------------------------------------------------------------------

W, H = 160, 120
WEATHER = {"맑음": 0.5, "흐림": 0.25, "비": 0.25}
SKY = {"맑음": (135, 196, 235), "흐림": (168, 172, 178), "비": (112, 118, 128)}
CAR_COLORS = ((200, 40, 40), (40, 80, 190), (235, 235, 235), (30, 30, 30), (230, 190, 40),
              (90, 150, 90), (150, 150, 160))  # fmt: skip
LIGHTS = ((230, 40, 40), (240, 200, 40), (40, 200, 90))


def _pct(v: float, total: int) -> float:
    return round(100.0 * v / total, 2)


def _box(label: str, x0: float, y0: float, x1: float, y1: float, w: int, h: int) -> dict[str, Any]:
    return {
        "label": label,
        "x": _pct(x0, w),
        "y": _pct(y0, h),
        "width": _pct(x1 - x0, w),
        "height": _pct(y1 - y0, h),
    }


def draw_scene(rng: random.Random, weather: str, *, cars: int, people: int, lights: int,
               size: tuple[int, int] = (W, H)) -> tuple[Any, list[dict[str, Any]]]:  # fmt: skip
    """Draw one road scene; return the image and its ground-truth boxes."""
    from PIL import Image, ImageDraw

    w, h = size
    sx, sy = w / W, h / H
    img = Image.new("RGB", (w, h), SKY[weather])
    d = ImageDraw.Draw(img)
    horizon = int(h * 0.42)
    # buildings on the horizon, sidewalk, road, lane marks
    x = 0
    while x < w:
        bw = rng.randint(int(14 * sx), int(30 * sx))
        bh = rng.randint(int(10 * sy), int(34 * sy))
        shade = rng.randint(120, 190) - (30 if weather != "맑음" else 0)
        d.rectangle((x, horizon - bh, x + bw, horizon), fill=(shade, shade - 8, shade - 16))
        x += bw + rng.randint(0, int(4 * sx))
    d.rectangle((0, horizon, w, horizon + int(14 * sy)), fill=(186, 180, 168))  # sidewalk
    d.rectangle((0, horizon + int(14 * sy), w, h), fill=(78, 80, 84))  # road
    lane_y = horizon + int(44 * sy)
    for lx in range(rng.randint(0, 10), w, int(24 * sx)):
        d.rectangle((lx, lane_y, lx + int(12 * sx), lane_y + max(1, int(2 * sy))),
                    fill=(240, 240, 240))  # fmt: skip
    if weather == "흐림":
        for _ in range(3):
            cx, cy = rng.randint(0, w), rng.randint(2, max(3, horizon - 20))
            d.ellipse((cx - 22 * sx, cy - 6 * sy, cx + 22 * sx, cy + 6 * sy), fill=(190, 192, 196))
    boxes: list[dict[str, Any]] = []
    # traffic lights: pole on the sidewalk, housing above it (the box is the housing, 등화부)
    taken: list[tuple[float, float]] = []
    for _ in range(lights):
        px = rng.randint(int(8 * sx), w - int(14 * sx))
        hw, hh = 7 * sx, 19 * sy
        top = rng.randint(int(6 * sy), int(14 * sy))
        d.rectangle(
            (px + hw / 2 - 1, top + hh, px + hw / 2 + 1, horizon + 10 * sy), fill=(60, 60, 60)
        )
        d.rectangle((px, top, px + hw, top + hh), fill=(20, 20, 20))
        lit = rng.randrange(3)
        for k in range(3):
            cy = top + (3.5 + 6 * k) * sy
            color = LIGHTS[k] if k == lit else (55, 55, 55)
            d.ellipse((px + 1.2 * sx, cy - 2.2 * sy, px + hw - 1.2 * sx, cy + 2.2 * sy), fill=color)
        boxes.append(_box("신호등", px, top, px + hw, top + hh, w, h))
        taken.append((px, px + hw))
    # pedestrians on the sidewalk: head + body + legs, thin and tall
    for _ in range(people):
        px = rng.randint(int(4 * sx), w - int(10 * sx))
        ph = rng.randint(int(20 * sy), int(27 * sy))
        pw = max(4, int(ph * 0.3))
        foot = horizon + rng.randint(int(8 * sy), int(13 * sy))
        top = foot - ph
        coat = rng.choice(
            ((200, 60, 60), (60, 60, 160), (40, 40, 40), (220, 150, 50), (80, 140, 80))
        )
        head = pw * 0.8
        d.ellipse(
            (px + (pw - head) / 2, top, px + (pw + head) / 2, top + head), fill=(236, 200, 170)
        )
        d.rectangle((px, top + head, px + pw, top + ph * 0.65), fill=coat)
        d.rectangle((px + 0.5, top + ph * 0.65, px + pw / 2 - 0.5, foot), fill=(40, 40, 60))
        d.rectangle((px + pw / 2 + 0.5, top + ph * 0.65, px + pw - 0.5, foot), fill=(40, 40, 60))
        boxes.append(_box("보행자", px, top, px + pw, foot, w, h))
    # cars on the road, left to right without overlapping
    slots = sorted(rng.sample(range(3), cars))
    for slot in slots:
        cw = rng.randint(int(30 * sx), int(40 * sx))
        ch = rng.randint(int(14 * sy), int(19 * sy))
        cx = int(slot * w / 3) + rng.randint(0, max(0, int(w / 3) - cw - 2))
        bottom = rng.randint(horizon + int(26 * sy), h - int(6 * sy))
        top = bottom - ch
        body = rng.choice(CAR_COLORS)
        d.rectangle((cx + cw * 0.2, top, cx + cw * 0.8, top + ch * 0.45), fill=body)  # cabin
        d.rectangle(
            (cx + cw * 0.27, top + 2 * sy, cx + cw * 0.73, top + ch * 0.4), fill=(170, 210, 230)
        )
        d.rectangle((cx, top + ch * 0.4, cx + cw, bottom - ch * 0.15), fill=body)
        wr = ch * 0.2
        for wx in (cx + cw * 0.22, cx + cw * 0.78):
            d.ellipse((wx - wr, bottom - 2 * wr, wx + wr, bottom), fill=(15, 15, 15))
        boxes.append(_box("차량", cx, top, cx + cw, bottom, w, h))
    if weather == "비":
        for _ in range(70):
            rx, ry = rng.randint(-10, w), rng.randint(0, h)
            d.line((rx, ry, rx + 3 * sx, ry + 7 * sy), fill=(200, 205, 215), width=1)
    return img, boxes


def _png(img: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def road_files() -> tuple[dict[str, bytes], dict[str, Any]]:
    """{file name: PNG bytes} and the truth mapping."""
    from PIL import Image, ImageEnhance

    rng = random.Random(SEED + 1)
    n = PLANTS["road-objects"]["scenes"]
    weathers = _quota(rng, WEATHER, n)
    scenes: list[tuple[bytes, dict[str, Any], Any, list[dict[str, Any]]]] = []
    for i, weather in enumerate(weathers):
        cars = 1 + i % 3
        people = 0 if i % 4 == 3 else 1 + (i % 5 == 0)
        lights = 0 if i % 3 == 2 else 1
        img, boxes = draw_scene(rng, weather, cars=cars, people=people, lights=lights)
        scenes.append((_png(img), {"weather": weather, "objects": boxes}, img, boxes))

    planted: list[tuple[bytes, dict[str, Any]]] = []
    for k in (4, 17):  # exact duplicates: the same file delivered twice
        planted.append((scenes[k][0], scenes[k][1]))
    # near duplicate 1: the same scene shifted 2 px right (camera nudged)
    img, boxes = scenes[8][2], scenes[8][3]
    shifted = Image.new("RGB", (W, H), img.getpixel((0, 0)))
    shifted.paste(img.crop((0, 0, W - 2, H)), (2, 0))
    moved = [{**b, "x": round(b["x"] + _pct(2, W), 2)} for b in boxes]
    planted.append((_png(shifted), {"weather": scenes[8][1]["weather"], "objects": moved}))
    # near duplicate 2: the same scene slightly brightened (exposure changed)
    bright = ImageEnhance.Brightness(scenes[23][2]).enhance(1.12)
    planted.append((_png(bright), dict(scenes[23][1])))
    # corrupt: a real PNG cut off half-way (truncated transfer)
    cut = _png(draw_scene(rng, "맑음", cars=2, people=1, lights=1)[0])
    planted.append((cut[: len(cut) // 2], {"weather": "맑음", "objects": []}))
    # too small: 48x36 is below data.requirements.image.min_width/min_height (64)
    tiny, tiny_boxes = draw_scene(rng, "흐림", cars=1, people=1, lights=0, size=(48, 36))
    planted.append((_png(tiny), {"weather": "흐림", "objects": tiny_boxes}))

    items = [(s[0], s[1]) for s in scenes]
    for data, truth in planted:  # spread the planted files among the scenes
        items.insert(rng.randrange(5, len(items) + 1), (data, truth))
    files: dict[str, bytes] = {}
    truths: dict[str, Any] = {}
    for i, (data, truth) in enumerate(items, start=1):
        name = f"road_{i:04d}.png"
        files[name] = data
        truths[name] = truth
    return files, truths


# ---------------------------------------------------------------------------------------
# sidecars: provenance (source, licence, consent, date) that `datakit collect` reads
# ---------------------------------------------------------------------------------------

REVIEWS_SIDECAR = """\
# 원시데이터 메타데이터 — `datakit collect data/raw/reviews.csv` reads this sidecar.
# Flags on the command line (--source, --license, --consent, --date, --text-column, …)
# override what is written here.
license: CC-BY-4.0            # 리뷰 2차 이용 허락 (쇼핑몰 이용약관, 예시)
consent: "yes"                # 작성자 개인정보·게시물 이용 동의
collection_date: "2026-10-31"
mapping:
  id: review_id               # → manifest id (stable across reruns)
  text: text                  # the review body (PII masked on intake)
  source: source              # per-row source: 쇼핑몰A / 쇼핑몰B
  label: sentiment            # → manifest intake_label (the ground truth)
  attributes: [region]        # → manifest attributes {"region": …}
"""


def images_sidecar(truths: dict[str, Any]) -> str:
    lines = [
        "# 원시데이터 메타데이터 — `datakit collect data/raw/images` reads this sidecar.",
        "# files: per-image metadata; `attributes` (촬영 날씨) go into the manifest's attributes.",
        "source: 도로촬영팀",
        "license: CC-BY-4.0",
        "consent: not_required          # generated scenes: no real people or plates",
        'collection_date: "2026-10-15"',
        "files:",
    ]
    lines += [
        f"  {name}: {{attributes: {{weather: {t['weather']}}}}}"
        for name, t in sorted(truths.items())
    ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------


def render(out: Path) -> dict[Path, bytes]:
    """Every generated file under ``out`` and its bytes."""
    result: dict[Path, bytes] = {out / "review-sentiment/data/raw/reviews.csv": reviews_csv()}
    files, truths = road_files()
    raw = out / "road-objects/data/raw"
    for name, data in files.items():
        result[raw / "images" / name] = data
    truth_text = json.dumps(truths, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    result[raw / "truth.json"] = truth_text.encode("utf-8")
    result[raw / "images" / "_meta.yaml"] = images_sidecar(truths).encode("utf-8")
    result[out / "review-sentiment/data/raw/reviews.csv.meta.yaml"] = REVIEWS_SIDECAR.encode(
        "utf-8"
    )
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--out", type=Path, default=EXAMPLES, help="root to write into (default: examples/)"
    )
    ap.add_argument(
        "--check", action="store_true", help="compare with the files on disk; write nothing"
    )
    args = ap.parse_args(argv)
    rendered = render(args.out)
    if args.check:
        differ = [p for p, data in rendered.items() if not p.is_file() or p.read_bytes() != data]
        for p in differ:
            print(f"differs: {p}", file=sys.stderr)
        if differ:
            print("run `python scripts/make_examples.py` to regenerate", file=sys.stderr)
        return 1 if differ else 0
    for path, data in rendered.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_bytes() != data:
            path.write_bytes(data)
    print(f"wrote {len(rendered)} files under {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
