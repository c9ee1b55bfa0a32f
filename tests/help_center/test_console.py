"""The help-center editor through the console's API on the served stack: only a supervisor reads and
edits articles; a new article, an edit and a retirement each become a version with its author
and diff; a save from an old revision is refused (409) and a broken text with the reason (400);
the public article page shows a live article escaped and a 404 page otherwise; an agent gets
the articles that fit a ticket's conversation.

The articles these tests write use words no user of the other tests types, and are retired
when the module ends, so the stack's answers stay as they were."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bot.handoff.records import Role
from bot.handoff.store import HandoffStore
from bot.help_center.articles import parse_article
from tests.support.http import CONSOLE_API, LEAD, AgentConsole, RestUser
from tests.support.stack import ServedStack

PREFIX = "kb-console-test"
HOSTILE = "<script>window.pwned=1</script>"
# A server rebuilds its articles at most HELP_CENTER_REFRESH_SECONDS (3 s here) after a save.
FOLLOW_SECONDS = 10


def article_text(
    article_id: str, summary: str = "紫藤花园的门在东边。", title: str = "紫藤花园怎么走"
) -> str:
    return (
        "---\n"
        f"id: {article_id}\n"
        f"title: {title}\n"
        f"summary: {summary}\n"
        "questions: [紫藤花园在哪里]\n"
        "---\n"
        "## 路线\n\n1. 出门左转\n2. 见到**紫藤**就到了\n"
    )


class Written:
    """The ids of the articles a test wrote: retired when the module ends."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def add(self, article_id: str) -> str:
        self.ids.append(article_id)
        return article_id


@pytest.fixture(scope="module")
def lead(served: ServedStack) -> AgentConsole:
    HandoffStore.from_url(served.handoff_url).agents.add(
        LEAD.username, LEAD.name, LEAD.password, role=Role.SUPERVISOR
    )
    return AgentConsole(served.http, LEAD)


@pytest.fixture(scope="module")
def written(lead: AgentConsole) -> Iterator[Written]:
    ids = Written()
    yield ids
    for article_id in ids.ids:
        current = lead.call("GET", f"/kb/articles/{article_id}")
        if current.status == 200 and not current.json()["retired"]:
            lead.post(f"/kb/articles/{article_id}/retire", {"revision": current.json()["revision"]})


def page_status(served: ServedStack, article_id: str, status: int) -> str:
    """The article's public page once it answers ``status`` (within FOLLOW_SECONDS)."""
    deadline = time.monotonic() + FOLLOW_SECONDS
    while True:
        page = served.http.get(f"/help/articles/{article_id}")
        if page.status == status:
            return page.text
        assert time.monotonic() < deadline, f"{article_id}: {page.status}, not {status}"
        time.sleep(0.2)


def listed(lead: AgentConsole) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in lead.get("/kb/articles")["articles"]}


def test_only_a_supervisor_reads_and_edits_articles(
    served: ServedStack, lead: AgentConsole
) -> None:
    agent = AgentConsole(served.http)
    calls: list[tuple[str, str, Any]] = [
        ("GET", "/kb/articles", None),
        ("GET", "/kb/articles/add-custom-token", None),
        ("POST", "/kb/articles", {"text": article_text(f"{PREFIX}-refused")}),
        ("POST", "/kb/articles/add-custom-token", {"text": "x", "revision": 1}),
        ("POST", "/kb/articles/add-custom-token/retire", {"revision": 1}),
        ("POST", "/kb/preview", {"text": article_text(f"{PREFIX}-refused")}),
    ]
    for method, path, body in calls:
        refused = agent.call(method, path, body if body is not None else None)
        assert refused.status == 403, (path, refused)
        assert "supervisor" in refused.json()["error"]
        anonymous = served.http.request(method, f"{CONSOLE_API}{path}", json=body or {})
        assert anonymous.status == 401, (path, anonymous)
    # Nothing was written by the refused calls.
    assert f"{PREFIX}-refused" not in listed(lead)
    assert listed(lead)["add-custom-token"]["retired"] is False
    page = served.http.get("/webhooks/agent/kb")
    assert page.status == 200 and "帮助中心文章" in page.text
    assert 'id="labels"' in page.text
    # The server's CSP allows no inline script or style.
    assert re.findall(r"<script\b[^>]*>", page.text) == [
        '<script src="static/common.js">',
        '<script src="static/agent_kb.js">',
    ]
    assert "<style" not in page.text and " style=" not in page.text
    for name, kind in (("agent_kb.js", "javascript"), ("agent_kb.css", "text/css")):
        assert kind in served.http.get(f"/webhooks/agent/static/{name}").content_type


