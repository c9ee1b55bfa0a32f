"""Private keys are hidden; transaction hashes and addresses are not; undecided strings say so."""

from __future__ import annotations

import json
import random

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bot.secret_guard import Finding, SecretKind, find_secrets, redact
from scripts.secret_samples import b58check, b58encode, solana_secret, wif, xprv

HEX = "15f1b462c847a256d6083141a7382882bc0d46f2d5250cce3ffc7310f7f7773b"
BIP32_XPRV = (
    "xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TG"
    "tRBeJgk33yuGBxrMPHi"
)
BIP32_XPUB = (
    "xpub661MyMwAqRbcFtXgS5sYJABqqG9YLmC4Q1Rdap9gSE8NqtwybGhePY2gZ29ESFjqJoCu1Rupje8YtGqsefD265TM"
    "g7usUDFdp6W1EGMcet8"
)


def kinds(text: str) -> list[tuple[SecretKind, bool, str]]:
    return [(f.kind, f.uncertain, f.candidate(text)) for f in find_secrets(text)]


@pytest.mark.parametrize(
    "text",
    [
        f"我的私钥是{HEX}",
        f"私鑰：0x{HEX} 幫我看看",
        f"private key {HEX.upper()}",
        f"pk={HEX}",
        f"导出的是 {HEX}",
        f"我的私钥是{HEX}能帮我查下吗",  # key words win over hash words
    ],
)
def test_64_hex_next_to_key_words_is_a_private_key(text: str) -> None:
    [finding] = find_secrets(text)
    assert (finding.kind, finding.uncertain) == (SecretKind.PRIVATE_KEY, False)
    assert finding.candidate(text).endswith(HEX) or finding.candidate(text).endswith(HEX.upper())


@pytest.mark.parametrize(
    "text",
    [
        f"交易哈希 0x{HEX} 帮我查下到哪了",
        f"txid:{HEX} 一直pending",
        f"这笔0x{HEX}怎么还没到",
        f"0x{HEX} 这个转账失败了",
        f"https://etherscan.io/tx/0x{HEX}",
        f"轉帳 {HEX} 還沒到賬",
    ],
)
def test_64_hex_next_to_hash_words_is_a_transaction_hash(text: str) -> None:
    assert find_secrets(text) == []


def test_64_hex_alone_is_uncertain_and_its_candidate_is_the_string() -> None:
    text = f"0x{HEX}"
    assert find_secrets(text) == [Finding(SecretKind.PRIVATE_KEY, 0, 66, uncertain=True)]
    assert find_secrets(text)[0].candidate(text) == text


def test_the_words_about_one_string_do_not_decide_for_another() -> None:
    key, tx = HEX, HEX[::-1]
    text = f"私钥 {key}；交易哈希 {tx}"
    assert kinds(text) == [(SecretKind.PRIVATE_KEY, False, key)]


@pytest.mark.parametrize(
    "text",
    [
        HEX * 2,  # 128 hex digits: not 64
        f"0x{HEX}ff",
        f"g{HEX}",
        "0x5fe779550ccd1785622af2a3ea0213745853e058",  # an Ethereum address
    ],
)
def test_hex_of_another_length_or_inside_a_word_is_nothing(text: str) -> None:
    assert find_secrets(text) == []


@pytest.mark.parametrize(
    "key",
    [
        "5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvyTJ",  # uncompressed, Bitcoin wiki
        "KwdMAjGmerYanjeui5SHS7JkmpZvVipYvB2LJGU1ZxJwYvP98617",  # compressed
        *(wif(random.Random(seed)) for seed in range(20)),  # mainnet, testnet, Litecoin
    ],
)
def test_a_wif_key_is_a_private_key_whatever_the_words(key: str) -> None:
    assert kinds(f"帮我查下这笔{key}") == [(SecretKind.PRIVATE_KEY, False, key)]


@pytest.mark.parametrize(
    "text",
    [
        "5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvyTK",  # checksum broken
        "我往TvxPQZcCmssNDNX93otLwC2JmytafyKgbD转了500U",  # TRON address
        "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",  # Bitcoin address
        b58check(bytes([0x80]) + bytes(31)),  # WIF version but 31 key bytes
        f"bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq {BIP32_XPUB}",  # a bech32 address, an xpub
    ],
)
def test_addresses_and_broken_keys_are_not_private_keys(text: str) -> None:
    assert find_secrets(text) == []


@pytest.mark.parametrize("key", [BIP32_XPRV, *(xprv(random.Random(seed)) for seed in range(5))])
def test_an_extended_private_key_is_hidden(key: str) -> None:
    assert (
        redact(f"备份的 {key} 对吗", find_secrets(f"备份的 {key} 对吗"))
        == "备份的 [已隐藏的私钥] 对吗"
    )


