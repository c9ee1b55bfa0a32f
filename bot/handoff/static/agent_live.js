// The supervisors' live view: every open conversation, the bot's own included, with its last
// intent, confidence, flags (a secret shared, a theft, repeated fallbacks), waiting time and
// ticket (its SLA breach highlighted), refreshed every 3 s. A supervisor opens a conversation to read its latest messages,
// takes a bot conversation over (it becomes their ticket and the bot pauses), or whispers to the
// agent of one with a ticket (an internal note). Logs in like the console (same session); an
// agent sees why they cannot watch. Everything the API returns goes in through textContent:
// users' messages are hostile input. Shared helpers: common.js.
(function () {
  "use strict";

  var pages = AgentPages;
  var $ = pages.$;
  var el = pages.el;
  var clear = pages.clear;
  var REFRESH_MS = 3000;
  var FLAGS = { secret_shared: "泄露密钥", theft: "被盗", fallbacks: "连续未理解" };
  var ROLES = { user: "用户", bot: "机器人", agent: "客服" };
  var SLA = { breached: "已超时", due_soon: "即将超时" };

  var state = {
    conversations: [],
    selected: null,      // the conversation_id whose detail is open
    detail: null,        // its last answer from /live/<id>
    transcriptKey: "",
    whispersOf: null,    // the ticket whose notes are listed
    timer: null,
    generation: 0
  };

  function notify(message, isError) {
    var notice = $("notice");
    notice.textContent = message;
    notice.className = "notice" + (isError ? " error" : "");
  }

  function hideNotice() {
    $("notice").className = "notice hidden";
    $("notice").textContent = "";
  }

  function explain(error, action) {
    switch (error.status) {
      case -1: return "无法连接服务器，请检查网络后重试。";
      case 404: return action + "失败：找不到这个会话。";
      case 503: return action + "失败：审计日志暂时无法写入，请稍后再试。";
      default: return action + "失败（错误 " + error.status + "），请稍后再试。";
    }
  }

  // A 401 sends the user to the login form; a 403 shows who may watch.
  var api = pages.guardedCall(state, function () {
    showLogin("登录已失效，请重新登录。");
  }, showDenied);

  function handled(error) { return error.status === 0 || error.status === 401 || error.status === 403; }

  function showLogin(message) {
    state.generation += 1;
    clearInterval(state.timer);
    $("live-view").classList.add("hidden");
    $("login-view").classList.remove("hidden");
    $("login-error").textContent = message || "";
  }

  function showDenied() {
    clearInterval(state.timer);
    $("live-main").classList.add("hidden");
    $("denied").classList.remove("hidden");
  }

  function showLive() {
    $("login-view").classList.add("hidden");
    $("live-view").classList.remove("hidden");
    $("denied").classList.add("hidden");
    $("who").textContent = pages.session.username() || "";
    load(true);
    clearInterval(state.timer);
    state.timer = setInterval(function () { load(false); }, REFRESH_MS);
  }

  // Formatting

  function waited(seconds) {
    var s = Math.max(0, Math.floor(Number(seconds) || 0));
    if (s < 60) return s + " 秒";
    if (s < 3600) return Math.floor(s / 60) + " 分 " + (s % 60) + " 秒";
    return Math.floor(s / 3600) + " 小时 " + Math.floor((s % 3600) / 60) + " 分";
  }

  function percent(confidence) {
    return typeof confidence === "number" ? Math.round(confidence * 100) + "%" : "—";
  }

  function intentName(intent) { return intent ? pages.name("intents", intent) : "—"; }

  function clock(iso) {
    var when = iso ? new Date(iso) : null;
    if (!when || isNaN(when.getTime())) return "";
    return when.toLocaleTimeString("zh-CN", { hour12: false });
  }

  // Who serves the conversation: the bot, the queue of a team, or an agent (with the ticket's
  // number where there is room).
  function ticketText(ticket, long) {
    if (!ticket) return "机器人接待";
    var number = long ? " · 工单 #" + ticket.ticket_id : "";
    if (ticket.state === "assigned") return "人工接待中 · " + String(ticket.agent || "") + number;
    return "排队中 · " + pages.name("teams", ticket.team) + number;
  }

  // "breached", "due_soon" or "" (on time, or nothing is due) of a ticket's SLA clock.
  function slaState(ticket) {
    var sla = ticket && ticket.sla;
    if (!sla || !sla.kind) return "";
    return sla.breached ? "breached" : sla.due_soon ? "due_soon" : "";
  }

  // Who serves the conversation, with a badge when its ticket's response is late or nearly so.
  function ticketBox(ticket, long) {
    var box = el("span", "ticket", ticketText(ticket, long));
    var sla = slaState(ticket);
    if (sla) {
      var badge = el("span", "sla sla-" + sla, SLA[sla]);
      badge.setAttribute("data-testid", "sla-badge");
      badge.setAttribute("data-sla", sla);
      box.appendChild(badge);
    }
    return box;
  }

  function flagBadges(conversation) {
    var box = el("span", "flags");
    (conversation.flags || []).forEach(function (flag) {
      var text = pages.label(FLAGS, flag);
      if (flag === "fallbacks" && conversation.fallbacks_in_row > 1) {
        text += " ×" + conversation.fallbacks_in_row;
      }
      var badge = el("span", "flag flag-" + String(flag), text);
      badge.setAttribute("data-testid", "flag");
      badge.setAttribute("data-flag", String(flag));
      box.appendChild(badge);
    });
    return box;
  }

  // The list

  function load(first) {
    api("GET", "/live").then(function (data) {
      state.conversations = (data && data.conversations) || [];
      $("live-main").classList.remove("hidden");
      render(data && data.total);
      $("updated").textContent = "更新于 " + new Date().toLocaleTimeString("zh-CN", { hour12: false });
      if (state.selected) loadDetail(state.selected, false);
    }, function (error) {
      if (!handled(error) && first) notify(explain(error, "加载会话"), true);
    });
  }

  function cell(row, content, testId) {
    var td = el("td");
    if (typeof content === "string") td.textContent = content;
    else if (content) td.appendChild(content);
    if (testId) td.setAttribute("data-testid", testId);
    row.appendChild(td);
    return td;
  }

  function render(total) {
    var body = $("rows");
    clear(body);
    var flagged = 0;
    state.conversations.forEach(function (conversation) {
      var id = String(conversation.conversation_id);
      var flags = conversation.flags || [];
      var attention = flags.length > 0 || slaState(conversation.ticket) === "breached";
      if (attention) flagged += 1;
      var row = el("tr", attention ? "flagged" : "");
      row.setAttribute("data-testid", "live-row");
      row.setAttribute("data-conversation-id", id);
      row.setAttribute("data-flags", flags.join(","));
      row.setAttribute("data-ticket-state", conversation.ticket ? String(conversation.ticket.state) : "bot");
      row.setAttribute("data-sla", slaState(conversation.ticket));
      if (state.selected === id) row.classList.add("selected");
      var who = el("div");
      who.appendChild(el("div", "channel", pages.name("channels", conversation.channel)));
      who.appendChild(el("div", "code", id));
      cell(row, who, "live-conversation");
      cell(row, intentName(conversation.last_intent), "live-intent");
      cell(row, percent(conversation.confidence), "live-confidence").className = "nowrap";
      cell(row, flagBadges(conversation), "live-flags");
      cell(row, waited(conversation.waiting_seconds), "live-waiting").className = "nowrap";
      cell(row, ticketBox(conversation.ticket, false), "live-ticket");
      row.addEventListener("click", function () { select(id); });
      body.appendChild(row);
    });
    if (!state.conversations.length) {
      var empty = el("tr");
      var td = el("td", "muted", "现在没有进行中的会话");
      td.colSpan = 6;
      empty.appendChild(td);
      body.appendChild(empty);
    }
    var count = Math.max(Number(total) || 0, state.conversations.length);
    $("live-count").textContent = "共 " + count + " 个会话" + (flagged ? "，" + flagged + " 个需要关注" : "");
  }

  // One conversation

  function select(id) {
    if (state.selected !== id) {
      state.selected = id;
      state.detail = null;
      state.transcriptKey = "";
      state.whispersOf = null;
      clear($("whispers"));
      $("whisper-input").value = "";
      resetTakeover();
      hideNotice();
    }
    $("rows").querySelectorAll("tr").forEach(function (row) {
      row.classList.toggle("selected", row.getAttribute("data-conversation-id") === id);
    });
    loadDetail(id, true);
  }

  function loadDetail(id, first) {
    api("GET", "/live/" + encodeURIComponent(id)).then(function (data) {
      if (state.selected !== id || !data) return;
      state.detail = data;
      renderDetail(data);
    }, function (error) {
      if (state.selected !== id || handled(error)) return;
      if (first || error.status === 404) notify(explain(error, "打开会话"), true);
    });
  }

  function renderDetail(data) {
    var conversation = data.conversation || {};
    var ticket = conversation.ticket;
    $("detail-empty").classList.add("hidden");
    var detail = $("detail");
    detail.classList.remove("hidden");
    detail.setAttribute("data-conversation-id", String(conversation.conversation_id));
    detail.setAttribute("data-ticket-state", ticket ? String(ticket.state) : "bot");
    $("detail-id").textContent = String(conversation.conversation_id);
    $("detail-channel").textContent = pages.name("channels", conversation.channel) +
      " · 最后意图：" + intentName(conversation.last_intent) +
      " · 置信度 " + percent(conversation.confidence) +
      " · 等待 " + waited(conversation.waiting_seconds);
    var flags = $("detail-flags");
    clear(flags);
    flags.appendChild(flagBadges(conversation));
    var ticketLine = $("detail-ticket");
    clear(ticketLine);
    ticketLine.appendChild(ticketBox(ticket, true));
    $("takeover").classList.toggle("hidden", !!ticket);
    var open = $("open-ticket");
    open.classList.toggle("hidden", !ticket);
    if (ticket) open.setAttribute("href", "console#ticket=" + encodeURIComponent(String(ticket.ticket_id)));
    // A whisper is for the agent who has (or will have) the ticket: not for oneself.
    var whispers = !!ticket && ticket.agent !== pages.session.username();
    $("whisper-form").classList.toggle("hidden", !whispers);
    renderTranscript(data.transcript || []);
    if (whispers && state.whispersOf !== ticket.ticket_id) loadWhispers(ticket.ticket_id);
  }

  function renderTranscript(lines) {
    var key = JSON.stringify(lines);
    if (key === state.transcriptKey) return;
    state.transcriptKey = key;
    var list = $("transcript");
    clear(list);
    lines.forEach(function (line) {
      var role = ROLES[line.role] ? line.role : "bot";
      var item = el("li", "line role-" + role);
      item.setAttribute("data-testid", "live-message");
      item.setAttribute("data-role", role);
      var who = role === "agent" && line.agent ? "客服 " + String(line.agent) : ROLES[role];
      item.appendChild(el("div", "line-head", who + (clock(line.at) ? " · " + clock(line.at) : "")));
      item.appendChild(role === "bot" && pages.isEvidenceCard(line.evidence_card)
        ? pages.evidenceCard(line.evidence_card)
        : el("div", "line-text", line.text));
      list.appendChild(item);
    });
    if (!lines.length) list.appendChild(el("li", "muted", "还没有对话记录"));
    list.scrollTop = list.scrollHeight;
  }

  // Taking over: a second click confirms.

  function resetTakeover() {
    var button = $("takeover");
    button.classList.remove("confirm");
    button.textContent = "接管";
    button.disabled = false;
  }

  $("takeover").addEventListener("click", function () {
    var id = state.selected;
    var button = $("takeover");
    if (!id) return;
    if (!button.classList.contains("confirm")) {
      button.classList.add("confirm");
      button.textContent = "确认接管（机器人将暂停）";
      return;
    }
    button.disabled = true;
    api("POST", "/live/" + encodeURIComponent(id) + "/takeover", {}).then(function (data) {
      var ticket = data && data.ticket;
      notify("已接管：工单 #" + (ticket ? ticket.ticket_id : "") +
        " 已分配给您，机器人已暂停。请在工作台回复用户。");
      resetTakeover();
      load(false);
    }, function (error) {
      resetTakeover();
      if (handled(error)) return;
      if (error.status === 409) {
        notify("这个会话已经有工单了，可以在工作台打开它。", true);
        load(false);
      } else {
        notify(explain(error, "接管"), true);
      }
    });
  });

  // Whispers: the supervisor's internal notes to the ticket's agent.

  function whisperItem(note) {
    var item = el("li", "whisper");
    item.setAttribute("data-testid", "whisper");
    item.appendChild(el("div", "line-head", String(note.author) + (clock(note.created_at) ? " · " + clock(note.created_at) : "")));
    item.appendChild(el("div", "line-text", note.text));
    return item;
  }

  function loadWhispers(ticketId) {
    state.whispersOf = ticketId;
    api("GET", "/tickets/" + encodeURIComponent(String(ticketId))).then(function (data) {
      if (state.whispersOf !== ticketId) return;
      var list = $("whispers");
      clear(list);
      ((data && data.notes) || []).forEach(function (note) {
        if (note.kind === "note") list.appendChild(whisperItem(note));
      });
    }, function () {});
  }

  $("whisper-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var conversation = state.detail && state.detail.conversation;
    var ticket = conversation && conversation.ticket;
    var text = $("whisper-input").value.trim();
    if (!ticket || !text) return;
    $("whisper-send").disabled = true;
    api("POST", "/tickets/" + encodeURIComponent(String(ticket.ticket_id)) + "/notes", { text: text }).then(function (data) {
      $("whisper-input").value = "";
      if (data && data.note) $("whispers").appendChild(whisperItem(data.note));
      notify("悄悄话已发给接待的客服（用户看不到）。");
    }, function (error) {
      if (!handled(error)) notify(explain(error, "发送悄悄话"), true);
    }).then(function () {
      $("whisper-send").disabled = false;
    });
  });

  $("refresh").addEventListener("click", function () { load(true); });

  $("logout").addEventListener("click", function () {
    if (pages.session.token()) pages.call("POST", "/logout").then(null, function () {});
    pages.session.forget();
    showLogin("");
  });

  pages.bindLogin(showLive);

  pages.loadNames().then(function () {
    if (pages.session.token()) {
      showLive();
    } else {
      showLogin("");
    }
  });
})();
