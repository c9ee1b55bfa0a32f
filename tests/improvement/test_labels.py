"""A lead's labels: stored with who and when, one active per message group, undone and pinned;
labels the export could not write safely (unknown intent, bad spans, a secret) refused with a
clear reason; agents' flags (SQLite and PostgreSQL)."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.improvement.flags import FlagStore
from bot.improvement.labels import EntitySpan, LabelError, LabelStore, utc_now
from scripts.secret_samples import mnemonic_words

KNOWN = {"transfer_pending", "network_fee", "create_wallet", "supported_coins"}


@pytest.fixture
def store(url: str) -> Iterator[LabelStore]:
    store = LabelStore.from_url(url)
    yield store
    store.engine.dispose()


def test_a_label_is_stored_with_who_and_when(store: LabelStore) -> None:
    before = utc_now()
    label = store.label("提币三小时没到", "k1", "transfer_pending", "lead1", known_intents=KNOWN)
    assert [(x.label_id, x.text, x.text_key, x.intent, x.labelled_by) for x in store.active()] == [
        (label.label_id, "提币三小时没到", "k1", "transfer_pending", "lead1")
    ]
    stored = store.active()[0]
    assert before <= stored.labelled_at <= utc_now()
    assert stored.labelled_at.tzinfo is not None
    assert stored == label


def test_a_new_label_for_the_same_group_replaces_the_earlier(store: LabelStore) -> None:
    first = store.label("gas太贵了", "k1", "transfer_pending", "lead1", known_intents=KNOWN)
    other = store.label("支持哪些币", "k2", "supported_coins", "lead1", known_intents=KNOWN)
    second = store.label("gas 太贵", "k1", "network_fee", "lead2", known_intents=KNOWN)
    assert [(x.label_id, x.intent) for x in store.active()] == [
        (other.label_id, "supported_coins"),
        (second.label_id, "network_fee"),
    ]
    assert store.handled_keys() == {"k1", "k2"}
    # The replaced label is history: undoing it again does nothing.
    assert not store.undo(first.label_id, "lead1")


def test_undo_removes_a_label_once(store: LabelStore) -> None:
    label = store.label("转账失败", "k1", "transfer_pending", "lead1", known_intents=KNOWN)
    assert store.undo(label.label_id, "lead2")
    assert store.active() == []
    assert store.handled_keys() == set()
    assert not store.undo(label.label_id, "lead2")
    assert not store.undo(999_999, "lead2")
    again = store.label("转账失败", "k1", "network_fee", "lead1", known_intents=KNOWN)
    assert [x.label_id for x in store.active()] == [again.label_id]


def test_ignored_and_out_of_scope_messages_count_as_handled(store: LabelStore) -> None:
    store.label("哈哈哈", "k1", "ignore", "lead1", known_intents=KNOWN)
    store.label("今天天气怎么样", "k2", "out_of_scope", "lead1", known_intents=KNOWN)
    assert store.handled_keys() == {"k1", "k2"}
    assert sorted(x.intent for x in store.active()) == ["ignore", "out_of_scope"]


def test_pinned_labels_are_listed_until_unpinned_or_undone(store: LabelStore) -> None:
    a = store.label("手续费多少", "k1", "network_fee", "lead1", pinned=True, known_intents=KNOWN)
    b = store.label("怎么创建钱包", "k2", "create_wallet", "lead1", known_intents=KNOWN)
    assert [x.label_id for x in store.pinned()] == [a.label_id]
    assert store.pin(b.label_id, True, "lead2")
    assert [x.label_id for x in store.pinned()] == [a.label_id, b.label_id]
    assert store.pin(a.label_id, False, "lead2")
    assert [x.label_id for x in store.pinned()] == [b.label_id]
    assert store.undo(b.label_id, "lead2")
    assert store.pinned() == []
    assert not store.pin(b.label_id, True, "lead2")  # an undone label stays undone
    assert not store.pin(999_999, True, "lead2")


def test_entities_are_kept(store: LabelStore) -> None:
    text = "转了100u到币安没到"
    spans = (EntitySpan(4, 5, "currency", "USDT"), EntitySpan(6, 8, "exchange", "币安"))
    store.label(text, "k1", "transfer_pending", "lead1", entities=spans, known_intents=KNOWN)
    assert store.active()[0].entities == spans


def test_two_leads_labelling_one_group_at_once_leave_one_active_label(store: LabelStore) -> None:
    errors: list[BaseException] = []

    def label(number: int) -> None:
        try:
            for round_ in range(10):
                store.label(
                    f"第{number}位第{round_}次",
                    "busy",
                    "network_fee",
                    f"lead{number}",
                    known_intents=KNOWN,
                )
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=label, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(store.active()) == 1


def test_an_unknown_intent_is_refused_with_its_name(store: LabelStore) -> None:
    with pytest.raises(LabelError, match=r"^unknown intent 'renamed_intent'$"):
        store.label("转账没到", "k1", "renamed_intent", "lead1", known_intents=KNOWN)
    assert store.active() == []


@pytest.mark.parametrize(
    ("text", "spans", "reason"),
    [
        ("", (), "the text is empty"),
        ("  \n ", (), "the text is empty"),
        ("转了100u", (EntitySpan(4, 9, "currency", "u"),), "outside the text"),
        ("转了100u", (EntitySpan(3, 3, "currency", "u"),), "outside the text"),
        ("转了100u", (EntitySpan(-1, 2, "currency", "u"),), "outside the text"),
        (
            "转了100u",
            (EntitySpan(2, 5, "amount", "100"), EntitySpan(4, 6, "currency", "u")),
            "overlaps",
        ),
        ("转了 100u", (EntitySpan(2, 6, "amount", "100"),), "starts or ends with a space"),
        ("转了100u", (EntitySpan(2, 5, "amount", ""),), "has no value"),
        ("转了100u", (EntitySpan(2, 5, "金额", "100"),), "not an entity name"),
        ("转了100u", (EntitySpan(2, 5, "amount)", "100"),), "not an entity name"),
        ("[私钥]100u", (EntitySpan(0, 4, "x", "私钥"),), "bracket"),
        ("我[转了100u", (EntitySpan(4, 7, "amount", "100"),), "unclosed"),
    ],
)
def test_a_label_the_export_could_not_write_is_refused(
    store: LabelStore, text: str, spans: tuple[EntitySpan, ...], reason: str
) -> None:
    with pytest.raises(LabelError, match=reason):
        store.label(text, "k1", "transfer_pending", "lead1", spans, known_intents=KNOWN)
    assert store.active() == []


def test_a_text_or_value_holding_a_secret_is_refused(store: LabelStore) -> None:
    words = mnemonic_words(random.Random(7), "english", 12)
    with pytest.raises(LabelError, match=r"holds a secret \(mnemonic\)") as caught:
        store.label(
            f"my seed is {' '.join(words)} help",
            "k1",
            "transfer_pending",
            "lead1",
            known_intents=KNOWN,
        )
    assert words[0] not in str(caught.value)
    chinese = "".join(mnemonic_words(random.Random(8), "chinese_simplified", 12))
    with pytest.raises(LabelError, match="holds a secret"):
        store.label(
            f"我的助记词是{chinese}", "k2", "transfer_pending", "lead1", known_intents=KNOWN
        )
    text = "币安提币没到"
    with pytest.raises(LabelError, match="value of entity span"):
        store.label(
            text,
            "k3",
            "transfer_pending",
            "lead1",
            (EntitySpan(0, 2, "exchange", f"seed {' '.join(words)}"),),
            known_intents=KNOWN,
        )
    assert store.active() == []
    # Markers of secrets hidden at intake are no secret.
    store.label(
        "我的助记词是 [已隐藏的助记词] 帮我看看", "k4", "out_of_scope", "lead1", known_intents=KNOWN
    )
    assert len(store.active()) == 1


def test_flags_are_listed_oldest_first_and_from_a_time(url: str) -> None:
    flags = FlagStore.from_url(url)
    try:
        first = flags.flag("conv-1", 12, "agent1", "机器人答错了")
        second = flags.flag("conv-2", None, "agent2")
        assert flags.flags() == [first, second]
        assert (second.conversation_id, second.ticket_id, second.note) == ("conv-2", None, None)
        assert flags.flags(since=second.flagged_at) == [second]
        assert flags.flags(since=utc_now() + timedelta(seconds=1)) == []
        words = mnemonic_words(random.Random(9), "english", 12)
        with pytest.raises(LabelError, match="the note holds a secret"):
            flags.flag("conv-3", 13, "agent1", f"用户发了 {' '.join(words)}")
        assert len(flags.flags()) == 2
    finally:
        flags.engine.dispose()
