from decimal import Decimal

import pytest

from bot.nlu.amounts import format_amount, parse_chinese_number, split_amount


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("两千", 2000),
        ("一千二", 1200),
        ("三万五", 35000),
        ("一百零五", 105),
        ("十五", 15),
        ("二十", 20),
        ("五百", 500),
        ("一万", 10000),
        ("两亿", 200_000_000),
        ("零", 0),
    ],
)
def test_chinese_numerals_are_read_as_spoken(text: str, value: int) -> None:
    assert parse_chinese_number(text) == Decimal(value)


@pytest.mark.parametrize("text", ["一二", "千千万万x", "abc"])
def test_non_numbers_are_rejected(text: str) -> None:
    assert parse_chinese_number(text) is None


@pytest.mark.parametrize(
    ("token", "value", "rest"),
    [
        ("500U", "500", "U"),
        ("0.5", "0.5", ""),
        ("1.5w", "15000", ""),
        ("2k", "2000", ""),
        ("100usdt", "100", "usdt"),
        ("两千", "2000", ""),
    ],
)
def test_amount_tokens_split_into_number_and_unit(token: str, value: str, rest: str) -> None:
    parsed = split_amount(token)
    assert parsed is not None
    assert format_amount(parsed[0]) == value
    assert parsed[1] == rest