def test_the_list_has_every_shipped_article_with_its_revision(lead: AgentConsole) -> None:
    articles = listed(lead)
    assert len(articles) >= 80
    token = articles["add-custom-token"]
    assert token["title"] == "如何添加自定义代币"
    assert token["revision"] >= 1 and token["updated_by"] and token["updated_at"]
    detail = lead.get("/kb/articles/add-custom-token")
    assert parse_article(detail["text"]).article_id == "add-custom-token"
    assert detail["revision"] == token["revision"]
    assert detail["history"][0]["revision"] == token["revision"]


def test_a_lead_creates_edits_and_retires_an_article_with_its_history(
    served: ServedStack, lead: AgentConsole, written: Written
) -> None:
    article_id = written.add(f"{PREFIX}-garden")
    status, created = lead.post("/kb/articles", {"text": article_text(article_id)})
    assert status == 200, created
    assert created["id"] == article_id and created["revision"] == 1
    assert created["updated_by"] == LEAD.username and created["retired"] is False
    assert listed(lead)[article_id]["revision"] == 1

    edited = article_text(article_id, summary="紫藤花园的门改到了西边。")
    status, saved = lead.post(f"/kb/articles/{article_id}", {"text": edited, "revision": 1})
    assert status == 200, saved
    assert saved["revision"] == 2 and saved["summary"] == "紫藤花园的门改到了西边。"
    newest, first = saved["history"]
    assert (newest["revision"], newest["author"], newest["retired"]) == (2, LEAD.username, False)
    assert "-summary: 紫藤花园的门在东边。" in newest["diff"]
    assert "+summary: 紫藤花园的门改到了西边。" in newest["diff"]
    assert first["revision"] == 1 and newest["saved_at"] >= first["saved_at"]
    assert "紫藤花园的门改到了西边。" in page_status(served, article_id, 200)

    # Another lead's editor still holds revision 1: told to reload, nothing overwritten.
    stale = article_text(article_id, summary="旧页面里的修改")
    status, conflict = lead.post(f"/kb/articles/{article_id}", {"text": stale, "revision": 1})
    assert status == 409 and "reload" in conflict["error"]
    assert lead.get(f"/kb/articles/{article_id}")["summary"] == "紫藤花园的门改到了西边。"

    status, retired = lead.post(f"/kb/articles/{article_id}/retire", {"revision": 2})
    assert status == 200 and retired["retired"] is True and retired["revision"] == 3
    assert retired["history"][0]["retired"] is True
    assert listed(lead)[article_id]["retired"] is True
    assert "找不到这篇文章" in page_status(served, article_id, 404)
    assert lead.post(f"/kb/articles/{article_id}/retire", {"revision": 3})[0] == 409
    # Saving it again brings it back.
    status, back = lead.post(f"/kb/articles/{article_id}", {"text": edited, "revision": 3})
    assert status == 200 and back["retired"] is False and back["revision"] == 4


def test_a_new_article_with_an_existing_id_is_a_conflict(lead: AgentConsole) -> None:
    text = lead.get("/kb/articles/add-custom-token")["text"]
    status, answer = lead.post("/kb/articles", {"text": text})
    assert status == 409 and "exists" in answer["error"]