def test_a_solana_secret_key_is_certain_even_next_to_hash_words() -> None:
    key = b58encode(solana_secret(random.Random(1)))
    assert kinds(f"帮我查下这笔 {key}") == [(SecretKind.PRIVATE_KEY, False, key)]


def test_a_solana_signature_follows_the_words_around_it() -> None:
    signature = b58encode(random.Random(2).randbytes(64))
    assert kinds(signature) == [(SecretKind.PRIVATE_KEY, True, signature)]
    assert kinds(f"交易签名 {signature} 怎么还没确认") == []
    assert kinds(f"私钥 {signature}") == [(SecretKind.PRIVATE_KEY, False, signature)]


def test_a_solana_key_exported_as_64_numbers_is_hidden() -> None:
    array = json.dumps(list(solana_secret(random.Random(3))))
    text = f"id.json 里是 {array} 这个"
    assert redact(text, find_secrets(text)) == "id.json 里是 [已隐藏的私钥] 这个"


@pytest.mark.parametrize(
    "numbers",
    [list(range(63)), [*range(63), 256], list(range(65))],
)
def test_other_number_lists_are_not_keys(numbers: list[int]) -> None:
    assert find_secrets(json.dumps(numbers)) == []


def test_a_solana_key_is_told_by_its_rfc_8032_public_key() -> None:
    seed = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    public = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    key, not_key = b58encode(seed + public), b58encode(seed + bytes(32))
    assert kinds(f"帮我查下这笔 {key}") == [(SecretKind.PRIVATE_KEY, False, key)]
    assert kinds(not_key) == [(SecretKind.PRIVATE_KEY, True, not_key)]


def test_a_solana_key_starting_with_zero_bytes_is_found() -> None:
    seed = bytes(2) + random.Random(4).randbytes(30)
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    key = b58encode(seed + public)
    assert key.startswith("11")
    assert kinds(key) == [(SecretKind.PRIVATE_KEY, False, key)]


@pytest.mark.parametrize("outside", ["0", "O", "I", "l"])
def test_a_solana_sized_string_outside_base58_is_not_a_key(outside: str) -> None:
    key = b58encode(solana_secret(random.Random(5)))
    assert find_secrets(key[:40] + outside + key[41:]) == []


def groups(key: str, size: int, gap: str) -> str:
    return gap.join(key[i : i + size] for i in range(0, len(key), size))


@pytest.mark.parametrize(
    "text",
    [
        f"私钥 0x{groups(HEX, 8, ' ')}",
        f"我的私钥是\n{groups(HEX, 8, chr(10))}\n帮我看看",
        f"private key: {groups(HEX, 4, '-')}",
        f"导出的密钥 {groups(HEX, 16, '.')} 对吗",
        f"私鑰：{groups(HEX.upper(), 2, ' ')}",
        f"pk {groups(HEX, 8, ' - ')}",
        f"私钥 add {groups(HEX, 8, ' ')}",  # a hex-like word before the key is not part of it
    ],
)
def test_64_hex_in_groups_next_to_key_words_is_hidden_whole(text: str) -> None:
    redacted = redact(text, find_secrets(text))
    assert redacted.count("[已隐藏的私钥]") == 1
    assert not any(chunk in redacted.lower() for chunk in groups(HEX, 8, " ").split())


@pytest.mark.parametrize(
    "text",
    [
        f"交易哈希 {groups(HEX, 8, ' ')} 帮我查下",  # hash words
        groups(HEX, 8, " "),  # no words at all
        f"私钥 {groups(HEX[:60], 6, ' ')}",  # 60 digits
        f"私钥 {groups('1234567890' * 6 + '1234', 8, ' ')}",  # decimal numbers, no hex letters
    ],
)
def test_other_groups_of_hex_are_not_keys(text: str) -> None:
    assert find_secrets(text) == []


def test_a_full_width_key_is_hidden_and_an_undecided_one_is_looked_up_folded() -> None:
    wide = "".join(chr(ord(c) + 0xFEE0) for c in HEX)
    text = f"私钥　{wide}　对吗"
    assert redact(text, find_secrets(text)) == "私钥　[已隐藏的私钥]　对吗"
    [undecided] = find_secrets(wide)
    assert undecided.uncertain and undecided.candidate(wide) == HEX


def test_a_key_in_two_halves_after_0x_is_hidden() -> None:
    text = f"私钥 0x{HEX[:32]} {HEX[32:]}"
    assert redact(text, find_secrets(text)) == "私钥 [已隐藏的私钥]"
