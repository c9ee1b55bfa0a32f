"""The local adapter over the real data files: data/official_channels.yml and data/denylist.yml.

Every listed official channel is official and every denylisted value denylisted; imitations of
an official channel are reported as such; the rest is unknown.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.handoff.guard import OFFICIAL_CHANNELS
from bot.link_safety.candidates import candidates
from bot.link_safety.local import DENYLIST, LocalLinkSafety
from bot.link_safety.records import Candidate, Kind, Reason, Status, Verdict
from bot.wallet import demo_data

OFFICIAL = yaml.safe_load(OFFICIAL_CHANNELS.read_text(encoding="utf-8"))
DENIED = yaml.safe_load(DENYLIST.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def safety() -> LocalLinkSafety:
    return LocalLinkSafety.from_files()


def verdict_of(safety: LocalLinkSafety, text: str) -> Verdict:
    (candidate,) = candidates(text)
    return safety.check(candidate)


def test_every_official_channel_is_official(safety: LocalLinkSafety) -> None:
    for handle in OFFICIAL["telegram"]:
        for text in (f"@{handle}", f"t.me/{handle.lower()}", f"https://t.me/{handle.upper()}"):
            assert verdict_of(safety, text) == Verdict(
                Status.OFFICIAL, handle, Reason.OFFICIAL_CONTACT
            ), text
    for wechat in OFFICIAL["wechat"]:
        assert verdict_of(safety, f"微信号：{wechat}").reason is Reason.OFFICIAL_CONTACT
    for email in OFFICIAL["email"]:
        assert verdict_of(safety, email.upper()).status is Status.OFFICIAL
    for domain in OFFICIAL["web_domains"]:
        for text in (domain, f"https://help.{domain}/articles/1", f"www.{domain}"):
            assert verdict_of(safety, text) == Verdict(
                Status.OFFICIAL, domain, Reason.OFFICIAL_DOMAIN
            ), text


def test_explorers_and_app_stores_are_safe_but_not_ours(safety: LocalLinkSafety) -> None:
    for domain in OFFICIAL["public_domains"]:
        assert verdict_of(safety, f"https://{domain}/x") == Verdict(
            Status.OFFICIAL, domain, Reason.PUBLIC_SITE
        )
    # Another site of an app store's owner is theirs, neither listed nor an imitation.
    assert verdict_of(safety, "https://store.apple.com") == Verdict(
        Status.UNKNOWN, None, Reason.UNKNOWN
    )


def test_every_denylisted_value_is_denylisted_with_its_label(safety: LocalLinkSafety) -> None:
    sections = {
        "addresses": Reason.DENYLISTED_ADDRESS,
        "spenders": Reason.DENYLISTED_SPENDER,
        "domains": Reason.DENYLISTED_DOMAIN,
        "telegram": Reason.DENYLISTED_CONTACT,
        "wechat": Reason.DENYLISTED_CONTACT,
        "email": Reason.DENYLISTED_CONTACT,
    }
    for section, reason in sections.items():
        for entry in DENIED[section]:
            text = {"telegram": "@{}", "wechat": "微信号是 {}"}.get(section, "{}")
            verdict = verdict_of(safety, text.format(entry["value"]))
            assert verdict == Verdict(Status.DENYLISTED, entry["label"], reason), entry


def test_the_demo_drainer_is_a_denylisted_spender(safety: LocalLinkSafety) -> None:
    assert safety.denylisted("TRON", demo_data.DENYLISTED_TRON_SPENDER)
    assert not safety.denylisted("TRON", demo_data.EXCHANGE_TRON)
    assert not safety.denylisted("ETH", demo_data.UNKNOWN_ETH_SPENDER)


def test_denylisted_evm_addresses_match_in_any_case_on_any_evm_chain(
    safety: LocalLinkSafety,
) -> None:
    (eth,) = [e for e in DENIED["addresses"] if e["chain"] == "ETH"]
    address = eth["value"].upper().replace("0X", "0x")
    for chain in ("ETH", "BSC", "POLYGON", None):
        verdict = safety.check(Candidate(Kind.ADDRESS, address, chain))
        assert verdict.reason is Reason.DENYLISTED_ADDRESS, chain
    # A TRON address is compared as written, and only with TRON's list.
    (tron,) = [e for e in DENIED["addresses"] if e["chain"] == "TRON"]
    assert safety.check(Candidate(Kind.ADDRESS, tron["value"].lower(), None)).status is (
        Status.UNKNOWN
    )
    assert safety.check(Candidate(Kind.ADDRESS, tron["value"], "BTC")).status is Status.UNKNOWN


def test_a_subdomain_of_a_scam_site_and_mail_from_it_are_denylisted(
    safety: LocalLinkSafety,
) -> None:
    assert verdict_of(safety, "https://login.imwallet-verify.net/?id=1").reason is (
        Reason.DENYLISTED_DOMAIN
    )
    assert verdict_of(safety, "kefu@imwallet-verify.net").reason is Reason.DENYLISTED_DOMAIN


@pytest.mark.parametrize(
    ("text", "imitated"),
    [
        ("@IMWalletOfficiaI", "IMWalletOfficial"),  # capital I for l
        ("t.me/IMWaIletOfficial", "IMWalletOfficial"),
        ("@IMWalletOfficial_Help", "IMWalletOfficial"),  # the official one inside it
        ("@IMWalletCM", "IMWalletCN"),  # one letter off
        ("@IMWallet_Kefu_01", "IMWalletOfficial"),  # a name scammers use
        ("公众号 imwallet_0fficial", "imwallet_official"),
        ("examp1e.com", "example.com"),
        ("https://example.com.account-verify.io/login", "example.com"),
        ("tronscam.org", "tronscan.org"),
        ("imwallet-airdrop.com", "example.com"),
        ("service@imwallet-service.com", "support@example.com"),
    ],
)
def test_an_imitation_of_an_official_channel_is_reported(
    safety: LocalLinkSafety, text: str, imitated: str
) -> None:
    assert verdict_of(safety, text) == Verdict(
        Status.UNKNOWN, imitated, Reason.LOOKALIKE_OF_OFFICIAL
    )


@pytest.mark.parametrize(
    "text",
    [
        "@binance",
        "@crypto_news_daily",
        "https://github.com/some/repo",
        "tom.lee@gmail.com",
        "微信号 zhangsan_88",
        "TJRyWwFs9wTFGZg3JbrVriFbNfCug5tDeC",
        "0x28c6c06298d514db089934071355e5743bf21d60",
    ],
)
def test_anything_else_is_unknown(safety: LocalLinkSafety, text: str) -> None:
    assert verdict_of(safety, text) == Verdict(Status.UNKNOWN, None, Reason.UNKNOWN)


def test_the_denylist_wins_over_the_official_list(tmp_path: Path) -> None:
    # An old official handle taken over by a scammer, denylisted but not yet delisted.
    handle = OFFICIAL["telegram"][0]
    denylist = tmp_path / "denylist.yml"
    denylist.write_text(
        yaml.safe_dump({"telegram": [{"value": handle, "label": "已被盗用"}]}, allow_unicode=True),
        encoding="utf-8",
    )
    safety = LocalLinkSafety.from_files(denylist)
    assert safety.check(Candidate(Kind.TELEGRAM, handle)) == Verdict(
        Status.DENYLISTED, "已被盗用", Reason.DENYLISTED_CONTACT
    )