@pytest.mark.parametrize(
    ("path", "body", "reason"),
    [
        ("/kb/articles", {}, "text"),
        ("/kb/articles", {"text": 42}, "text"),
        ("/kb/articles", {"text": "只有正文"}, "front matter"),
        ("/kb/articles", {"text": "---\nid: Bad Id\ntitle: t\nsummary: s\n---\nbody"}, "id"),
        ("/kb/articles", {"text": "---\nid: kb-console-test-x\ntitle: t\n---\nbody"}, "summary"),
        ("/kb/articles", {"text": "---\nid: [unclosed\n---\nbody"}, "YAML"),
        ("/kb/articles/add-custom-token", {"text": "x"}, "revision"),
        ("/kb/articles/add-custom-token", {"text": "x", "revision": "1"}, "revision"),
        ("/kb/articles/add-custom-token", {"text": "x", "revision": True}, "revision"),
        ("/kb/articles/add-custom-token", {"text": "x", "revision": 0}, "revision"),
        ("/kb/articles/add-custom-token", {"revision": 1}, "text"),
        ("/kb/articles/add-custom-token/retire", {}, "revision"),
        ("/kb/articles/add-custom-token/retire", {"revision": 2**70}, "revision"),
        ("/kb/preview", {}, "text"),
        ("/kb/preview", {"text": "---\nid: a\ntitle: t\nsummary: s\n---\n"}, "body"),
    ],
)
def test_bad_input_is_refused_with_the_reason(
    lead: AgentConsole, path: str, body: dict[str, Any], reason: str
) -> None:
    status, answer = lead.post(path, body)
    assert status == 400, answer
    assert reason in answer["error"]


def test_bodies_that_are_not_json_objects_are_refused(lead: AgentConsole) -> None:
    headers = {"Authorization": f"Bearer {lead.token}"}
    for raw in (b"{", b"[1, 2]", b'"text"', b"\xff\xfe"):
        for path in ("/kb/articles", "/kb/articles/add-custom-token", "/kb/preview"):
            answer = lead.http.post(f"{CONSOLE_API}{path}", raw, headers=headers)
            assert answer.status == 400, (path, raw, answer)


def test_an_edit_must_keep_the_articles_id(lead: AgentConsole) -> None:
    current = lead.get("/kb/articles/add-custom-token")
    moved = current["text"].replace("id: add-custom-token", "id: add-custom-token-2", 1)
    body = {"text": moved, "revision": current["revision"]}
    status, answer = lead.post("/kb/articles/add-custom-token", body)
    assert status == 400 and "add-custom-token-2" in answer["error"]
    assert lead.get("/kb/articles/add-custom-token")["revision"] == current["revision"]


def test_unknown_articles_are_not_found(lead: AgentConsole) -> None:
    for path in (
        f"/kb/articles/{PREFIX}-none",
        "/kb/articles/NOT_AN_ID",
        f"/kb/articles/{'a' * 65}",
    ):
        assert lead.call("GET", path).status == 404, path
    text = article_text(f"{PREFIX}-none")
    status, _ = lead.post(f"/kb/articles/{PREFIX}-none", {"text": text, "revision": 1})
    assert status == 404
    assert lead.post(f"/kb/articles/{PREFIX}-none/retire", {"revision": 1})[0] == 404
    assert f"{PREFIX}-none" not in listed(lead)


def test_the_preview_parses_and_renders_without_saving(lead: AgentConsole) -> None:
    article_id = f"{PREFIX}-preview"
    status, shown = lead.post("/kb/preview", {"text": article_text(article_id)})
    assert status == 200, shown
    assert shown["article"]["title"] == "紫藤花园怎么走"
    assert shown["article"]["summary"] == "紫藤花园的门在东边。"
    assert shown["article"]["questions"] == ["紫藤花园在哪里"]
    assert "<h2>路线</h2>" in shown["html"] and "<strong>紫藤</strong>" in shown["html"]
    assert article_id not in listed(lead)


