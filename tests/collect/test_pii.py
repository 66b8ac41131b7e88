from __future__ import annotations

import pytest

from datakit.collect.pii import find_pii, luhn_valid, mask
from datakit.spec.model import PiiPolicy


def kinds(text: str, which: tuple[str, ...] | None = None) -> list[tuple[str, str]]:
    ms = find_pii(text) if which is None else find_pii(text, which)
    return [(m.kind, text[m.start : m.end]) for m in ms]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("주민번호는 900101-1234568 입니다", [("rrn", "900101-1234568")]),  # check digit holds
        ("주민번호 0503154123456", [("rrn", "0503154123456")]),  # 2000s, no hyphen
        (
            "2021년 발급 951231-2000000",
            [("rrn", "951231-2000000")],
        ),  # check digit fails: still found
        ("외국인 900101-5123456", [("foreigner_rn", "900101-5123456")]),
        ("연락처 010-1234-5678", [("phone", "010-1234-5678")]),
        ("연락처 01012345678로", [("phone", "01012345678")]),
        ("사무실 02-345-6789", [("phone", "02-345-6789")]),
        ("지점 031) 123-4567", [("phone", "031) 123-4567")]),
        ("메일 hong.gildong+shop@example.co.kr 로", [("email", "hong.gildong+shop@example.co.kr")]),
        ("카드 4111-1111-1111-1111 결제", [("card", "4111-1111-1111-1111")]),
        ("카드 4111111111111111", [("card", "4111111111111111")]),
        ("신한은행 계좌 110-123-456789 로 입금", [("account", "110-123-456789")]),
        ("여권번호 M12345678", [("passport", "M12345678")]),
        ("여권 M123A4567 입니다", [("passport", "M123A4567")]),
    ],
)
def test_planted_pii_is_found(text: str, expected: list[tuple[str, str]]) -> None:
    assert kinds(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "주문번호 901301-1234567",  # month 13: not a date
        "주문번호 900230-1234567",  # 30 February
        "코드 900101-4234567",  # gender digit 4 means 2000s: 2090-01-01 is in the future
        "시리얼 123456-7890123",  # month 34
        "카드 4111-1111-1111-1112",  # fails Luhn
        "송장번호 1234-5678-9012-3456",  # fails Luhn
        "주문번호 110-123-456789",  # account shape without a banking word
        "가격 12,000원 수량 3개 2024-05-01",
        "전화 없음 1234",
        "test@localhost",  # no top-level domain
    ],
)
def test_look_alikes_are_not_found(text: str) -> None:
    assert kinds(text) == []


def test_confidence_uses_the_check_digit() -> None:
    (ok,) = find_pii("900101-1234568")
    (late,) = find_pii("951231-2000000")
    assert ok.confidence == "high"
    assert late.confidence == "medium"


def test_only_requested_kinds() -> None:
    text = "010-1234-5678 a@b.com 900101-1234568"
    assert [k for k, _ in kinds(text, ("email",))] == ["email"]
    assert [k for k, _ in kinds(text, ("phone", "rrn"))] == ["phone", "rrn"]
    with pytest.raises(ValueError, match="unknown"):
        find_pii(text, ("nope",))


def test_rrn_wins_over_account_and_phone_overlaps() -> None:
    text = "계좌 아니고 주민 900101-1234568"
    assert kinds(text) == [("rrn", "900101-1234568")]


def test_mask_keeps_length_and_separators() -> None:
    text = "연락처 010-1234-5678, 메일 ab@cd.kr"
    out = mask(text, find_pii(text), PiiPolicy())
    assert out == "연락처 ***-****-****, 메일 **@**.**"
    assert len(out) == len(text)


def test_mask_without_length() -> None:
    text = "주민 900101-1234568 끝"
    out = mask(text, find_pii(text), PiiPolicy(mask_char="#", keep_length=False))
    assert out == "주민 ###### 끝"


def test_luhn() -> None:
    assert luhn_valid("4111 1111 1111 1111")
    assert not luhn_valid("4111 1111 1111 1112")
