"""The addresses, links and contacts a text points the user to, and how they compare
(``Reference``).

Addresses (EVM, TRON, BTC, Solana), links and bare domains (internationalised names, and dots
written so that no link is made), e-mail addresses, Telegram handles and WeChat IDs are read
each once, in order, with the key they compare by: EVM and bech32 addresses in any case, a host
without ``www.``, a Telegram link by its handle. The outbound guard (``bot.handoff.guard``)
stops a reply that names one nobody in the conversation used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.handoff.secret_requests import plain
from bot.privacy import chain_identifiers


@dataclass(frozen=True)
class Reference:
    """Something a reply points the user to: ``kind`` address, url or contact, the ``value``
    as written and the ``key`` it is compared by (case folded where case means nothing)."""

    kind: str
    value: str
    key: str


# A transaction hash or a private key: not an address (the secret guard judges it).
HASH = re.compile(r"(?:0x)?[0-9a-fA-F]{64}")
_GROUPED_EVM = re.compile(
    r"(?<![0-9A-Za-z])0[xX](?:[0-9a-fA-F][\s\-_.,:·]{0,3}){39}[0-9a-fA-F](?![0-9A-Za-z])"
)
_SOLANA = re.compile(r"(?<![0-9A-Za-z])[1-9A-HJ-NP-Za-km-z]{32,44}(?![0-9A-Za-z])")
_URL = re.compile(
    r"(?:(?<![a-z0-9+.\-])[a-z][a-z0-9+.\-]{1,15}://|(?<![a-z0-9.\-])www\.)"
    r"[^\s<>\"'`{}|\\^\u3000-\u303f\u4e00-\u9fff\uff00-\uffef，。！？、；：「」『』（）【】《》]+",
    re.IGNORECASE,
)
_DOMAIN = re.compile(
    r"(?<![0-9a-z@._\-/])(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,24}|xn--[a-z0-9\-]{2,59})"
    r"(?![0-9a-z\-]|\.[a-z0-9])(?::\d{1,5})?(?:[/?#][^\s<>\"'\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]*)?",
    re.IGNORECASE,
)
# Internationalised names: a link whose host is not ASCII (https://例子.中国), or a bare one
# with Chinese in its name (im钱包.com).
_IDN_STOP = "\\s/?#<>\"'，。！？、；：「」『』（）【】《》"
_IDN_URL = re.compile(
    rf"(?<![a-z0-9+.\-])[a-z][a-z0-9+.\-]{{1,15}}://[^{_IDN_STOP}]*[^\x00-\x7f][^{_IDN_STOP}]*",
    re.IGNORECASE,
)
# Found from its top-level domain back, to stay linear on long runs of text.
_IDN_TOP = re.compile(
    r"\.(?:(?P<ascii>com|cn|net|org|io|xyz|top|app|vip|me|cc|co|info)|中国|中國|公司|网络|網絡)"
    r"(?![0-9a-z\-])",
    re.IGNORECASE,
)
_IDN_LABEL = re.compile(r"[0-9a-z\-\u4e00-\u9fff]{1,63}$", re.IGNORECASE)
_CHINESE = re.compile(r"[\u4e00-\u9fff]")
_EMAIL = re.compile(
    r"(?<![0-9a-z._%+\-])[a-z0-9._%+\-]{1,64}@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,24}"
    r"(?![0-9a-z\-])",
    re.IGNORECASE,
)
_HANDLE = re.compile(r"(?<![0-9A-Za-z_@./])@([A-Za-z][A-Za-z0-9_]{4,31})(?![0-9A-Za-z_])")
# 微信号是 x, 公众号：x; and 微信号 x (a Chinese name of the ID needs no 是 or colon).
_WECHAT_NAMED = re.compile(
    r"(?:(?:微信|weixin|wechat|vx|wx|v信|威信|薇信|公众号|公眾號)\s*(?:号|號|id)?\s*"
    r"(?:是|为|為|:|：|搜索|搜)|(?:微信|vx|wx|v信|威信|薇信)(?:号|號|id))"
    r"\s*[「“\"']?([A-Za-z][A-Za-z0-9_\-]{5,19})(?![A-Za-z0-9_\-])",
    re.IGNORECASE,
)
_WECHAT_ADD = re.compile(
    r"(?:加|添加|联系|聯繫|搜)(?:我|我的|下)?(?:微信|v信|vx|wx|weixin|wechat)\s*[「“\"']?"
    r"([A-Za-z][A-Za-z0-9_\-]{5,19})(?![A-Za-z0-9_\-])"
    r"|(?:微信|公众号|公眾號)\s*[「“\"']?([A-Za-z][A-Za-z0-9_\-]*[0-9_\-][A-Za-z0-9_\-]*)"
    r"(?![A-Za-z0-9_\-])",
    re.IGNORECASE,
)
# Dots written so that no link is made: evil[.]com, evil(dot)com, evil。com, evil点com.
_HIDDEN_DOT = re.compile(
    r"(?<=[0-9A-Za-z])\s*(?:\[\.\]|\(\.\)|\[dot\]|\(dot\)|\{\.\}|\s+dot\s+|。|｡|点|點)\s*"
    r"(?=(?:com|net|org|io|cn|xyz|top|app|vip|me|cc|co|info|site|online|club|shop|live|pro|link|"
    r"hk|tw|cloud|tech|fun|icu|asia|biz)(?![0-9A-Za-z]))",
    re.IGNORECASE,
)
# A bare name.ext is a file, not a site (wallet.apk, 截图.png).
_FILE_TYPE_NAMES = (
    "apk ipa exe dmg msi zip rar 7z gz tar txt log pdf doc docx xls xlsx ppt pptx csv json xml "
    "yml yaml md html htm js css py sh bat ini cfg conf png jpg jpeg gif webp svg bmp heic mp3 "
    "mp4 mov avi wav bak tmp"
)
_FILE_TYPES = frozenset(_FILE_TYPE_NAMES.split())
_TELEGRAM_HOSTS = frozenset({"t.me", "telegram.me", "telegram.dog"})
_TRAILING = ".,;:!?)]}'\"…>、，。"


def address_key(address: str) -> str:
    """How an address compares: EVM and bech32 addresses in any case, base58 ones as written."""
    compact = re.sub(r"[\s\-_.,:·]", "", address) if address[:2].lower() == "0x" else address
    lowered = compact.lower()
    if lowered.startswith(("0x", "bc1", "tb1", "ltc1")):
        return "address:" + lowered
    return "address:" + compact


def host_key(host: str) -> str:
    return "host:" + bare_host(host)


def references(text: str) -> list[Reference]:
    """The addresses, links and contacts in ``text``, each once, in order (an address inside
    a link counts too)."""
    clean = _HIDDEN_DOT.sub(".", plain(text))
    found: list[tuple[int, Reference]] = []
    # Where an address, and where a link or contact, was read already (one per character).
    taken = {True: bytearray(len(clean)), False: bytearray(len(clean))}

    def take(start: int, end: int, reference: Reference) -> None:
        spans = taken[reference.kind == "address"]
        if any(spans[start:end]):
            return
        spans[start:end] = b"\x01" * (end - start)
        found.append((start, reference))

    for match in _URL.finditer(clean):
        value = match.group().rstrip(_TRAILING)
        reference = link(value, has_scheme="://" in value)
        if reference is not None:
            take(match.start(), match.start() + len(value), reference)
    for match in _EMAIL.finditer(clean):
        value = match.group()
        take(match.start(), match.end(), Reference("contact", value, "email:" + value.lower()))
    for match in _DOMAIN.finditer(clean):
        value = match.group().rstrip(_TRAILING)
        reference = link(value, has_scheme=False)
        if reference is not None:
            take(match.start(), match.start() + len(value), reference)
    for match in _IDN_URL.finditer(clean):
        value = match.group().rstrip(_TRAILING)
        host = value.split("://")[-1].split(":")[0]
        take(match.start(), match.start() + len(value), Reference("url", value, host_key(host)))
    for top in _IDN_TOP.finditer(clean):
        label = _IDN_LABEL.search(clean, max(top.start() - 63, 0), top.start())
        if label is None or (top.group("ascii") and not _CHINESE.search(label.group())):
            continue  # an ASCII name is the ASCII pattern's
        value = clean[label.start() : top.end()]
        take(label.start(), top.end(), Reference("url", value, host_key(value)))
    for match in _GROUPED_EVM.finditer(clean):
        value = match.group()
        take(match.start(), match.end(), Reference("address", value, address_key(value)))
    for value in chain_identifiers(clean):
        if HASH.fullmatch(value):
            continue  # a transaction hash, or a key: the secret rule's
        for match in re.finditer(re.escape(value), clean):
            take(match.start(), match.end(), Reference("address", value, address_key(value)))
    for match in _SOLANA.finditer(clean):
        value = match.group()
        if not value.isdigit():
            take(match.start(), match.end(), Reference("address", value, address_key(value)))
    for match in _HANDLE.finditer(clean):
        handle = match.group(1)
        take(match.start(), match.end(), Reference("contact", "@" + handle, telegram_key(handle)))
    for pattern in (_WECHAT_NAMED, _WECHAT_ADD):
        for match in pattern.finditer(clean):
            group = next((g for g in (1, 2) if pattern.groups >= g and match.group(g)), None)
            if group is None:
                continue
            value = match.group(group)
            take(
                match.start(group),
                match.end(group),
                Reference("contact", value, "wechat:" + value.lower()),
            )
    found.sort(key=lambda pair: pair[0])
    unique: dict[str, Reference] = {}
    for _, reference in found:
        unique.setdefault(reference.key, reference)
    return list(unique.values())


def link(value: str, has_scheme: bool) -> Reference | None:
    """The link ``value`` by its host (a Telegram link by its handle); None for a file name."""
    scheme = value.split("://", 1)[0].lower() if has_scheme else ""
    if scheme == "tg":
        handle = re.search(r"domain=([A-Za-z][A-Za-z0-9_]{4,31})", value)
        return Reference(
            "url", value, telegram_key(handle.group(1)) if handle else "url:" + value.lower()
        )
    try:
        parts = urlsplit(value if has_scheme else "http://" + value)
        host = parts.hostname or ""
    except ValueError:
        return Reference("url", value, "url:" + value.lower())  # compared whole
    if not host:
        return None
    host = bare_host(host)
    if not has_scheme and host.rsplit(".", 1)[-1] in _FILE_TYPES and "/" not in value:
        return None
    if host in _TELEGRAM_HOSTS:
        first = parts.path.strip("/").split("/")[0]
        if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{4,31}", first) and first.lower() != "joinchat":
            return Reference("url", value, telegram_key(first))
        return Reference("url", value, "url:" + value.lower().split("://")[-1])
    return Reference("url", value, "host:" + host)


def within(host: str, domain: str) -> bool:
    """``host`` is ``domain`` or one of its subdomains (both as ``bare_host`` gives them)."""
    return bool(domain) and (host == domain or host.endswith("." + domain))


def bare_host(host: str) -> str:
    """``host`` as it compares: lower case, without a final dot or ``www.``."""
    host = host.lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


def telegram_key(handle: str) -> str:
    """How a Telegram handle (without its @) compares."""
    return "telegram:" + handle.lower()
