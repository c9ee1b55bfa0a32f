// The agent console: login, the agent's presence (with a heartbeat), role, teams and load, the
// queue (paged) and the agent's own tickets, a ticket's summary and transcript, claim, reply,
// close, transfer, internal notes, tags, typing signals, canned replies ("/" in the reply box,
// and their manager), search, and the help center's suggested articles (插入 puts one's summary
// in the reply box, unsent), against the JSON API beside the page. Everything the API returns
// goes in through textContent: users, agents and notes are all untrusted text. Shared helpers,
// the session and the names of reasons, teams, roles and channels: common.js.
(function () {
  "use strict";

  var pages = AgentPages;
  var $ = pages.$;
  var el = pages.el;
  var clear = pages.clear;
  var label = pages.label;
  var ApiError = pages.ApiError;
  var POLL_MS = 2000;
  var HEARTBEAT_MS = 60000;  // the server counts an agent away after 5 minutes without one
  var ME_MS = 10000;         // role, teams and load are read again this often
  var TYPING_MS = 3000;      // "typing" is sent again at most this often while the agent types
  var CANNED_DELAY_MS = 150;
  var QUEUE_PAGE = 50;    // tickets per page of /api/queue (the server allows up to 200)
  var TEAMS = ["general", "security"];
  var PRESENCES = ["online", "away", "offline"];

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
  var VARIABLES = {
    user_display: "用户称呼",
    ticket_number: "工单号",
    masked_account: "账户",
    tx_hash: "交易哈希",
    explorer_link: "区块浏览器链接"
  };
  var CANNED_CONFLICT = "这条快捷回复已被他人修改，请刷新后再编辑。";

  var state = {
    selected: null,        // ticket id
    ticket: null,          // last ticket JSON of the selected ticket
    transcriptKey: "",
    notesKey: "",
    tagsKey: "",
    queueTimer: null,
    detailTimer: null,
    heartbeatTimer: null,
    meTimer: null,
    queueBusy: false,
    queueOffset: 0,        // first ticket of the queue page shown
    queueTotal: 0,
    queueTickets: [],      // the queue page shown
    mineBusy: false,
    mineFound: [],         // the agent's assigned tickets, as the search found them
    mineLoaded: false,     // the search for them answered since the login
    mineKnown: null,       // ids of the agent's tickets already announced (null: none read yet)
    me: null,              // the agent's profile (GET /api/me)
    presenceBusy: false,
    detailSeq: 0,          // newest detail request sent
    detailShown: 0,        // newest detail answer rendered
    generation: 0,         // bumps on login/logout so stale answers are ignored
    suggestionsKey: "",    // the ticket and transcript the suggestions were asked for
    suggestionsSeq: 0,
    typingTicket: null,    // the ticket "typing" was last sent for (null: not typing)
    typingSentAt: 0,
    canned: { open: false, options: [], index: 0, seq: 0, timer: null, query: null },
    cannedReplies: [],     // the manager's list
    cannedEditing: null,   // the reply the manager's form edits ({reply_id, revision})
    agents: []             // the desk's agents, for transfers
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

  function when(iso) {
    var date = new Date(iso);
    return isNaN(date.getTime()) ? "" : date.toLocaleString("zh-CN", { hour12: false });
  }

  function teamName(team) { return pages.name("teams", team); }

  function withTestId(node, testId) {
    node.setAttribute("data-testid", testId);
    return node;
  }

  function button(text, className, testId) {
    var node = el("button", className, text);
    node.type = "button";
    if (testId) node.setAttribute("data-testid", testId);
    return node;
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

  // Errors the caller need not report: the session ended (the login form says so) or the
  // answer belongs to an earlier login.
  function quiet(error) { return error.status === 401 || error.status === 0; }

  function waitText(seconds) {
    return seconds > 60 ? Math.ceil(seconds / 60) + " 分钟" : Math.max(1, seconds) + " 秒";
  }

  function politeError(error, action) {
    if (!(error instanceof ApiError)) return action + "失败，请稍后再试。";
    switch (error.status) {
      case -1: return "无法连接服务器，请检查网络后重试。";
      case 400: return action + "失败：内容不符合要求（回复需为 1–2000 字）。";
      case 403: return action + "失败：您的角色没有这项权限。";
      case 404: return "该会话不存在或已被删除。";
      case 409: return action + "失败：会话状态已变化（可能已被其他客服接入或已结束），已为您刷新。";
      case 429: return action + "失败次数过多，请 " + waitText(error.retryAfter) + "后再试。";
      default: return action + "失败（错误 " + error.status + "），请稍后再试。";
    }
  }

  // Login

  function showLogin(message) {
    stopPolling();
    closeDialogs();
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
    showRoleLinks();
    hideNotice($("console-notice"));
    startPolling();
  }

  // The leads' pages for supervisors and admins, agent management for admins.
  function showRoleLinks() {
    var lead = pages.session.supervises();
    $("dashboard-link").classList.toggle("hidden", !lead);
    $("review-link").classList.toggle("hidden", !lead);
    $("kb-link").classList.toggle("hidden", !lead);
    $("admin-link").classList.toggle("hidden", !pages.session.isAdmin());
  }

  function forget() {
    state.generation += 1;
    state.queueOffset = 0;
    state.queueTickets = [];
    state.mineFound = [];
    state.mineLoaded = false;
    state.mineKnown = null;
    state.me = null;
    state.typingTicket = null;
    pages.session.forget();
    selectTicket(null);
    clear($("my-tickets"));
  }

  function sessionExpired() {
    forget();
    showLogin("登录已失效（会话已结束或账号已被停用），请重新登录。");
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
      if (data.agent) renderMe(data.agent);
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
    stopTyping();
    var done = function () { forget(); showLogin(); };
    api("POST", "/logout").then(done, done);
  });

  // Polling

  $("queue-prev").addEventListener("click", function () { turnQueuePage(-1); });
  $("queue-next").addEventListener("click", function () { turnQueuePage(1); });

  function startPolling() {
    stopPolling();
    refreshQueue();
    refreshMine();
    heartbeat();
    state.queueTimer = setInterval(function () { refreshQueue(); refreshMine(); }, POLL_MS);
    state.detailTimer = setInterval(function () { refreshDetail(); }, POLL_MS);
    state.heartbeatTimer = setInterval(heartbeat, HEARTBEAT_MS);
    state.meTimer = setInterval(refreshMe, ME_MS);
  }

  function stopPolling() {
    clearInterval(state.queueTimer);
    clearInterval(state.detailTimer);
    clearInterval(state.heartbeatTimer);
    clearInterval(state.meTimer);
    state.queueTimer = state.detailTimer = state.heartbeatTimer = state.meTimer = null;
  }

  // Presence, role, teams and load

  function renderMe(profile) {
    if (!profile) return;
    state.me = profile;
    if (profile.role && profile.role !== pages.session.role() && pages.session.token()) {
      pages.session.saveRole(profile.role);  // an admin changed it
      showRoleLinks();
    }
    $("me-role").textContent = pages.name("roles", profile.role);
    $("me-teams").textContent = (profile.teams || []).map(teamName).join("、") || "—";
    $("me-load").textContent = Number(profile.load || 0) + " / " + Number(profile.capacity || 0);
    var presence = PRESENCES.indexOf(profile.presence) >= 0 ? profile.presence : "offline";
    if (!state.presenceBusy) $("presence-select").value = presence;
    $("presence-dot").className = "dot presence-" + presence;
    $("presence-select").setAttribute("data-presence", presence);
  }

  function refreshMe() {
    if (!pages.session.token()) return;
    api("GET", "/me").then(renderMe, function () {});
  }

  // Tells the server the console is open (presence unchanged); every minute.
  function heartbeat() {
    if (!pages.session.token()) return;
    api("POST", "/presence").then(renderMe, function () {});
  }

  $("presence-select").addEventListener("change", function () {
    var select = $("presence-select");
    var wanted = select.value;
    state.presenceBusy = true;
    select.disabled = true;
    api("POST", "/presence", { presence: wanted }).then(function (profile) {
      state.presenceBusy = false;
      renderMe(profile);
      consoleInfo("您的状态已改为：" + pages.name("presence", wanted) + "。");
    }, function (error) {
      state.presenceBusy = false;
      if (state.me) renderMe(state.me);
      if (!quiet(error)) consoleError(politeError(error, "更改状态"));
    }).then(function () {
      select.disabled = false;
    });
  });

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
      state.queueTickets = (data && data.tickets) || [];
      renderQueue(state.queueTickets, total, offset);
      renderMine();
      $("queue-updated").textContent = "更新于 " + clock(new Date().toISOString());
    }, function (error) {
      if (!quiet(error)) consoleError(politeError(error, "刷新队列"));
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
    syncTickets(list, tickets, "queue-item", "暂无排队的会话");
  }

  // Shows ``tickets`` in ``list``, keeping the items of tickets that did not change (but for
  // their waiting time), so an item is not replaced under the agent's pointer at every poll.
  function syncTickets(list, tickets, testId, emptyText) {
    var kept = {};
    Array.prototype.forEach.call(list.children, function (node) {
      if (node.ticketKey) kept[node.getAttribute("data-ticket-id")] = node;
    });
    var nodes = tickets.map(function (ticket) {
      var shown = {};
      Object.keys(ticket).forEach(function (name) {
        if (name !== "waiting_seconds") shown[name] = ticket[name];
      });
      var key = JSON.stringify(shown);
      var node = kept[String(ticket.ticket_id)];
      if (node && node.ticketKey === key) {
        node.waitNode.textContent = "等待 " + duration(ticket.waiting_seconds);
        return node;
      }
      node = ticketItem(ticket, testId);
      node.ticketKey = key;
      return node;
    });
    if (!nodes.length) {
      clear(list);
      list.appendChild(el("li", "empty" + (testId === "my-ticket" ? " small" : ""), emptyText));
      return;
    }
    nodes.forEach(function (node, index) {
      var at = list.children[index];
      if (at !== node) list.insertBefore(node, at || null);
    });
    while (list.children.length > nodes.length) list.removeChild(list.lastChild);
    markSelected();
  }

  // One ticket of a list (the queue, the agent's own tickets).
  function ticketItem(ticket, testId) {
    var item = withTestId(el("li", "ticket urgency-" + ticket.urgency), testId);
    item.setAttribute("data-ticket-id", String(ticket.ticket_id));
    item.setAttribute("data-urgency", String(ticket.urgency));
    item.setAttribute("data-state", String(ticket.state));
    item.setAttribute("data-team", String(ticket.team));
    item.tabIndex = 0;
    if (ticket.ticket_id === state.selected) item.classList.add("selected");

    var first = el("div", "row");
    first.appendChild(withTestId(
      el("span", "badge urgency-" + ticket.urgency, label(URGENCIES, ticket.urgency)),
      "queue-item-urgency"
    ));
    first.appendChild(withTestId(el("span", "badge team", teamName(ticket.team)), "queue-item-team"));
    first.appendChild(withTestId(
      el("span", "reason", pages.name("reasons", ticket.reason)), "queue-item-reason"
    ));
    if (Number(ticket.unread) > 0) {
      var unread = withTestId(el("span", "badge unread", String(ticket.unread)), "queue-item-unread");
      unread.title = ticket.unread + " 条未读消息";
      first.appendChild(unread);
    }
    item.waitNode = withTestId(
      el("span", "wait", "等待 " + duration(ticket.waiting_seconds)), "queue-item-waiting"
    );
    first.appendChild(item.waitNode);
    item.appendChild(first);

    var second = el("div", "row");
    second.appendChild(el("span", "badge state-" + ticket.state, label(STATES, ticket.state)));
    if (mine(ticket)) {
      second.appendChild(el("span", "badge mine", "我的"));
    } else if (ticket.agent) {
      second.appendChild(el("span", "meta", "客服 " + ticket.agent));
    }
    second.appendChild(withTestId(
      el("span", "meta", pages.name("channels", ticket.channel)), "queue-item-channel"
    ));
    second.appendChild(withTestId(
      el("span", "meta", "账户 " + ((ticket.summary && ticket.summary.account) || "-")),
      "queue-item-account"
    ));
    item.appendChild(second);

    if (ticket.tags && ticket.tags.length) {
      var tags = el("div", "row chips");
      ticket.tags.forEach(function (tag) {
        tags.appendChild(withTestId(el("span", "chip tag", tag), "queue-item-tag"));
      });
      item.appendChild(tags);
    }
    if (ticket.user_typing) {
      item.appendChild(withTestId(el("div", "typing-line", "用户正在输入…"), "queue-item-typing"));
    } else {
      var messages = (ticket.summary && ticket.summary.last_messages) || [];
      if (messages.length) {
        item.appendChild(withTestId(
          el("div", "preview", "“" + messages[messages.length - 1] + "”"), "queue-item-preview"
        ));
      }
    }

    item.addEventListener("click", function () { selectTicket(ticket.ticket_id); });
    item.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        selectTicket(ticket.ticket_id);
      }
    });
    return item;
  }

  function markSelected() {
    var items = document.querySelectorAll("#queue [data-ticket-id], #my-tickets [data-ticket-id]");
    for (var i = 0; i < items.length; i++) {
      var id = Number(items[i].getAttribute("data-ticket-id"));
      items[i].classList.toggle("selected", id === state.selected);
    }
  }

  // The agent's own tickets: those the desk assigned (or they claimed), /queue?mine=1.

  function refreshMine() {
    var username = pages.session.username();
    if (state.mineBusy || !username) return;
    state.mineBusy = true;
    api("GET", "/queue?mine=1&limit=200").then(function (data) {
      state.mineFound = (data && data.tickets) || [];
      state.mineLoaded = true;
      renderMine();
    }, function (error) {
      if (!quiet(error) && error.status !== -1) consoleError(politeError(error, "刷新我的工单"));
    }).then(function () {
      state.mineBusy = false;
    });
  }

  function renderMine() {
    var byId = {};
    var order = [];
    // The queue page's copy is the fuller one (it has tags): it wins.
    state.mineFound.concat(state.queueTickets).forEach(function (ticket) {
      if (!ticket || !mine(ticket)) return;
      if (!byId[ticket.ticket_id]) order.push(ticket.ticket_id);
      byId[ticket.ticket_id] = ticket;
    });
    $("mine-count").textContent = String(order.length);
    syncTickets(
      $("my-tickets"),
      order.map(function (id) { return byId[id]; }),
      "my-ticket",
      "暂无分配给您的会话"
    );

    // New arrivals are announced (and opened when nothing is): not those of the first look.
    if (!state.mineLoaded) return;
    var known = state.mineKnown;
    var fresh = known === null ? [] : order.filter(function (id) { return !known[id]; });
    state.mineKnown = {};
    order.forEach(function (id) { state.mineKnown[id] = true; });
    if (fresh.length) {
      consoleInfo("新会话 #" + fresh.join("、#") + " 已分配给您。");
      refreshMe();
      if (state.selected === null) selectTicket(fresh[0]);
    }
  }

  // Ticket detail

  function selectTicket(ticketId) {
    if (ticketId !== state.selected) {
      stopTyping();
      closeCanned();
      state.selected = ticketId;
      state.ticket = null;
      state.transcriptKey = "";
      state.notesKey = "";
      state.tagsKey = "";
      state.suggestionsKey = "";
      clear($("transcript"));
      clear($("suggestions"));
      clear($("notes"));
      clear($("tags"));
      $("reply-input").value = "";
      $("close-note").value = "";
      $("note-input").value = "";
      $("tag-input").value = "";
      hideMissing();
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
      renderNotes(data.notes || []);
      refreshSuggestions(ticketId, data.transcript || []);
    }, function (error) {
      if (ticketId !== state.selected || quiet(error)) return;
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
    var wasMine = !!(state.ticket && mine(state.ticket));
    state.ticket = ticket;
    $("detail").setAttribute("data-ticket-id", String(ticket.ticket_id));
    $("detail").setAttribute("data-state", String(ticket.state));
    $("detail").setAttribute("data-team", String(ticket.team));
    $("detail-title").textContent = "会话 #" + ticket.ticket_id;
    var urgency = $("detail-urgency");
    urgency.textContent = label(URGENCIES, ticket.urgency);
    urgency.className = "badge urgency-" + ticket.urgency;
    $("detail-team").textContent = teamName(ticket.team);
    var status = $("detail-state");
    status.textContent = label(STATES, ticket.state);
    status.className = "badge state-" + ticket.state;
    $("detail-conversation").textContent = "会话 ID：" + ticket.conversation_id;

    $("summary-reason").textContent = pages.name("reasons", ticket.reason);
    $("summary-team").textContent = teamName(ticket.team);
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
      intents.appendChild(withTestId(el("span", "chip code", intent), "summary-intent"));
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
        chips.appendChild(withTestId(el("span", "chip code", value), "summary-entity"));
      });
      row.appendChild(chips);
      entities.appendChild(row);
    });
    if (!types.length) entities.appendChild(el("span", "muted", "无"));

    var messages = $("summary-last-messages");
    clear(messages);
    (summary.last_messages || []).forEach(function (text) {
      messages.appendChild(withTestId(el("li", "", text), "summary-message"));
    });
    if (!messages.firstChild) messages.appendChild(el("li", "muted", "无"));

    $("claim-button").classList.toggle("hidden", ticket.state !== "queued");

    var own = mine(ticket);
    if (wasMine && !own) {
      stopTyping();
      closeCanned();
    }
    $("transfer-button").classList.toggle("hidden", !own);
    $("reply-input").disabled = !own;
    $("reply-send").disabled = !own;
    $("reply-hint").textContent = own
      ? "您正在接待该用户，回复会直接发给用户。输入 / 可搜索快捷回复。"
      : ticket.state === "queued" ? "请先点击“接入”再回复。"
      : ticket.state === "closed" ? "会话已结束。" : "该会话由其他客服接待。";
    $("user-typing").classList.toggle("hidden", !(ticket.user_typing && ticket.state !== "closed"));

    var closed = ticket.state === "closed";
    // Notes and tags: the ticket's agent, and supervisors on any ticket.
    var annotates = own || pages.session.supervises();
    $("note-form").classList.toggle("hidden", !annotates);
    $("tag-form").classList.toggle("hidden", !annotates);
    renderTags(ticket.tags || [], annotates);

    $("close-box").classList.toggle("hidden", !own);
    setInsertable(own);
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
      var item = withTestId(el("div", "msg role-" + role), "message");
      item.setAttribute("data-role", role);
      var who = label(ROLES, role) + (role === "agent" && line.agent ? " " + line.agent : "");
      var time = clock(line.at);
      item.appendChild(el("div", "who", time ? who + " · " + time : who));
      var bubble = withTestId(el("div", "bubble"), "message-text");
      bubble.appendChild(document.createTextNode(String(line.text)));
      item.appendChild(bubble);
      box.appendChild(item);
    });
    if (atBottom || box.getAttribute("data-scrolled") !== "1") {
      box.scrollTop = box.scrollHeight;
      box.setAttribute("data-scrolled", "1");
    }
  }

  // Internal notes: the agents' notes, transfers' notes and the desk's take-backs.

  function noteHead(note) {
    var time = clock(note.created_at);
    if (note.kind === "returned") {
      return "系统" + (time ? " · " + time : "") + " · 客服超时未回复，会话已退回队列";
    }
    var head = String(note.author) + (time ? " · " + time : "");
    if (note.kind !== "transfer") return head;
    var target = String(note.target || "");
    var where = target.indexOf("team:") === 0 ? teamName(target.slice(5))
      : target.indexOf("agent:") === 0 ? "客服 " + target.slice(6) : target;
    return head + " · 转接给 " + where;
  }

  function renderNotes(notes) {
    var key = JSON.stringify(notes);
    if (key === state.notesKey) return;
    state.notesKey = key;
    var list = $("notes");
    clear(list);
    notes.forEach(function (note) {
      var kind = note.kind === "transfer" || note.kind === "returned" ? note.kind : "note";
      var item = withTestId(el("li", "note kind-" + kind), "note");
      item.setAttribute("data-kind", kind);
      item.setAttribute("data-note-id", String(note.note_id));
      item.appendChild(withTestId(el("div", "note-head", noteHead(note)), "note-head"));
      if (note.text) item.appendChild(withTestId(el("div", "note-text", note.text), "note-text"));
      list.appendChild(item);
    });
    if (!list.firstChild) list.appendChild(el("li", "muted", "暂无备注"));
    list.scrollTop = list.scrollHeight;
  }

  $("note-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var ticketId = state.selected;
    var input = $("note-input");
    var text = input.value.trim();
    if (ticketId === null) return;
    if (!text) {
      consoleError("请输入备注内容。");
      return;
    }
    if (text.length > 4000) {
      consoleError("备注太长了，请控制在 4000 字以内。");
      return;
    }
    $("note-add").disabled = true;
    api("POST", "/tickets/" + ticketId + "/notes", { text: text }).then(function () {
      if (input.value.trim() === text) input.value = "";
      consoleInfo("已添加内部备注（用户看不到）。");
      refreshDetail(true);
    }, function (error) {
      if (quiet(error)) return;
      consoleError(error.status === 409
        ? "添加备注失败：您已不再接待该会话。" : politeError(error, "添加备注"));
      refreshDetail(true);
    }).then(function () {
      $("note-add").disabled = false;
    });
  });

  // Tags

  function renderTags(tags, editable) {
    var key = JSON.stringify([tags, editable]);
    if (key === state.tagsKey) return;
    state.tagsKey = key;
    var box = $("tags");
    clear(box);
    tags.forEach(function (tag) {
      var chip = withTestId(el("span", "chip tag"), "tag");
      chip.appendChild(withTestId(el("span", "", tag), "tag-text"));
      if (editable) {
        var remove = button("×", "chip-remove", "tag-remove");
        remove.title = "删除标签";
        remove.setAttribute("aria-label", "删除标签 " + tag);
        remove.addEventListener("click", function () {
          saveTags(tags.filter(function (other) { return other !== tag; }));
        });
        chip.appendChild(remove);
      }
      box.appendChild(chip);
    });
    if (!tags.length) box.appendChild(el("span", "muted", "无"));
  }

  function saveTags(tags) {
    var ticketId = state.selected;
    if (ticketId === null) return;
    $("tag-add").disabled = true;
    api("POST", "/tickets/" + ticketId + "/tags", { tags: tags }).then(function () {
      $("tag-input").value = "";
      refreshDetail(true);
    }, function (error) {
      if (quiet(error)) return;
      consoleError(error.status === 400
        ? "标签保存失败：每个标签最多 32 个字，每个会话最多 10 个标签。"
        : error.status === 409 ? "标签保存失败：您已不再接待该会话。"
        : politeError(error, "保存标签"));
    }).then(function () {
      $("tag-add").disabled = false;
    });
  }

  $("tag-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var tag = $("tag-input").value.trim();
    if (!tag || !state.ticket) return;
    var tags = (state.ticket.tags || []).slice();
    if (tags.indexOf(tag) < 0) tags.push(tag);
    saveTags(tags);
  });

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
      if (!quiet(error) && error.status !== -1) {
        consoleError(politeError(error, "加载推荐文章"));
      }
    });
  }

  function renderSuggestions(articles) {
    var list = $("suggestions");
    clear(list);
    articles.forEach(function (article) {
      var item = withTestId(el("li", "suggestion"), "suggestion");
      item.setAttribute("data-article-id", String(article.id));
      item.appendChild(el("div", "suggestion-title", article.title));
      item.appendChild(withTestId(
        el("div", "suggestion-summary", article.summary), "suggestion-summary"
      ));
      var insert = button("插入", "secondary", "suggestion-insert");
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

  // Typing: "typing" at most every TYPING_MS while the agent types, "stopped" on send, on
  // leaving the reply box and on leaving the ticket (the server forgets it after 6 s anyway).

  function sendTyping(ticketId, typing) {
    api("POST", "/tickets/" + ticketId + "/typing", { typing: typing }).then(null, function () {});
  }

  function typed() {
    var ticket = state.ticket;
    if (!ticket || !mine(ticket)) return;
    if (!$("reply-input").value.trim()) {
      stopTyping();
      return;
    }
    var now = Date.now();
    if (state.typingTicket === ticket.ticket_id && now - state.typingSentAt < TYPING_MS) return;
    if (state.typingTicket !== null && state.typingTicket !== ticket.ticket_id) stopTyping();
    state.typingTicket = ticket.ticket_id;
    state.typingSentAt = now;
    sendTyping(ticket.ticket_id, true);
  }

  function stopTyping() {
    var ticketId = state.typingTicket;
    if (ticketId === null) return;
    state.typingTicket = null;
    state.typingSentAt = 0;
    if (pages.session.token()) sendTyping(ticketId, false);
  }

  // Replying

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
    closeCanned();
    stopTyping();
    $("reply-send").disabled = true;
    api("POST", "/tickets/" + ticketId + "/reply", { text: text }).then(function () {
      if (input.value.trim() === text) {
        input.value = "";
        hideMissing();
      }
      refreshDetail(true);
    }, function (error) {
      if (quiet(error)) return;
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
    if (state.canned.open && cannedKey(event)) return;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      sendReply();
    }
  });

  $("reply-input").addEventListener("input", function () {
    typed();
    lookForCanned();
    if (!$("reply-input").value) hideMissing();
  });

  $("reply-input").addEventListener("blur", function () {
    stopTyping();
    // A click on a listed reply keeps the focus (mousedown is cancelled); anything else closes.
    closeCanned();
  });

  // Canned replies in the reply box: "/" (at the start or after a space) opens the list of the
  // agent's and their teams' replies, filtered by what follows; choosing one puts it, filled in
  // for the ticket, in place of "/query", unsent.

  // The "/query" just before the caret, or null.
  function slashQuery() {
    var input = $("reply-input");
    var caret = input.selectionStart;
    if (caret === null || caret !== input.selectionEnd) return null;
    var found = /(^|\s)\/([^\s\/]*)$/.exec(input.value.slice(0, caret));
    return found ? { start: caret - found[2].length - 1, end: caret, query: found[2] } : null;
  }

  function lookForCanned() {
    var ticket = state.ticket;
    var slash = ticket && mine(ticket) ? slashQuery() : null;
    if (!slash) {
      closeCanned();
      return;
    }
    var canned = state.canned;
    if (canned.open && canned.query === slash.query) return;
    canned.query = slash.query;
    clearTimeout(canned.timer);
    canned.timer = setTimeout(function () { loadCanned(slash.query); }, CANNED_DELAY_MS);
  }

  function loadCanned(query) {
    var seq = ++state.canned.seq;
    api("GET", "/canned?q=" + encodeURIComponent(query)).then(function (data) {
      if (seq !== state.canned.seq || state.canned.query === null) return;
      state.canned.options = (data && data.replies) || [];
      state.canned.index = 0;
      state.canned.open = true;
      renderCannedOptions();
    }, function (error) {
      if (!quiet(error)) consoleError(politeError(error, "加载快捷回复"));
    });
  }

  function scopeText(reply) {
    return reply.scope === "team" ? "团队 · " + teamName(reply.team) : "个人";
  }

  function renderCannedOptions() {
    var list = $("canned-options");
    clear(list);
    $("canned-popup").classList.remove("hidden");
    var options = state.canned.options;
    if (!options.length) {
      list.appendChild(withTestId(
        el("li", "empty small", "没有匹配的快捷回复（可在“快捷回复管理”中新建）"), "canned-none"
      ));
      return;
    }
    options.forEach(function (reply, index) {
      var item = withTestId(el("li", "canned-option"), "canned-option");
      item.setAttribute("role", "option");
      item.setAttribute("data-reply-id", String(reply.reply_id));
      item.setAttribute("data-shortcut", String(reply.shortcut));
      if (index === state.canned.index) {
        item.classList.add("active");
        item.setAttribute("aria-selected", "true");
      }
      var head = el("div", "canned-option-head");
      head.appendChild(withTestId(el("span", "shortcut", "/" + reply.shortcut), "canned-option-shortcut"));
      head.appendChild(el("span", "badge scope", scopeText(reply)));
      item.appendChild(head);
      item.appendChild(withTestId(el("div", "canned-option-text", reply.text), "canned-option-text"));
      // Keeps the reply box focused (its blur would close the list before the click).
      item.addEventListener("mousedown", function (event) { event.preventDefault(); });
      item.addEventListener("click", function () { chooseCanned(reply); });
      list.appendChild(item);
    });
    var active = list.querySelector(".active");
    if (active && active.scrollIntoView) active.scrollIntoView({ block: "nearest" });
  }

  // Keys of the reply box while the list is open; true when the list used the key.
  function cannedKey(event) {
    var canned = state.canned;
    var count = canned.options.length;
    if (event.key === "Escape") {
      event.preventDefault();
      closeCanned();
      return true;
    }
    if ((event.key === "ArrowDown" || event.key === "ArrowUp") && count) {
      event.preventDefault();
      canned.index = (canned.index + (event.key === "ArrowDown" ? 1 : count - 1)) % count;
      renderCannedOptions();
      return true;
    }
    if ((event.key === "Enter" || event.key === "Tab") && !event.ctrlKey && !event.metaKey &&
        count) {
      event.preventDefault();
      chooseCanned(canned.options[canned.index]);
      return true;
    }
    return false;
  }

  function closeCanned() {
    var canned = state.canned;
    clearTimeout(canned.timer);
    canned.seq += 1;
    canned.open = false;
    canned.query = null;
    canned.options = [];
    $("canned-popup").classList.add("hidden");
    clear($("canned-options"));
  }

  function chooseCanned(reply) {
    var ticketId = state.selected;
    if (ticketId === null || !reply) return;
    var slash = slashQuery();
    closeCanned();
    var path = "/tickets/" + ticketId + "/canned/" + encodeURIComponent(reply.reply_id);
    api("GET", path).then(function (data) {
      if (ticketId !== state.selected) return;
      insertCanned(String((data && data.text) || ""), slash);
      showMissing((data && data.missing) || []);
    }, function (error) {
      if (quiet(error)) return;
      consoleError(error.status === 404
        ? "这条快捷回复已不存在，请重新选择。" : politeError(error, "插入快捷回复"));
    });
  }

  // Puts ``text`` where "/query" was (or at the caret), for the agent to read and send.
  function insertCanned(text, slash) {
    var input = $("reply-input");
    if (input.disabled) return;
    var value = input.value;
    var start = slash ? slash.start : input.selectionStart || value.length;
    var end = slash ? slash.end : input.selectionEnd || start;
    // The box may have changed while the reply was fetched: only replace a "/" still there.
    if (slash && value.charAt(start) !== "/") { start = end = value.length; }
    var room = input.maxLength > 0 ? input.maxLength : 2000;
    var merged = (value.slice(0, start) + text + value.slice(end)).slice(0, room);
    input.value = merged;
    var caret = Math.min(start + text.length, merged.length);
    input.focus();
    input.setSelectionRange(caret, caret);
    typed();
  }

  function showMissing(missing) {
    if (!missing.length) {
      hideMissing();
      return;
    }
    var names = missing.map(function (name) {
      return "{" + name + "}" + (VARIABLES[name] ? "（" + VARIABLES[name] + "）" : "");
    });
    var box = $("canned-missing");
    box.textContent = "以下变量在此会话中没有值，已保留原样，请发送前手动补充：" + names.join("、");
    box.setAttribute("data-missing", missing.join(","));
    box.classList.remove("hidden");
  }

  function hideMissing() {
    var box = $("canned-missing");
    box.classList.add("hidden");
    box.textContent = "";
    box.removeAttribute("data-missing");
  }

  // The canned-reply manager: the agent's own replies, and their teams' for supervisors.

  function cannedNotice(text, kind) { showNotice($("canned-notice"), text, kind); }

  function cannedError(error, action) {
    if (quiet(error)) return;
    switch (error.status) {
      case 409: cannedNotice(CANNED_CONFLICT, "error"); loadCannedList(); return;
      case 404: cannedNotice("这条快捷回复已被删除，已为您刷新。", "error"); loadCannedList(); return;
      case 403: cannedNotice("只有主管和管理员可以编辑团队快捷回复。", "error"); return;
      case 400:
        cannedNotice("快捷词需为 1–32 个字母、数字、_ 或 -，内容为 1–2000 字。", "error");
        return;
      default: cannedNotice(politeError(error, action), "error");
    }
  }

  function openCannedManager() {
    var scope = $("canned-scope");
    clear(scope);
    scope.appendChild(el("option", "", "个人（仅自己可用）"));
    scope.firstChild.value = "";
    if (pages.session.supervises()) {
      TEAMS.forEach(function (team) {
        var option = el("option", "", "团队：" + teamName(team) + "（该团队所有客服可用）");
        option.value = team;
        scope.appendChild(option);
      });
    }
    hideNotice($("canned-notice"));
    resetCannedForm();
    loadCannedList();
    $("canned-dialog").showModal();
  }

  function loadCannedList() {
    api("GET", "/canned?q=").then(function (data) {
      state.cannedReplies = (data && data.replies) || [];
      renderCannedList();
    }, function (error) { cannedError(error, "加载快捷回复"); });
  }

  function renderCannedList() {
    var list = $("canned-list");
    clear(list);
    state.cannedReplies.forEach(function (reply) {
      var row = withTestId(el("li", "canned-row"), "canned-row");
      row.setAttribute("data-reply-id", String(reply.reply_id));
      row.setAttribute("data-shortcut", String(reply.shortcut));
      var head = el("div", "canned-option-head");
      head.appendChild(withTestId(el("span", "shortcut", "/" + reply.shortcut), "canned-row-shortcut"));
      head.appendChild(el("span", "badge scope", scopeText(reply)));
      head.appendChild(el("span", "muted small",
        "第 " + reply.revision + " 版 · " + reply.updated_by + " · " + when(reply.updated_at)));
      row.appendChild(head);
      row.appendChild(withTestId(el("div", "canned-option-text", reply.text), "canned-row-text"));
      if (reply.editable) {
        var bar = el("div", "row-actions");
        var edit = button("编辑", "secondary small", "canned-edit");
        edit.addEventListener("click", function () { editCanned(reply); });
        bar.appendChild(edit);
        var remove = button("删除", "danger small", "canned-delete");
        remove.addEventListener("click", function () { deleteCanned(reply, remove); });
        bar.appendChild(remove);
        row.appendChild(bar);
      }
      list.appendChild(row);
    });
    if (!list.firstChild) list.appendChild(el("li", "empty small", "还没有快捷回复"));
  }

  function resetCannedForm() {
    state.cannedEditing = null;
    $("canned-form-title").textContent = "新建快捷回复";
    $("canned-shortcut").value = "";
    $("canned-text").value = "";
    $("canned-scope").value = "";
    $("canned-scope").disabled = false;
  }

  function editCanned(reply) {
    state.cannedEditing = { reply_id: reply.reply_id, revision: reply.revision };
    $("canned-form-title").textContent = "编辑 /" + reply.shortcut + "（第 " + reply.revision + " 版）";
    $("canned-shortcut").value = reply.shortcut;
    $("canned-text").value = reply.text;
    $("canned-scope").value = reply.scope === "team" ? String(reply.team) : "";
    $("canned-scope").disabled = true;  // a reply keeps its scope
    hideNotice($("canned-notice"));
    $("canned-text").focus();
  }

  // Deleting takes a second click ("确认删除").
  function deleteCanned(reply, control) {
    if (!control.classList.contains("confirm")) {
      control.classList.add("confirm");
      control.textContent = "确认删除";
      return;
    }
    control.disabled = true;
    api("POST", "/canned/" + reply.reply_id + "/delete", { revision: reply.revision }).then(
      function () {
        cannedNotice("已删除 /" + reply.shortcut + "。", "info");
        if (state.cannedEditing && state.cannedEditing.reply_id === reply.reply_id) {
          resetCannedForm();
        }
        loadCannedList();
      },
      function (error) { control.disabled = false; cannedError(error, "删除快捷回复"); }
    );
  }

  $("canned-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var shortcut = $("canned-shortcut").value.trim().replace(/^\//, "");
    var text = $("canned-text").value.trim();
    if (!/^[\w\-]{1,32}$/.test(shortcut) || !text) {
      cannedNotice("快捷词需为 1–32 个字母、数字、_ 或 -，内容不能为空。", "error");
      return;
    }
    var editing = state.cannedEditing;
    var request = editing
      ? api("POST", "/canned/" + editing.reply_id,
        { shortcut: shortcut, text: text, revision: editing.revision })
      : api("POST", "/canned", $("canned-scope").value
        ? { shortcut: shortcut, text: text, team: $("canned-scope").value }
        : { shortcut: shortcut, text: text });
    $("canned-save").disabled = true;
    request.then(function (data) {
      var saved = data && data.reply;
      cannedNotice((editing ? "已保存 /" : "已新建 /") + (saved ? saved.shortcut : shortcut) + "。",
        "info");
      resetCannedForm();
      loadCannedList();
    }, function (error) { cannedError(error, "保存快捷回复"); }).then(function () {
      $("canned-save").disabled = false;
    });
  });

  $("canned-manage").addEventListener("click", openCannedManager);
  $("canned-new").addEventListener("click", function () {
    resetCannedForm();
    hideNotice($("canned-notice"));
    $("canned-shortcut").focus();
  });
  $("canned-close").addEventListener("click", function () { $("canned-dialog").close(); });

  // Transfer: to a colleague (theirs at once) or to a team's queue, with a note for them.

  function transferKind() {
    return $("transfer-kind-agent").checked ? "agent" : "team";
  }

  function showTransferKind() {
    var toAgent = transferKind() === "agent";
    $("transfer-agent").classList.toggle("hidden", !toAgent);
    $("transfer-agent-label").classList.toggle("hidden", !toAgent);
    $("transfer-team").classList.toggle("hidden", toAgent);
    $("transfer-team-label").classList.toggle("hidden", toAgent);
  }

  function renderTransferAgents() {
    var select = $("transfer-agent");
    clear(select);
    var me = pages.session.username();
    var others = state.agents.filter(function (agent) { return agent.username !== me; });
    others.forEach(function (agent) {
      var option = el("option", "", agent.display_name + "（" + agent.username + "）· " +
        pages.name("presence", agent.presence) + " · 接待 " + agent.load + "/" + agent.capacity +
        " · " + (agent.teams || []).map(teamName).join("、"));
      option.value = agent.username;
      option.setAttribute("data-presence", String(agent.presence));
      select.appendChild(option);
    });
    if (!others.length) {
      var none = el("option", "", "暂无其他客服");
      none.value = "";
      select.appendChild(none);
    }
  }

  function openTransfer() {
    var ticket = state.ticket;
    if (!ticket || !mine(ticket)) return;
    $("transfer-title").textContent = "#" + ticket.ticket_id;
    var teams = $("transfer-team");
    clear(teams);
    TEAMS.forEach(function (team) {
      var option = el("option", "", teamName(team));
      option.value = team;
      teams.appendChild(option);
    });
    // The other team is the likelier target.
    teams.value = TEAMS.filter(function (team) { return team !== ticket.team; })[0] || TEAMS[0];
    $("transfer-kind-team").checked = true;
    $("transfer-note").value = "";
    hideNotice($("transfer-error"));
    showTransferKind();
    renderTransferAgents();
    $("transfer-dialog").showModal();
    api("GET", "/agents").then(function (data) {
      state.agents = (data && data.agents) || [];
      renderTransferAgents();
    }, function (error) {
      if (!quiet(error)) showNotice($("transfer-error"), politeError(error, "加载客服列表"), "error");
    });
  }

  $("transfer-button").addEventListener("click", openTransfer);
  $("transfer-kind-team").addEventListener("change", showTransferKind);
  $("transfer-kind-agent").addEventListener("change", showTransferKind);
  $("transfer-cancel").addEventListener("click", function () { $("transfer-dialog").close(); });

  $("transfer-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var ticketId = state.selected;
    if (ticketId === null) return;
    var toAgent = transferKind() === "agent";
    var target = toAgent ? $("transfer-agent").value : $("transfer-team").value;
    if (!target) {
      showNotice($("transfer-error"), "请选择要转给的客服或团队。", "error");
      return;
    }
    var note = $("transfer-note").value.trim();
    var body = toAgent ? { agent: target, note: note } : { team: target, note: note };
    var where = toAgent ? "客服 " + target : teamName(target);
    $("transfer-submit").disabled = true;
    stopTyping();
    api("POST", "/tickets/" + ticketId + "/transfer", body).then(function () {
      $("transfer-dialog").close();
      consoleInfo("会话 #" + ticketId + " 已转给" + where + "。");
      refreshQueue();
      refreshMine();
      refreshMe();
      refreshDetail(true);
    }, function (error) {
      if (quiet(error)) return;
      showNotice($("transfer-error"), error.status === 409
        ? "转接失败：您已不再接待该会话。"
        : error.status === 400 ? "转接失败：请选择有效的客服或团队，备注最多 4000 字。"
        : politeError(error, "转接"), "error");
    }).then(function () {
      $("transfer-submit").disabled = false;
    });
  });

  function closeDialogs() {
    ["transfer-dialog", "canned-dialog"].forEach(function (id) {
      if ($(id).open) $(id).close();
    });
  }

  // Search

  function closeSearch() {
    $("search-panel").classList.add("hidden");
    clear($("search-results"));
  }

  function renderResults(query, results) {
    var list = $("search-results");
    clear(list);
    $("search-summary").textContent = results.length
      ? "“" + query + "”：找到 " + results.length + " 个会话"
      : "“" + query + "”：没有找到匹配的会话";
    results.forEach(function (hit) {
      var ticket = hit.ticket;
      var item = withTestId(el("li", "search-result"), "search-result");
      item.setAttribute("data-ticket-id", String(ticket.ticket_id));
      item.tabIndex = 0;
      var head = el("div", "row");
      head.appendChild(withTestId(el("b", "", "#" + ticket.ticket_id), "search-result-number"));
      head.appendChild(withTestId(el("span", "badge team", teamName(ticket.team)), "search-result-team"));
      head.appendChild(withTestId(
        el("span", "badge state-" + ticket.state, label(STATES, ticket.state)), "search-result-state"
      ));
      head.appendChild(withTestId(
        el("span", "meta", ticket.agent ? "客服 " + ticket.agent : "未接入"), "search-result-agent"
      ));
      head.appendChild(el("span", "meta", pages.name("reasons", ticket.reason)));
      head.appendChild(el("span", "meta wait", when(ticket.created_at)));
      item.appendChild(head);
      var excerpt = hit.excerpt ||
        ((ticket.summary && ticket.summary.last_messages) || []).slice(-1)[0] || "";
      item.appendChild(withTestId(el("div", "preview", excerpt), "search-result-excerpt"));
      var open = function () {
        closeSearch();
        selectTicket(ticket.ticket_id);
      };
      item.addEventListener("click", open);
      item.addEventListener("keydown", function (event) {
        if (event.key === "Enter") open();
      });
      list.appendChild(item);
    });
    $("search-panel").classList.remove("hidden");
  }

  $("search-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var query = $("search-input").value.trim();
    if (!query) {
      closeSearch();
      return;
    }
    $("search-submit").disabled = true;
    api("GET", "/search?q=" + encodeURIComponent(query)).then(function (data) {
      renderResults(query, (data && data.results) || []);
    }, function (error) {
      if (!quiet(error)) consoleError(politeError(error, "搜索"));
    }).then(function () {
      $("search-submit").disabled = false;
    });
  });

  $("search-close").addEventListener("click", closeSearch);

  // Actions

  $("claim-button").addEventListener("click", function () {
    var ticketId = state.selected;
    if (ticketId === null) return;
    var claim = $("claim-button");
    claim.disabled = true;
    api("POST", "/tickets/" + ticketId + "/claim").then(function (data) {
      consoleInfo("已接入会话 #" + ticketId + "。");
      if (ticketId === state.selected) renderTicket(data.ticket);
      refreshQueue();
      refreshMine();
      refreshMe();
      refreshDetail(true);
      $("reply-input").focus();
    }, function (error) {
      if (quiet(error)) return;
      consoleError(politeError(error, "接入"));
      refreshDetail(true);
    }).then(function () {
      claim.disabled = false;
    });
  });

  $("close-button").addEventListener("click", function () {
    var ticketId = state.selected;
    if (ticketId === null) return;
    var close = $("close-button");
    close.disabled = true;
    stopTyping();
    var note = $("close-note").value.trim();
    api("POST", "/tickets/" + ticketId + "/close", { note: note }).then(function (data) {
      consoleInfo("会话 #" + ticketId + " 已结束，已邀请用户评分。");
      $("close-note").value = "";
      if (ticketId === state.selected) renderTicket(data.ticket);
      refreshQueue();
      refreshMine();
      refreshMe();
      refreshDetail(true);
    }, function (error) {
      if (quiet(error)) return;
      consoleError(politeError(error, "结束会话"));
      refreshDetail(true);
    }).then(function () {
      close.disabled = false;
    });
  });

  // "The bot got this wrong": the conversation goes to the leads' review inbox.
  $("flag-button").addEventListener("click", function () {
    var ticketId = state.selected;
    if (ticketId === null) return;
    var flag = $("flag-button");
    flag.disabled = true;
    api("POST", "/tickets/" + ticketId + "/flag", {}).then(function () {
      consoleInfo("已标记会话 #" + ticketId + "：机器人的回答将交给主管复核。");
    }, function (error) {
      if (quiet(error)) return;
      consoleError(politeError(error, "标记"));
    }).then(function () {
      flag.disabled = false;
    });
  });

  // Start

  // The names the server serves, where the page has its own defaults.
  function nameControls() {
    var options = $("presence-select").options;
    for (var i = 0; i < options.length; i++) {
      if (pages.hasName("presence", options[i].value)) {
        options[i].textContent = pages.name("presence", options[i].value);
      }
    }
  }

  pages.loadNames().then(function () {
    nameControls();
    if (pages.session.token()) {
      showConsole();
    } else {
      showLogin();
    }
  });
})();
