"""Entities from the jieba/spaCy pipeline and the regex extractor reach Rasa's parse result."""

from __future__ import annotations

from typing import Any

import pytest

ETH_HASH = "0x" + "3f5e9a1c" * 8
TRON_HASH = "9b2c" * 16
ETH_ADDRESS = "0x" + "ab12" * 10
TRON_ADDRESS = "TN3W4H6rK5ZsQLxgP8U2yJfVb1cXeDqR7m"
BTC_ADDRESS = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"


def values(parsed: dict[str, Any], entity: str) -> list[str]:
    return [e["value"] for e in parsed["entities"] if e["entity"] == entity]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"这笔{ETH_HASH}怎么还没到", ETH_HASH),
        (f"txid:{TRON_HASH}一直pending", TRON_HASH),
        (ETH_HASH, ETH_HASH),
    ],
)
def test_transaction_hashes_are_found_inside_chinese_text(
    parse: Any, text: str, expected: str
) -> None:
    parsed = parse(text)
    assert values(parsed, "tx_hash") == [expected]
    assert values(parsed, "address") == []


@pytest.mark.parametrize("address", [ETH_ADDRESS, TRON_ADDRESS, BTC_ADDRESS])
def test_addresses_are_found_and_not_taken_for_hashes(parse: Any, address: str) -> None:
    parsed = parse(f"转到{address}的币没收到")
    assert values(parsed, "address") == [address]
    assert values(parsed, "tx_hash") == []


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("以太坊转账好慢", "ETH"),
        ("姨太卡住了", "ETH"),
        ("泰达币没到账", "USDT"),
        ("我的U呢", "USDT"),
        ("比特币提不出来", "BTC"),
        ("大饼转出去没到", "BTC"),
        ("波场怎么收", "TRX"),
        ("usdt到账了吗", "USDT"),
    ],
)
def test_currency_synonyms_are_normalised_to_codes(parse: Any, text: str, code: str) -> None:
    assert values(parse(text), "currency") == [code]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("TRC20的U没到", "TRC20"),
        ("走的ERC-20", "ERC20"),
        ("币安链转账", "BEP20"),
        ("波场链地址", "TRC20"),
    ],
)
def test_chains_are_normalised(parse: Any, text: str, code: str) -> None:
    assert values(parse(text), "chain") == [code]


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("我转了500U到币安还没到账", "500", ["USDT"]),
        ("0.5个ETH卡住了", "0.5", ["ETH"]),
        ("两千泰达币没收到", "2000", ["USDT"]),
        ("提了1000 USDT", "1000", ["USDT"]),
        ("转了两千还没到", "2000", []),
        ("转了五百块", "500", []),
        ("提了一百零五个TRX", "105", ["TRX"]),
        ("1.5w u 一直没到", "15000", ["USDT"]),
        ("转了300块的比特币", "300", ["BTC"]),
    ],
)
def test_amounts_are_parsed_with_their_currency(
    parse: Any, text: str, amount: str, currency: list[str]
) -> None:
    parsed = parse(text)
    assert values(parsed, "amount") == [amount]
    assert values(parsed, "currency") == currency


@pytest.mark.parametrize("text", ["等了三十分钟还没到", "输错了五次密码", "我的手机号13800138000"])
def test_counts_and_durations_are_not_amounts(parse: Any, text: str) -> None:
    assert values(parse(text), "amount") == []
