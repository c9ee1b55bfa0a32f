from bot.dialogue.clarify import IntentLabels, candidate_intents, clarify_buttons

LABELS = IntentLabels(
    titles={
        "network_fee": "矿工费",
        "transfer_pending": "没到账",
        "complaint": "投诉",
        "feedback": "建议",
    },
    none_of_these="都不是",
)


def test_candidates_are_labelled_intents_best_first_at_most_three() -> None:
    ranking = [
        {"name": "nlu_fallback", "confidence": 0.3},
        {"name": "out_of_scope", "confidence": 0.28},
        {"name": "feedback", "confidence": 0.05},
        {"name": "network_fee", "confidence": 0.2},
        {"name": "greet", "confidence": 0.1},
        {"name": "complaint", "confidence": 0.06},
        {"name": "transfer_pending", "confidence": 0.15},
    ]
    assert candidate_intents(ranking, LABELS) == ["network_fee", "transfer_pending", "complaint"]


def test_buttons_send_the_intent_and_end_with_none_of_these() -> None:
    buttons = clarify_buttons([{"name": "network_fee", "confidence": 0.4}], LABELS)
    assert buttons == [
        {"title": "矿工费", "payload": "/network_fee"},
        {"title": "都不是", "payload": "/deny"},
    ]
