"""WeChat Official Account message security: request signatures and the AES "safe mode".

Every callback carries ``signature = sha1(sorted [token, timestamp, nonce])``; in safe mode also
``msg_signature = sha1(sorted [token, timestamp, nonce, encrypt])``, which covers the body. The
encrypted payload is AES-256-CBC with key = base64(EncodingAESKey + "="), IV = key[:16], PKCS#7
padding to 32 bytes, over 16 random bytes + 4-byte big-endian length + xml + appid.

Kept rather than replaced by wechatpy's ``WeChatCrypto`` (weighed when the channel became a
package): wechatpy does the same AES through the same ``cryptography`` package, but compares
signatures with ``!=`` (not in constant time), checks no timestamp window (a captured callback
stays valid for ever), validates the key with an ``assert`` and parses the envelope with
xmltodict (``wechat.xml`` says why not); it would add requests and xmltodict to spare about a
hundred lines. This module is checked against WeChat's own WXBizMsgCrypt sample.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
import time

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK_SIZE = 32
FRESHNESS_SECONDS = 300
MAX_TIMESTAMP_DIGITS = 12


class InvalidPayload(ValueError):
    """An encrypted payload that does not decrypt to a message for this app."""


def sha1_signature(*parts: str) -> str:
    """WeChat's signature: the SHA-1 of the sorted parts joined together."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def signature_matches(expected: str, given: str | None) -> bool:
    """Compares in constant time; bytes, since compare_digest rejects non-ASCII str."""
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def timestamp_fresh(
    timestamp: str | None, window: float = FRESHNESS_SECONDS, now: float | None = None
) -> bool:
    """Whether a request's timestamp lies within ``window`` seconds of now (replay defence)."""
    if not timestamp or not timestamp.isascii() or not timestamp.isdigit():
        return False
    if len(timestamp) > MAX_TIMESTAMP_DIGITS:
        return False
    current = time.time() if now is None else now
    return abs(current - int(timestamp)) <= window


def request_valid(
    token: str,
    timestamp: str | None,
    nonce: str | None,
    signature: str | None,
    *extra: str,
    now: float | None = None,
) -> bool:
    """A fresh request whose signature over token, timestamp, nonce (and ``extra``) checks out."""
    if timestamp is None or nonce is None or signature is None:
        return False
    # Both checks always run, so a stale and a forged request take the same time.
    signed = signature_matches(sha1_signature(token, timestamp, nonce, *extra), signature)
    fresh = timestamp_fresh(timestamp, now=now)
    return signed and fresh


class MessageCrypto:
    """Encrypts and decrypts safe-mode payloads of one Official Account."""

    def __init__(self, token: str, encoding_aes_key: str, app_id: str) -> None:
        try:
            key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except binascii.Error as error:
            raise ValueError("WECHAT_AES_KEY is not a 43-character EncodingAESKey") from error
        if len(key) != 32:
            raise ValueError("WECHAT_AES_KEY is not a 43-character EncodingAESKey")
        if not app_id:
            raise ValueError("safe mode needs the app id")
        self._token = token
        self._key = key
        self._app_id = app_id.encode()

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))

    def signature(self, timestamp: str, nonce: str, encrypted: str) -> str:
        return sha1_signature(self._token, timestamp, nonce, encrypted)

    def encrypt(self, xml: str, random_prefix: bytes | None = None) -> str:
        """The base64 ``Encrypt`` value of ``xml``."""
        prefix = os.urandom(16) if random_prefix is None else random_prefix
        body = xml.encode()
        plain = prefix + struct.pack(">I", len(body)) + body + self._app_id
        pad = BLOCK_SIZE - len(plain) % BLOCK_SIZE
        encryptor = self._cipher().encryptor()
        encrypted = encryptor.update(plain + bytes([pad]) * pad) + encryptor.finalize()
        return base64.b64encode(encrypted).decode()

    def decrypt(self, encrypted: str) -> str:
        """The XML inside an ``Encrypt`` value; InvalidPayload if it is not for this app."""
        try:
            data = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError) as error:
            raise InvalidPayload("not base64") from error
        if not data or len(data) % 16:
            raise InvalidPayload("not whole AES blocks")
        decryptor = self._cipher().decryptor()
        plain = decryptor.update(data) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= BLOCK_SIZE or plain[-pad:] != bytes([pad]) * pad:
            raise InvalidPayload("bad padding")
        content = plain[16:-pad]
        if len(content) < 4:
            raise InvalidPayload("too short")
        (length,) = struct.unpack(">I", content[:4])
        xml, app_id = content[4 : 4 + length], content[4 + length :]
        if len(xml) != length or not hmac.compare_digest(app_id, self._app_id):
            raise InvalidPayload("not addressed to this app")
        try:
            return xml.decode()
        except UnicodeDecodeError as error:
            raise InvalidPayload("not UTF-8") from error
