"""The NLU normalisation: what it makes of real typing, and offsets that stay on the user's text."""

from __future__ import annotations

from typing import Any

import pytest

from bot.nlu.normalisation import normalise
from bot.secret_guard import find_secrets, redact

ETH_HASH = "0x" + "3f5e9a1c" * 8
TRON_ADDRESS = "TN3W4H6rK5ZsQLxgP8U2yJfVb1cXeDqR7m"
MNEMONIC = "abandon ability able about above absent absorb abstract absurd abuse access accident"


@pytest.mark.parametrize(
    ("typed", "normalised"),
    [
        ("转账５００ＵＳＤＴ", "转账500USDT"),
        ("登入帳戶", "登录帐户"),
        ("軟體 網路 很慢", "软件网络很慢"),
        ("我轉咗錢點解仲未到", "我转了钱为什么还没到"),
        ("冇收到，係咪出咗問題", "没有收到,是不是出了问题"),
        ("唔該", "谢谢"),
        ("冇錯，就係咁", "没错,就是这样"),
        ("沒關係", "没关系"),  # Mandarin 關係 is not the Cantonese 係
        ("转 账 没 到", "转账没到"),
        ("send 500 USDT to my wallet", "send 500 USDT to my wallet"),
        ("到账了吗？？？", "到账了吗?"),
        ("怎么还没到！！！", "怎么还没到!"),
        ("急死了。。。", "急死了。"),
        ("😭😭😭😭还没到", "😭还没到"),
        ("唔", "唔"),  # a Mandarin hum, not the Cantonese "not"
    ],
)
def test_typed_text_becomes_the_trained_form(typed: str, normalised: str) -> None:
    assert normalise(typed).text == normalised


@pytest.mark.parametrize(
    ("typed", "normalised_piece", "original_piece"),
    [
        ("我轉咗５００Ｕ點解仲未到", "500U", "５００Ｕ"),
        (f"我轉咗錢，哈希係 {ETH_HASH} 點算", ETH_HASH, ETH_HASH),
        (f"轉 去 {TRON_ADDRESS} 嘅錢冇到", TRON_ADDRESS, TRON_ADDRESS),
        ("部落格說轉帳要等", "转帐", "轉帳"),
    ],
)
def test_spans_of_the_normalised_text_point_into_the_original(
    typed: str, normalised_piece: str, original_piece: str
) -> None:
    result = normalise(typed)
    start = result.text.index(normalised_piece)
    begin, end = result.original_span(start, start + len(normalised_piece))
    assert typed[begin:end] == original_piece


@pytest.mark.parametrize("marker", ["[已隐藏的助记词]", "[已隐藏的私钥]", "[已隐藏的密码]"])
def test_secret_markers_are_kept_as_they_are(marker: str) -> None:
    result = normalise(f"我嘅錢包{marker}係咪冇咗？？")
    assert marker in result.text


def test_a_redacted_secret_stays_hidden_after_normalisation() -> None:
    typed = f"我嘅助記詞係 {MNEMONIC} 幫我睇下"
    redacted = redact(typed, find_secrets(typed))
    normalised = normalise(redacted).text
    assert "[已隐藏的助记词]" in normalised
    assert "abandon" not in normalised
    assert find_secrets(normalised) == []


def test_a_full_width_amount_gives_amount_and_currency_on_the_users_text(parse: Any) -> None:
    typed = "我轉咗５００Ｕ點解仲未到？？？"
    parsed = parse(typed)
    assert parsed["text"] == typed
    found = {e["entity"]: e for e in parsed["entities"]}
    assert found["amount"]["value"] == "500"
    assert found["currency"]["value"] == "USDT"
    assert typed[found["amount"]["start"] : found["amount"]["end"]].startswith("５００")
    assert parsed["intent"]["name"] == "transfer_pending"


def test_hash_and_address_offsets_are_on_the_users_text(parse: Any) -> None:
    typed = f"轉 帳 去 {TRON_ADDRESS}，交易哈希 {ETH_HASH}！！！ 冇到"
    parsed = parse(typed)
    assert parsed["text"] == typed
    spans = {e["entity"]: typed[e["start"] : e["end"]] for e in parsed["entities"]}
    assert spans["address"] == TRON_ADDRESS
    assert spans["tx_hash"] == ETH_HASH


def test_traditional_and_cantonese_reach_the_right_intent(parse: Any) -> None:
    assert parse("我轉帳咗成日都冇到帳")["intent"]["name"] == "transfer_pending"


def test_a_secret_marker_still_wins_after_normalisation(parse: Any) -> None:
    parsed = parse("我嘅助記詞係[已隐藏的助记词]，係咪安全？")
    assert parsed["intent"]["name"] == "share_secret"
    assert [e["value"] for e in parsed["entities"] if e["entity"] == "secret_kind"] == ["mnemonic"]


@pytest.mark.parametrize(
    "typed",
    [
        "😭😭😭",
        "🙏",
        ETH_HASH,
        TRON_ADDRESS,
        "zhuanzhang meidaozhang zenme ban",
        "你好" * 500,
        "我的USDT轉帳 pending 咗好耐，怎麼辦？？？ help!!! 🙏🙏",
        "！！！？？？",
        "ｈｅｌｌｏ　ｗｏｒｌｄ",
    ],
)
def test_bad_input_parses_without_an_exception(parse: Any, typed: str) -> None:
    parsed = parse(typed)
    assert parsed["text"] == typed
    assert parsed["intent"]["name"]
    for entity in parsed["entities"]:
        assert 0 <= entity["start"] <= entity["end"] <= len(typed)


@pytest.mark.parametrize("typed", [" ", "\n", "\u3000", " \t "])
def test_white_space_alone_goes_to_the_fallback(parse: Any, typed: str) -> None:
    """The channels refuse it, but ``/model/parse`` passes it on: no features, no intent."""
    assert parse(typed)["intent"]["name"] == "nlu_fallback"
