// The agent console: login, the queue (paged), a ticket's summary and transcript, claim, reply
// and close, the help center's suggested articles (插入 puts one's summary in the reply box,
// unsent), against the JSON API beside the page. Shared helpers, the session and the names of
// reasons and channels: common.js.
(function () {
  "use strict";

  var pages = AgentPages;
  var $ = pages.$;
  var el = pages.el;
  var clear = pages.clear;
  var label = pages.label;
  var ApiError = pages.ApiError;
  var POLL_MS = 2000;
  var QUEUE_PAGE = 50;    // tickets per page of /api/queue (the server allows up to 200)

  var URGENCIES = { urgent: "紧急", high: "较急", normal: "普通" };
  var STATES = { queued: "排队中", assigned: "已接入", closed: "已结束" };
  var ENTITY_TYPES = {
    tx_hash: "交易哈希",
    address: "地址",
    currency: "币种",
    chain: "链",
    amount: "金额",
    ticket_number: "工单号",
    rating: "评分"
  };
  var ROLES = { user: "用户", bot: "机器人", agent: "客服" };

  var state = {
    selected: null,        // ticket id
    ticket: null,          // last ticket JSON of the selected ticket
    transcriptKey: "",
    queueTimer: null,
    detailTimer: null,
    queueBusy: false,
    queueOffset: 0,        // first ticket of the queue page shown
    queueTotal: 0,
    detailSeq: 0,          // newest detail request sent
    detailShown: 0,        // newest detail answer rendered
    generation: 0,         // bumps on login/logout so stale answers are ignored
    suggestionsKey: "",    // the ticket and transcript the suggestions were asked for
    suggestionsSeq: 0
  };

  function duration(seconds) {
    seconds = Math.max(0, Math.floor(Number(seconds) || 0));
    if (seconds < 60) return seconds + " 秒";
    var minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + " 分 " + (seconds % 60) + " 秒";
    var hours = Math.floor(minutes / 60);
    return hours + " 小时 " + (minutes % 60) + " 分";
  }

  function clock(iso) {
    var date = new Date(iso);
    if (isNaN(date.getTime())) return "";
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return two(date.getHours()) + ":" + two(date.getMinutes()) + ":" + two(date.getSeconds());
  }

  // Notices

  function showNotice(node, text, kind) {
    node.textContent = text;
    node.className = "notice" + (kind === "info" ? " info" : "");
    if (node.hideTimer) clearTimeout(node.hideTimer);
    if (kind === "info") {
      node.hideTimer = setTimeout(function () { node.classList.add("hidden"); }, 4000);
    }
  }

  function hideNotice(node) {
    node.classList.add("hidden");
    node.textContent = "";
  }

  function consoleError(text) { showNotice($("console-notice"), text, "error"); }
  function consoleInfo(text) { showNotice($("console-notice"), text, "info"); }

  // API

  // An API call whose answer is dropped (status 0) when the agent logged in or out meanwhile.
  function api(method, path, body) {
    var generation = state.generation;
    return pages.call(method, path, body).then(function (data) {
      if (generation !== state.generation) throw new ApiError(0, "stale");
      return data;
    }, function (error) {
      if (error.status === -1) throw error;
      if (generation !== state.generation) throw new ApiError(0, "stale");
      if (error.status === 401 && path !== "/login") {
        sessionExpired();
        throw new ApiError(401, "login required");
      }
      throw error;
    });
  }

  function waitText(seconds) {
    return seconds > 60 ? Math.ceil(seconds / 60) + " 分钟" : Math.max(1, seconds) + " 秒";
  }

  function politeError(error, action) {
    if (!(error instanceof ApiError)) return action + "失败，请稍后再试。";
    switch (error.status) {
      case -1: return "无法连接服务器，请检查网络后重试。";
      case 400: return action + "失败：内容不符合要求（回复需为 1–2000 字）。";
      case 404: return "该会话不存在或已被删除。";
      case 409: return action + "失败：会话状态已变化（可能已被其他客服接入或已结束），已为您刷新。";
      case 429: return action + "失败次数过多，请 " + waitText(error.retryAfter) + "后再试。";
      default: return action + "失败（错误 " + error.status + "），请稍后再试。";
    }
  }

  // Login

  function showLogin(message) {
    stopPolling();
    $("console-view").classList.add("hidden");
    $("login-view").classList.remove("hidden");
    if (message) showNotice($("login-error"), message, "error");
    $("login-password").value = "";
    $("login-username").focus();
  }

  function showConsole() {
    hideNotice($("login-error"));
    $("login-view").classList.add("hidden");
    $("console-view").classList.remove("hidden");
    $("agent-name").textContent = pages.session.username() || "";
    $("review-link").classList.toggle("hidden", pages.session.role() !== "lead");
    $("kb-link").classList.toggle("hidden", pages.session.role() !== "lead");
    hideNotice($("console-notice"));
    startPolling();
  }

  function forget() {
    state.generation += 1;
    state.queueOffset = 0;
    pages.session.forget();
    selectTicket(null);
  }

  function sessionExpired() {
    forget();
    showLogin("登录已失效，请重新登录。");
  }

  $("login-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var username = $("login-username").value.trim();
    var password = $("login-password").value;
    if (!username || !password) {
      showNotice($("login-error"), "请输入用户名和密码。", "error");
      return;
    }
    $("login-submit").disabled = true;
    hideNotice($("login-error"));
    api("POST", "/login", { username: username, password: password }).then(function (data) {
      state.generation += 1;
      pages.session.save(data.token, (data.agent && data.agent.username) || username);
      pages.session.saveRole(data.agent && data.agent.role);
      $("login-password").value = "";
      showConsole();
    }, function (error) {
      var text = error.status === 401 || error.status === 400
        ? "用户名或密码错误，请重新输入。"
        : politeError(error, "登录");
      showNotice($("login-error"), text, "error");
    }).then(function () {
      $("login-submit").disabled = false;
    });
  });

  $("logout-button").addEventListener("click", function () {
    var done = function () { forget(); showLogin(); };
    api("POST", "/logout").then(done, done);
  });

  // Polling

  $("queue-prev").addEventListener("click", function () { turnQueuePage(-1); });
  $("queue-next").addEventListener("click", function () { turnQueuePage(1); });

  function startPolling() {
    stopPolling();
    refreshQueue();
    state.queueTimer = setInterval(refreshQueue, POLL_MS);
    state.detailTimer = setInterval(function () { refreshDetail(); }, POLL_MS);
  }

  function stopPolling() {
    clearInterval(state.queueTimer);
    clearInterval(state.detailTimer);
    state.queueTimer = state.detailTimer = null;
  }

  // Queue

  function refreshQueue() {
    if (state.queueBusy || !pages.session.token()) return;
    state.queueBusy = true;
    var offset = state.queueOffset;
    api("GET", "/queue?limit=" + QUEUE_PAGE + "&offset=" + offset).then(function (data) {
      var total = Number(data && data.total) || 0;
      state.queueTotal = total;
      if (offset > 0 && offset >= total) {
        // The page emptied (tickets were taken): go to the last page that has tickets.
        state.queueOffset = Math.max(0, Math.ceil(total / QUEUE_PAGE) - 1) * QUEUE_PAGE;
        return;
      }
      renderQueue((data && data.tickets) || [], total, offset);
      $("queue-updated").textContent = "更新于 " + clock(new Date().toISOString());
    }, function (error) {
      if (error.status !== 401 && error.status !== 0) consoleError(politeError(error, "刷新队列"));
    }).then(function () {
      state.queueBusy = false;
      // Another page was asked for meanwhile: show it now rather than at the next poll.
      if (pages.session.token() && state.queueOffset !== offset) refreshQueue();
    });
  }

  function renderPager(shown, total, offset) {
    $("queue-pager").classList.toggle("hidden", total <= QUEUE_PAGE);
    $("queue-range").textContent = shown
      ? "第 " + (offset + 1) + "–" + (offset + shown) + " 个，共 " + total + " 个"
      : "共 " + total + " 个";
    $("queue-prev").disabled = offset === 0;
    $("queue-next").disabled = offset + shown >= total;
  }

  function turnQueuePage(step) {
    var offset = state.queueOffset + step * QUEUE_PAGE;
    if (offset < 0 || offset >= state.queueTotal) return;
    state.queueOffset = offset;
    refreshQueue();
  }

  function renderQueue(tickets, total, offset) {
    var list = $("queue");
    clear(list);
    $("queue-count").textContent = String(total);
    renderPager(tickets.length, total, offset);
    if (!tickets.length) {
      list.appendChild(el("li", "empty", "暂无排队的会话"));
      return;
    }
    tickets.forEach(function (ticket) {
      var item = el("li", "ticket urgency-" + ticket.urgency);
      item.setAttribute("data-testid", "queue-item");
      item.setAttribute("data-ticket-id", String(ticket.ticket_id));
      item.setAttribute("data-urgency", String(ticket.urgency));
      item.setAttribute("data-state", String(ticket.state));
      item.tabIndex = 0;
      if (ticket.ticket_id === state.selected) item.classList.add("selected");

      var first = el("div", "row");
      var urgency = el("span", "badge urgency-" + ticket.urgency, label(URGENCIES, ticket.urgency));
      urgency.setAttribute("data-testid", "queue-item-urgency");
      first.appendChild(urgency);
      var reason = el("span", "reason", pages.name("reasons", ticket.reason));
      reason.setAttribute("data-testid", "queue-item-reason");
      first.appendChild(reason);
      var wait = el("span", "wait", "等待 " + duration(ticket.waiting_seconds));
      wait.setAttribute("data-testid", "queue-item-waiting");
      first.appendChild(wait);
      item.appendChild(first);

      var second = el("div", "row");
      second.appendChild(el("span", "badge state-" + ticket.state, label(STATES, ticket.state)));
      if (ticket.state === "assigned" && ticket.agent === pages.session.username()) {
        second.appendChild(el("span", "badge mine", "我的"));
      } else if (ticket.agent) {
        second.appendChild(el("span", "meta", "客服 " + ticket.agent));
      }
      var channel = el("span", "meta", pages.name("channels", ticket.channel));
      channel.setAttribute("data-testid", "queue-item-channel");
      second.appendChild(channel);
      var account = el("span", "meta", "账户 " + ((ticket.summary && ticket.summary.account) || "-"));
      account.setAttribute("data-testid", "queue-item-account");
      second.appendChild(account);
      item.appendChild(second);

      var messages = (ticket.summary && ticket.summary.last_messages) || [];
      if (messages.length) {
        var preview = el("div", "preview", "“" + messages[messages.length - 1] + "”");
        preview.setAttribute("data-testid", "queue-item-preview");
        item.appendChild(preview);
      }

      item.addEventListener("click", function () { selectTicket(ticket.ticket_id); });
      item.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          selectTicket(ticket.ticket_id);
        }
      });
      list.appendChild(item);
    });
  }

  function markSelected() {
    var items = $("queue").querySelectorAll("[data-ticket-id]");
    for (var i = 0; i < items.length; i++) {
      var id = Number(items[i].getAttribute("data-ticket-id"));
      items[i].classList.toggle("selected", id === state.selected);
    }
  }

  // Ticket detail

  function selectTicket(ticketId) {
    if (ticketId !== state.selected) {
      state.selected = ticketId;
      state.ticket = null;
      state.transcriptKey = "";
      state.suggestionsKey = "";
      clear($("transcript"));
      clear($("suggestions"));
      $("reply-input").value = "";
      $("close-note").value = "";
    }
    markSelected();
    $("detail-empty").classList.toggle("hidden", ticketId !== null);
    $("detail").classList.toggle("hidden", ticketId === null);
    if (ticketId !== null) refreshDetail(true);
  }

  function refreshDetail(force) {
    var ticketId = state.selected;
    if (ticketId === null || !pages.session.token()) return;
    // A poll waits for the previous answer; an action's refresh goes at once.
    if (!force && state.detailSeq !== state.detailShown) return;
    var seq = ++state.detailSeq;
    api("GET", "/tickets/" + encodeURIComponent(ticketId)).then(function (data) {
      // Answers can overtake each other: never show an older one over a newer one.
      if (ticketId !== state.selected || seq < state.detailShown) return;
      renderTicket(data.ticket);
      renderTranscript(data.transcript || []);
      refreshSuggestions(ticketId, data.transcript || []);
    }, function (error) {
      if (ticketId !== state.selected || error.status === 401 || error.status === 0) return;
      consoleError(politeError(error, "加载会话"));
      if (error.status === 404) selectTicket(null);
    }).then(function () {
      state.detailShown = Math.max(state.detailShown, seq);
    });
  }

  function mine(ticket) {
    return ticket.state === "assigned" && ticket.agent === pages.session.username();
  }

  function renderTicket(ticket) {
    state.ticket = ticket;
    $("detail").setAttribute("data-ticket-id", String(ticket.ticket_id));
    $("detail").setAttribute("data-state", String(ticket.state));
    $("detail-title").textContent = "会话 #" + ticket.ticket_id;
    var urgency = $("detail-urgency");
    urgency.textContent = label(URGENCIES, ticket.urgency);
    urgency.className = "badge urgency-" + ticket.urgency;
    var status = $("detail-state");
    status.textContent = label(STATES, ticket.state);
    status.className = "badge state-" + ticket.state;
    $("detail-conversation").textContent = "会话 ID：" + ticket.conversation_id;

    $("summary-reason").textContent = pages.name("reasons", ticket.reason);
    $("summary-channel").textContent = pages.name("channels", ticket.channel);
    var summary = ticket.summary || {};
    $("summary-account").textContent = summary.account || "-";
    $("summary-waiting").textContent = ticket.state === "queued"
      ? duration(ticket.waiting_seconds) : "—";
    $("summary-agent").textContent = ticket.agent || "（未接入）";
    $("summary-rating").textContent = ticket.rating ? ticket.rating + " 分" : "—";

    var intents = $("summary-intents");
    clear(intents);
    (summary.intents || []).forEach(function (intent) {
      var chip = el("span", "chip code", intent);
      chip.setAttribute("data-testid", "summary-intent");
      intents.appendChild(chip);
    });
    if (!intents.firstChild) intents.appendChild(el("span", "muted", "无"));

    var entities = $("summary-entities");
    clear(entities);
    var types = Object.keys(summary.entities || {});
    types.forEach(function (type) {
      var row = el("div", "entity-row");
      row.setAttribute("data-entity-type", type);
      row.appendChild(el("div", "type", label(ENTITY_TYPES, type)));
      var chips = el("div", "chips");
      (summary.entities[type] || []).forEach(function (value) {
        var chip = el("span", "chip code", value);
        chip.setAttribute("data-testid", "summary-entity");
        chips.appendChild(chip);
      });
      row.appendChild(chips);
      entities.appendChild(row);
    });
    if (!types.length) entities.appendChild(el("span", "muted", "无"));

    var messages = $("summary-last-messages");
    clear(messages);
    (summary.last_messages || []).forEach(function (text) {
      var item = el("li", "", text);
      item.setAttribute("data-testid", "summary-message");
      messages.appendChild(item);
    });
    if (!messages.firstChild) messages.appendChild(el("li", "muted", "无"));

    var claim = $("claim-button");
    claim.classList.toggle("hidden", ticket.state !== "queued");

    var own = mine(ticket);
    $("reply-input").disabled = !own;
    $("reply-send").disabled = !own;
    $("reply-hint").textContent = own
      ? "您正在接待该用户，回复会直接发给用户。"
      : ticket.state === "queued" ? "请先点击“接入”再回复。"
      : ticket.state === "closed" ? "会话已结束。" : "该会话由其他客服接待。";

    $("close-box").classList.toggle("hidden", !own);
    setInsertable(own);
    var closed = ticket.state === "closed";
    $("close-info").classList.toggle("hidden", !closed);
    $("close-note-text").textContent = closed ? (ticket.close_note || "（无备注）") : "";
  }

  function renderTranscript(lines) {
    var key = JSON.stringify(lines);
    if (key === state.transcriptKey) return;
    state.transcriptKey = key;
    var box = $("transcript");
    var atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    clear(box);
    if (!lines.length) box.appendChild(el("div", "empty", "暂无消息"));
    lines.forEach(function (line) {
      var role = line.role === "user" || line.role === "agent" ? line.role : "bot";
      var item = el("div", "msg role-" + role);
      item.setAttribute("data-testid", "message");
      item.setAttribute("data-role", role);
      var who = label(ROLES, role) + (role === "agent" && line.agent ? " " + line.agent : "");
      var time = clock(line.at);
      item.appendChild(el("div", "who", time ? who + " · " + time : who));
      var bubble = el("div", "bubble");
      bubble.setAttribute("data-testid", "message-text");
      bubble.appendChild(document.createTextNode(String(line.text)));
      item.appendChild(bubble);
      box.appendChild(item);
    });
    if (atBottom || box.getAttribute("data-scrolled") !== "1") {
      box.scrollTop = box.scrollHeight;
      box.setAttribute("data-scrolled", "1");
    }
  }

  // Suggested articles: the help center's best three for what the user wrote.

  // Asks again only when the ticket or its transcript changed.
  function refreshSuggestions(ticketId, lines) {
    var key = ticketId + ":" + lines.length;
    if (key === state.suggestionsKey) return;
    state.suggestionsKey = key;
    var seq = ++state.suggestionsSeq;
    api("GET", "/tickets/" + encodeURIComponent(ticketId) + "/articles").then(function (data) {
      if (seq !== state.suggestionsSeq || ticketId !== state.selected) return;
      renderSuggestions((data && data.articles) || []);
    }, function (error) {
      if (seq === state.suggestionsSeq) state.suggestionsKey = "";  // try again at the next poll
      if (error.status !== 401 && error.status !== 0 && error.status !== -1) {
        consoleError(politeError(error, "加载推荐文章"));
      }
    });
  }

  function renderSuggestions(articles) {
    var list = $("suggestions");
    clear(list);
    articles.forEach(function (article) {
      var item = el("li", "suggestion");
      item.setAttribute("data-testid", "suggestion");
      item.setAttribute("data-article-id", String(article.id));
      item.appendChild(el("div", "suggestion-title", article.title));
      var summary = el("div", "suggestion-summary", article.summary);
      summary.setAttribute("data-testid", "suggestion-summary");
      item.appendChild(summary);
      var insert = el("button", "secondary", "插入");
      insert.type = "button";
      insert.setAttribute("data-testid", "suggestion-insert");
      insert.title = "把摘要加到回复框（不会自动发送）";
      insert.addEventListener("click", function () { insertSummary(article.summary); });
      item.appendChild(insert);
      list.appendChild(item);
    });
    if (!list.firstChild) list.appendChild(el("li", "muted", "无"));
    setInsertable(!!(state.ticket && mine(state.ticket)));
  }

  function setInsertable(own) {
    var buttons = $("suggestions").querySelectorAll("[data-testid=suggestion-insert]");
    for (var i = 0; i < buttons.length; i++) buttons[i].disabled = !own;
  }

  // Appends the summary to the reply box for the agent to edit and send; never sends.
  function insertSummary(summary) {
    var input = $("reply-input");
    if (input.disabled) return;
    var before = input.value.replace(/\s+$/, "");
    var room = input.maxLength > 0 ? input.maxLength : 2000;
    input.value = (before ? before + "\n" : "") + String(summary);
    if (input.value.length > room) input.value = input.value.slice(0, room);
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  }

  // Actions

  $("claim-button").addEventListener("click", function () {
    var ticketId = state.selected;
    if (ticketId === null) return;
    var button = $("claim-button");
    button.disabled = true;
    api("POST", "/tickets/" + ticketId + "/claim").then(function (data) {
      consoleInfo("已接入会话 #" + ticketId + "。");
      if (ticketId === state.selected) renderTicket(data.ticket);
      refreshQueue();
      refreshDetail(true);
      $("reply-input").focus();
    }, function (error) {
      if (error.status === 401 || error.status === 0) return;
      consoleError(politeError(error, "接入"));
      refreshDetail(true);
    }).then(function () {
      button.disabled = false;
    });
  });

  function sendReply() {
    var ticketId = state.selected;
    var input = $("reply-input");
    var text = input.value.trim();
    if (ticketId === null || !state.ticket || !mine(state.ticket)) return;
    if (!text) {
      consoleError("请输入回复内容。");
      return;
    }
    if (text.length > 2000) {
      consoleError("回复太长了，请控制在 2000 字以内。");
      return;
    }
    $("reply-send").disabled = true;
    api("POST", "/tickets/" + ticketId + "/reply", { text: text }).then(function () {
      if (input.value.trim() === text) input.value = "";
      refreshDetail(true);
    }, function (error) {
      if (error.status === 401 || error.status === 0) return;
      consoleError(politeError(error, "发送"));
      refreshDetail(true);
    }).then(function () {
      $("reply-send").disabled = !(state.ticket && mine(state.ticket));
    });
  }

  $("reply-form").addEventListener("submit", function (event) {
    event.preventDefault();
    sendReply();
  });

  $("reply-input").addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      sendReply();
    }
  });

  $("close-button").addEventListener("click", function () {
    var ticketId = state.selected;
    if (ticketId === null) return;
    var button = $("close-button");
    button.disabled = true;
    var note = $("close-note").value.trim();
    api("POST", "/tickets/" + ticketId + "/close", { note: note }).then(function (data) {
      consoleInfo("会话 #" + ticketId + " 已结束，已邀请用户评分。");
      $("close-note").value = "";
      if (ticketId === state.selected) renderTicket(data.ticket);
      refreshQueue();
      refreshDetail(true);
    }, function (error) {
      if (error.status === 401 || error.status === 0) return;
      consoleError(politeError(error, "结束会话"));
      refreshDetail(true);
    }).then(function () {
      button.disabled = false;
    });
  });

  // "The bot got this wrong": the conversation goes to the leads' review inbox.
  $("flag-button").addEventListener("click", function () {
    var ticketId = state.selected;
    if (ticketId === null) return;
    var button = $("flag-button");
    button.disabled = true;
    api("POST", "/tickets/" + ticketId + "/flag", {}).then(function () {
      consoleInfo("已标记会话 #" + ticketId + "：机器人的回答将交给主管复核。");
    }, function (error) {
      if (error.status === 401 || error.status === 0) return;
      consoleError(politeError(error, "标记"));
    }).then(function () {
      button.disabled = false;
    });
  });

  // Start

  pages.loadNames().then(function () {
    if (pages.session.token()) {
      showConsole();
    } else {
      showLogin();
    }
  });
})();
