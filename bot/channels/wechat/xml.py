"""WeChat's XML: callbacks parsed safely, passive replies written (plain or encrypted).

WeChat's messages are one flat ``<xml>`` element of text fields. ``parse_xml`` reads exactly that
with the standard library's expat: bodies over 64 KiB, elements nested deeper than 8, any DTD and
any entity declaration or external entity are refused (no XML bomb, no XXE), and a field is its
text, CDATA or not.

Kept rather than replaced by wechatpy's ``parse_message`` (weighed when the channel became a
package): that is ``xmltodict.parse`` plus a class per message type. xmltodict refuses entity
declarations by default, but sets no size or depth limit, turns attributes and nested or repeated
elements into dicts and lists that every caller must then check, and its message classes add
nothing to the three fields the channel reads (MsgType, Content, Event).
"""

from __future__ import annotations

import secrets
from typing import Any
from xml.parsers import expat

from bot.channels.wechat.crypto import MessageCrypto

MAX_BODY_BYTES = 64 * 1024
MAX_XML_DEPTH = 8


class XmlRejected(ValueError):
    """A request body that is not a WeChat message we are willing to parse."""


def parse_xml(data: bytes) -> dict[str, str]:
    """The fields of a flat ``<xml>`` message; DTDs and entities (XML bombs, XXE) are refused."""
    if len(data) > MAX_BODY_BYTES:
        raise XmlRejected("too large")
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    fields: dict[str, str] = {}
    chunks: list[str] = []
    depth = 0

    def start(name: str, _: Any) -> None:
        nonlocal depth
        depth += 1
        if depth == 1 and name != "xml":
            raise XmlRejected("the root element is not <xml>")
        if depth > MAX_XML_DEPTH:
            raise XmlRejected("nested too deep")
        if depth == 2:
            chunks.clear()

    def end(name: str) -> None:
        nonlocal depth
        if depth == 2:
            fields[name] = "".join(chunks).strip()
        depth -= 1

    def characters(text: str) -> None:
        if depth == 2:
            chunks.append(text)

    def forbidden(*_: Any) -> None:
        raise XmlRejected("DTDs and entities are not accepted")

    def external(*_: Any) -> int:
        raise XmlRejected("external entities are not accepted")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    parser.StartDoctypeDeclHandler = forbidden
    parser.EntityDeclHandler = forbidden
    parser.UnparsedEntityDeclHandler = forbidden
    parser.ExternalEntityRefHandler = external
    try:
        parser.Parse(data, True)
    except expat.ExpatError as error:
        raise XmlRejected("malformed XML") from error
    return fields


def cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply_xml(to_user: str, from_user: str, text: str, created: int) -> str:
    """A passive text reply."""
    return (
        f"<xml><ToUserName>{cdata(to_user)}</ToUserName>"
        f"<FromUserName>{cdata(from_user)}</FromUserName>"
        f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{cdata(text)}</Content></xml>"
    )


def encrypted_reply_xml(crypto: MessageCrypto, xml: str, timestamp: int) -> str:
    """A passive reply in safe mode: the encrypted reply with its msg_signature."""
    encrypted = crypto.encrypt(xml)
    nonce = str(secrets.randbelow(10**10))
    signature = crypto.signature(str(timestamp), nonce, encrypted)
    return (
        f"<xml><Encrypt>{cdata(encrypted)}</Encrypt>"
        f"<MsgSignature>{cdata(signature)}</MsgSignature>"
        f"<TimeStamp>{timestamp}</TimeStamp><Nonce>{cdata(nonce)}</Nonce></xml>"
    )
