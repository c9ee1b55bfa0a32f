from bot.handoff.summary import build_summary


def user(text: str, intent: str, entities: list[dict[str, str]] | None = None) -> dict[str, object]:
    return {
        "event": "user",
        "text": text,
        "parse_data": {"intent": {"name": intent}, "entities": entities or []},
    }


def test_summary_has_intents_entities_masked_account_and_last_messages() -> None:
    events = [
        user("你好", "greet"),
        {"event": "bot", "text": "您好"},
        user(
            "0xabc 没到账",
            "transfer_pending",
            [{"entity": "tx_hash", "value": "0xabc"}, {"entity": "currency", "value": "USDT"}],
        ),
        user("怎么回事", "nlu_fallback"),
    ]
    summary = build_summary(events, "demo-alice")
    assert summary.intents == ["greet", "transfer_pending"]
    assert summary.entities == {"tx_hash": ["0xabc"], "currency": ["USDT"]}
    assert summary.account == "dem***"
    assert summary.last_messages == ["你好", "0xabc 没到账", "怎么回事"]


def test_anonymous_users_have_no_account() -> None:
    assert build_summary([], None).account == "-"
