"""Passwords and verification codes a user types after (or before) saying what they are.

Only the secret itself is hidden; the cue words stay, so the assistant still knows what the user
talked about ("我的支付密码是[已隐藏的密码]").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache

from bot.secret_guard.cues import Cues
from bot.secret_guard.findings import Finding, SecretKind

MAX_CONNECTORS = 3
PASSWORD_LENGTHS = range(4, 65)
# A password of letters only is taken when it is this long and follows "是", ":" or the like:
# "password is wrong" or "密码 reset" are not passwords.
LETTERS_ONLY_MIN = 6
# How far before a cue a secret named afterwards may start ("abc123 是我的密码").
LOOK_BACK = 80
SPACES = " \t\u3000"
_PRINTABLE = re.compile(r"[!-~]+")
_CODE = re.compile(r"[0-9](?: ?[0-9]){3,7}")
_OPENING_QUOTES = "“‘「『"
_LATIN_WORDS = re.compile(r"[A-Za-z\s]*")
_NUMBER_GOES_ON = ("-", "/", ":", ".", ",")  # a date, a time, a decimal


def find_passwords(text: str, cues: Cues) -> Iterator[Finding]:
    """Passwords after a cue like "支付密码是" or before one like "是我的密码"."""
    before = _before_cue(r"(?<![!-~])[!-~]{4,64}", cues.password_reverse_connectors)
    for cue in cues.password_cues.finditer(text):
        position, connectors = _after_connectors(text, cue.end(), cues.password_connectors)
        token = _PRINTABLE.match(text, position)
        if (
            token
            and _is_password(token.group(), connectors)
            and not _quantity_follows(text, token.end(), cues)
        ):
            yield Finding(SecretKind.PASSWORD, *token.span())
        preceding = before.search(text, max(0, cue.start() - LOOK_BACK), cue.start())
        if preceding and _is_password(preceding.group(1), preceding.group(2)):
            yield Finding(SecretKind.PASSWORD, *preceding.span(1))


def find_codes(text: str, cues: Cues) -> Iterator[Finding]:
    """Four to eight digits after a cue like "验证码：" or before one like "是验证码"."""
    before = _before_cue(r"(?<![0-9A-Za-z])[0-9](?: ?[0-9]){3,7}", cues.code_reverse_connectors)
    for cue in cues.code_cues.finditer(text):
        if _after_word(text, cue.start(), cues.code_not_after):
            continue
        position, _ = _after_connectors(text, cue.end(), cues.code_connectors)
        code = _CODE.match(text, position)
        if code and _is_code_end(text, code.end(), cues):
            yield Finding(SecretKind.VERIFICATION_CODE, *code.span())
        preceding = before.search(text, max(0, cue.start() - LOOK_BACK), cue.start())
        if preceding:
            yield Finding(SecretKind.VERIFICATION_CODE, *preceding.span(1))


def _after_connectors(text: str, position: int, connectors: re.Pattern[str]) -> tuple[int, str]:
    """Where the secret would start after a cue, and the connecting words skipped on the way."""
    position = _skip_spaces(text, position)
    skipped = []
    for _ in range(MAX_CONNECTORS):
        connector = connectors.match(text, position)
        if not connector:
            break
        skipped.append(connector.group())
        position = _skip_spaces(text, connector.end())
    if position < len(text) and text[position] in _OPENING_QUOTES:
        position += 1
    return position, "".join(skipped)


def _skip_spaces(text: str, position: int) -> int:
    while position < len(text) and text[position] in SPACES:
        position += 1
    return position


@cache
def _before_cue(secret: str, connectors: re.Pattern[str]) -> re.Pattern[str]:
    """A secret, a connector like "是我的", and only spaces up to the cue (the search's end)."""
    spaces = f"[{SPACES}]*"
    return re.compile(f"({secret}){spaces}({connectors.pattern}){spaces}\\Z", connectors.flags)


def _is_password(token: str, connectors: str) -> bool:
    if len(token) not in PASSWORD_LENGTHS:
        return False
    if not token.isalpha():
        return True
    # Letters only: too often an English word, unless clearly assigned ("密码是", "password:").
    return len(token) >= LETTERS_ONLY_MIN and not _LATIN_WORDS.fullmatch(connectors)


def _is_code_end(text: str, end: int, cues: Cues) -> bool:
    """Whether digits ending at ``end`` are a whole code, not part of a date or a quantity."""
    return _ends_number(text, end) and not _quantity_follows(text, end, cues)


def _ends_number(text: str, end: int) -> bool:
    """Whether the digits end at ``end``: no letter or digit follows, nor a date or a decimal."""
    following = text[end : end + 1]
    if following.isascii() and following.isalnum():
        return False
    return not (following in _NUMBER_GOES_ON and text[end + 1 : end + 2].isdigit())


def _quantity_follows(text: str, end: int, cues: Cues) -> bool:
    """Whether a unit follows the number ("6位", "5次"), so it counts something."""
    return cues.quantity_units.match(text, _skip_spaces(text, end)) is not None


def _after_word(text: str, start: int, words: re.Pattern[str]) -> bool:
    """Whether one of ``words`` (and spaces) comes right before ``start``."""
    before = text[max(0, start - 12) : start].rstrip()
    return any(match.end() == len(before) for match in words.finditer(before))
