"""A traditional-script user's evidence card: its words converted, its values untouched."""

from __future__ import annotations

from bot.dialogue.script import Script, convert_response

CARD = {
    "title": "转账凭证",
    "copy_label": "复制凭证",
    "copied_label": "已复制",
    "fields": [
        {"label": "交易哈希", "value": "ab12"},
        {"label": "收款地址", "value": "TExchange凭证"},
    ],
    "explorer_link": "https://tronscan.org/#/transaction/ab12",
}


def test_the_cards_words_follow_the_users_script_and_its_values_do_not() -> None:
    message = {"text": "转账凭证", "custom": {"evidence_card": CARD}}
    card = convert_response(message, Script.TRADITIONAL_TW)["custom"]["evidence_card"]
    assert (card["title"], card["copy_label"], card["copied_label"]) == (
        "轉賬憑證",
        "複製憑證",
        "已複製",
    )
    assert [row["label"] for row in card["fields"]] == ["交易雜湊", "收款地址"]
    assert card["fields"][1]["value"] == "TExchange凭证"
    assert card["explorer_link"] == CARD["explorer_link"]


def test_a_simplified_card_is_left_as_it_is() -> None:
    message = {"text": "转账凭证", "custom": {"evidence_card": CARD}}
    assert convert_response(message, Script.SIMPLIFIED) is message