def test_html_in_an_article_is_escaped_in_the_preview_and_on_its_page(
    served: ServedStack, lead: AgentConsole, written: Written
) -> None:
    article_id = written.add(f"{PREFIX}-hostile")
    text = (
        article_text(article_id, summary=f"摘要{HOSTILE}", title=f"标题{HOSTILE}")
        + f"\n{HOSTILE}\n\n[客服](javascript:alert(1))\n\n<img src=x onerror=alert(1)>\n"
    )
    status, shown = lead.post("/kb/preview", {"text": text})
    assert status == 200
    # Title and summary are data the page sets as text; the body is HTML with nothing live.
    assert shown["article"]["title"] == f"标题{HOSTILE}"
    assert "<script" not in shown["html"] and "&lt;script&gt;" in shown["html"]
    assert "<a " not in shown["html"] and "<img" not in shown["html"]
    assert lead.post("/kb/articles", {"text": text})[0] == 200

    page_text = page_status(served, article_id, 200)
    assert "<script" not in page_text
    # In the page's <title>, its heading, its summary and its body.
    assert page_text.count("&lt;script&gt;window.pwned=1&lt;/script&gt;") == 4
    assert "javascript:alert(1)" in page_text and "href=" not in page_text.split("</head>")[1]
    assert "<img" not in page_text


def test_the_public_page_shows_a_live_article_for_phones(served: ServedStack) -> None:
    page = served.http.get("/help/articles/add-custom-token")
    assert page.status == 200 and page.content_type.startswith("text/html")
    assert "如何添加自定义代币" in page.text
    assert "在资产页顶部的钱包列表里先选中代币所在的链" in page.text
    assert "<h2>操作步骤</h2>" in page.text
    assert 'name="viewport"' in page.text
    # The server's CSP allows no inline script or style: the style is a file of its own.
    assert "<script" not in page.text and "<style" not in page.text and " style=" not in page.text
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', page.text)
    assert stylesheet is not None
    style = served.http.get(stylesheet.group(1))
    assert style.status == 200 and "text/css" in style.content_type


@pytest.mark.parametrize("article_id", ["no-such-article", "NOT-AN-ID", "a" * 200])
def test_an_unknown_article_gets_a_page_in_chinese(served: ServedStack, article_id: str) -> None:
    page = served.http.get(f"/help/articles/{article_id}")
    assert page.status == 404
    assert "找不到这篇文章" in page.text and "text/html" in page.content_type


def test_an_agent_gets_the_articles_for_a_tickets_conversation(
    served: ServedStack, lead: AgentConsole
) -> None:
    user = RestUser(served.http, "kb-suggestions-1")
    user.say("资产列表里找不到我买的币，想用合约地址导入代币")
    user.say("转人工")
    agent = AgentConsole(served.http)
    ticket = agent.ticket_of(user.sender)
    articles = agent.get(f"/tickets/{ticket['ticket_id']}/articles")["articles"]
    assert len(articles) == 3
    assert articles[0]["id"] == "add-custom-token"
    assert articles[0]["title"] == "如何添加自定义代币"
    assert articles[0]["summary"].startswith("在资产页顶部的钱包列表里")
    assert all(set(article) == {"id", "title", "summary"} for article in articles)
    # A lead is an agent too; no session, no suggestions; no ticket, none either.
    assert lead.call("GET", f"/tickets/{ticket['ticket_id']}/articles").status == 200
    path = f"{CONSOLE_API}/tickets/{ticket['ticket_id']}/articles"
    assert served.http.get(path).status == 401
    assert agent.call("GET", "/tickets/999999999/articles").status == 404
    assert agent.call("GET", f"/tickets/{2**64}/articles").status == 404
