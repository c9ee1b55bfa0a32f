"""Keystore files are hidden whole, even truncated or reformatted; talk about them is not."""

from __future__ import annotations

import json
import random

from bot.secret_guard import SecretKind, find_secrets, redact
from scripts.secret_samples import keystore

MARKER = "[已隐藏的密钥文件]"


def test_a_keystore_file_is_hidden_from_brace_to_brace() -> None:
    text = f"keystore：{keystore(random.Random(1))} 导不进去"
    findings = find_secrets(text)
    assert [f.kind for f in findings] == [SecretKind.KEYSTORE]
    assert redact(text, findings) == f"keystore：{MARKER} 导不进去"


def test_a_truncated_pretty_printed_keystore_is_hidden_to_the_end() -> None:
    pretty = json.dumps(json.loads(keystore(random.Random(2))), indent=2)
    text = f"这是我的keystore\n{pretty[:400]}"
    assert redact(text, find_secrets(text)) == f"这是我的keystore\n{MARKER}"


def test_a_keystore_without_its_opening_brace_or_quotes_is_hidden_from_its_first_field() -> None:
    text = "cipher: aes-128-ctr, ciphertext: 5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38"
    assert redact(text, find_secrets(text)) == MARKER


def test_talking_about_keystore_fields_is_nothing() -> None:
    assert find_secrets("keystore里的ciphertext和mac是什么意思") == []
    assert find_secrets("怎么导出keystore，kdf选scrypt还是pbkdf2") == []
