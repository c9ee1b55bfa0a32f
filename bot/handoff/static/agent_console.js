// The agent console: login, the agent's presence (with a heartbeat), role, teams and load, the
// queue (paged) and the agent's own tickets, a ticket's summary and transcript (a bot's evidence
// card drawn as a card, copyable: common.js), claim, reply, close, transfer, internal notes,
// tags, typing signals, canned replies ("/" in the reply box,
// and their manager), search, and the help center's suggested articles (插入 puts one's summary
// in the reply box, unsent), against the JSON API beside the page. Supervision (issue 19): the
// ticket's account panel (masked; 显示 asks for a reason, which the server logs), replies the
// outbound guard blocked and why, supervisors' approval of a blocked address and their alerts,
// SLA badges (已超时 in red, due soon in amber), and the refusal of another agent's ticket.
// Everything the API returns goes in through textContent: users, agents and notes are all
// untrusted text. Shared helpers, the session and the names of reasons, teams, roles and
// channels: common.js.
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
  var ALERTS_MS = 10000;     // supervisors' alerts are read again this often
  var GUARD_MS = 5000;       // a ticket's approvals, as often (while a supervisor has it open)

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
  var SLA_KINDS = { first: "首次响应", next: "再次响应" };
  // The account panel's fields a reason reveals, and the transfers' states and directions.
  var REVEALABLE = { phone: "手机号", email: "邮箱", tx_hash: "交易哈希", counterparty: "对方地址" };
  var TX_STATES = { pending: "待确认", confirmed: "已确认", failed: "失败", dropped: "已丢弃" };
  var DIRECTIONS = { out: "转出", "in": "转入" };
  var INCIDENT_KINDS = { complaint: "投诉", incident: "安全事件" };
  var INCIDENT_STATES = { open: "待处理", in_progress: "处理中", resolved: "已解决" };
  var ALERT_KINDS = { unusual_viewing: "异常查看", reply_blocked: "回复被拦截" };
  var BLOCKED_KINDS = {
    secret_request: "索要机密",
    secret: "机密信息",
    unknown_address: "地址",
    unknown_url: "链接",
    unknown_contact: "联系方式",
    unchecked: "未能检查"
  };
  // What a supervisor may let through after checking it (never a secret or a request for one).
  var APPROVABLE = { unknown_address: true, unknown_url: true, unknown_contact: true };
  var DENIED_TICKET = "这是其他客服的会话，您无权查看";
  var MIN_REASON = 4;        // a reveal's reason, in characters (bot/handoff/panel.py)
  var MAX_REASON = 500;

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
    agents: [],            // the desk's agents, for transfers
    // The account panel: read once per ticket opened (each read is an audited view) and again
    // on 刷新; ``reveal`` is the value the reason dialog is open for.
    panel: { ticket: null, seq: 0, reveal: null },
    // A supervisor's view of the ticket's blocked replies: its notes (where agents ask for a
    // check), the approvals (read at most every GUARD_MS) and what is shown.
    guard: { ticket: null, notes: [], approvals: [], readAt: 0, key: "" },
    alerts: { timer: null, seen: 0, list: [] }
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

  // SLA: "breached", "due_soon" or "" (on time, or nothing is due) of a ticket's ``sla``.
  function slaState(sla) {
    if (!sla || !sla.kind) return "";
    return sla.breached ? "breached" : sla.due_soon ? "due_soon" : "";
  }

  function slaText(sla) {
    if (slaState(sla) === "breached") return "已超时";
    var left = Number(sla.target_seconds) - Number(sla.elapsed_seconds);
    return "剩余 " + duration(left);
  }

  function slaTitle(sla) {
    var kind = label(SLA_KINDS, sla.kind);
    var target = kind + "目标 " + duration(sla.target_seconds) + "（按服务时间计）";
    return slaState(sla) === "breached"
      ? target + "，已超出 " + duration(Number(sla.elapsed_seconds) - Number(sla.target_seconds))
      : target + "，即将到期";
  }

  // Shows ``sla`` on ``node`` (a badge): red 已超时, amber with the time left, hidden otherwise.
  function showSla(node, sla) {
    var kind = slaState(sla);
    node.className = "badge sla" + (kind ? " sla-" + kind : " hidden");
    if (!kind) {
      node.textContent = "";
      node.removeAttribute("data-sla");
      node.removeAttribute("title");
      return;
    }
    node.textContent = slaText(sla);
    node.title = slaTitle(sla);
    node.setAttribute("data-sla", kind);
  }

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
    openFromHash();
  }

  // The leads' pages for supervisors and admins, agent management for admins.
  function showRoleLinks() {
    var lead = pages.session.supervises();
    $("live-link").classList.toggle("hidden", !lead);
    $("alerts-button").classList.toggle("hidden", !lead);
    if (!lead) $("alerts-panel").classList.add("hidden");
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
    state.alerts.seen = 0;
    state.alerts.list = [];
    clear($("alerts"));
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
    refreshAlerts();
    state.alerts.timer = setInterval(refreshAlerts, ALERTS_MS);
  }

  function stopPolling() {
    clearInterval(state.queueTimer);
    clearInterval(state.detailTimer);
    clearInterval(state.heartbeatTimer);
    clearInterval(state.meTimer);
    clearInterval(state.alerts.timer);
    state.queueTimer = state.detailTimer = state.heartbeatTimer = state.meTimer = null;
    state.alerts.timer = null;
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
        if (name !== "waiting_seconds" && name !== "sla") shown[name] = ticket[name];
      });
      // The SLA's state changes the item; its counting seconds only the badge's text.
      shown.sla = slaState(ticket.sla);
      var key = JSON.stringify(shown);
      var node = kept[String(ticket.ticket_id)];
      if (node && node.ticketKey === key) {
        node.waitNode.textContent = "等待 " + duration(ticket.waiting_seconds);
        showSla(node.slaNode, ticket.sla);
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
    var sla = slaState(ticket.sla);
    if (sla) {
      item.setAttribute("data-sla", sla);
      item.classList.add("sla-" + sla);
    }
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
    item.slaNode = withTestId(el("span", "badge sla hidden"), "sla-badge");
    showSla(item.slaNode, ticket.sla);
    first.appendChild(item.slaNode);
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
      hideBlocked();
      forgetPanel();
      forgetGuard();
    }
    markSelected();
    $("detail-denied").classList.add("hidden");
    $("detail-empty").classList.toggle("hidden", ticketId !== null);
    $("detail").classList.toggle("hidden", ticketId === null);
    if (ticketId !== null) refreshDetail(true);
  }

  // A ticket the agent may not open (GET /api/tickets/<id> answered 403): nothing of it shows.
  function denyTicket(ticketId) {
    selectTicket(null);
    $("detail-empty").classList.add("hidden");
    var denied = $("detail-denied");
    denied.textContent = "会话 #" + ticketId + "：" + DENIED_TICKET + "。";
    denied.setAttribute("data-ticket-id", String(ticketId));
    denied.classList.remove("hidden");
  }

  // console#ticket=<id> (a link from an alert or another page) opens that ticket.
  function openFromHash() {
    var found = /^#ticket=(\d{1,12})$/.exec(window.location.hash);
    if (!found || !pages.session.token()) return;
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, "", window.location.pathname + window.location.search);
    }
    selectTicket(Number(found[1]));
  }

  window.addEventListener("hashchange", openFromHash);

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
      refreshGuard(data.ticket, data.notes || [], false);
    }, function (error) {
      if (ticketId !== state.selected || quiet(error)) return;
      if (error.status === 403) {
        denyTicket(ticketId);
        return;
      }
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
    showSla($("detail-sla"), ticket.sla);
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
    showPanel(ticket);
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
      if (role === "bot" && pages.isEvidenceCard(line.evidence_card)) {
        bubble.appendChild(pages.evidenceCard(line.evidence_card));
      } else {
        bubble.appendChild(document.createTextNode(String(line.text)));
      }
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
    postReply(ticketId, text).then(function (data) {
      if (ticketId !== state.selected) return;
      if (data.blocked) {
        // Nothing reached the user: the text stays for the agent to correct.
        showBlocked(data.blocked);
        input.focus();
        return;
      }
      hideBlocked();
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
    ["transfer-dialog", "canned-dialog", "reveal-dialog"].forEach(function (id) {
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
      var sla = withTestId(el("span", "badge sla hidden"), "sla-badge");
      showSla(sla, ticket.sla);
      head.appendChild(sla);
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
    $("alerts-panel").classList.add("hidden");
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

  // The account panel (账户信息): the user's account state from the wallet, identifiers masked.
  // Shown for the agent's own tickets and, to supervisors, for any; read when the ticket is
  // opened (the server records every read) and on 刷新, never by the poll.

  function panelAllowed(ticket) {
    return mine(ticket) || pages.session.supervises();
  }

  function forgetPanel() {
    state.panel.ticket = null;
    state.panel.seq += 1;
    clear($("account-body"));
    $("account-status").textContent = "";
    $("account-panel").classList.add("hidden");
    $("account-panel").removeAttribute("data-loaded");
    if ($("reveal-dialog").open) $("reveal-dialog").close();
  }

  function showPanel(ticket) {
    var box = $("account-panel");
    box.classList.remove("hidden");
    if (!panelAllowed(ticket)) {
      if (state.panel.ticket !== null || !box.getAttribute("data-refused")) {
        forgetPanel();
        box.classList.remove("hidden");
      }
      box.setAttribute("data-refused", "1");
      $("account-refresh").classList.add("hidden");
      $("account-status").textContent = ticket.state === "queued"
        ? "接入会话后可查看用户的账户信息。"
        : "仅接待该会话的客服和主管可以查看账户信息。";
      return;
    }
    box.removeAttribute("data-refused");
    var account = ticket.summary && ticket.summary.account;
    if (!account || account === "-") {
      // An anonymous user (no proven account): nothing to read, no view to record.
      if (box.getAttribute("data-loaded") === "anonymous") return;
      forgetPanel();
      box.classList.remove("hidden");
      box.setAttribute("data-loaded", "anonymous");
      $("account-refresh").classList.add("hidden");
      $("account-status").textContent = panelError(new ApiError(409, "anonymous"));
      return;
    }
    $("account-refresh").classList.remove("hidden");
    if (state.panel.ticket !== ticket.ticket_id) loadPanel(ticket.ticket_id);
  }

  function panelError(error) {
    switch (error.status) {
      case -1: return "无法连接服务器，请稍后点击刷新。";
      case 403: return "仅接待该会话的客服和主管可以查看账户信息。";
      case 404: return "该会话不存在。";
      case 409: return "该用户未验证身份（未登录的访客），没有可显示的账户信息。";
      case 503: return "账户信息暂时无法读取（审计日志或钱包服务不可用），请稍后点击刷新。";
      default: return "账户信息读取失败（错误 " + error.status + "），请稍后点击刷新。";
    }
  }

  function loadPanel(ticketId) {
    var seq = ++state.panel.seq;
    state.panel.ticket = ticketId;
    $("account-status").textContent = "正在读取账户信息…";
    $("account-panel").setAttribute("data-loaded", "");
    api("GET", "/tickets/" + encodeURIComponent(ticketId) + "/account").then(function (data) {
      if (seq !== state.panel.seq || ticketId !== state.selected) return;
      renderPanel((data && data.panel) || {});
    }, function (error) {
      if (seq !== state.panel.seq || ticketId !== state.selected || quiet(error)) return;
      clear($("account-body"));
      $("account-status").textContent = panelError(error);
      $("account-panel").setAttribute("data-loaded", "error-" + error.status);
    });
  }

  $("account-refresh").addEventListener("click", function () {
    if (state.ticket && panelAllowed(state.ticket)) loadPanel(state.ticket.ticket_id);
  });

  // A masked value with its 显示 button (none when there is no value).
  function maskedValue(field, ref, value) {
    var box = el("span", "masked");
    var shown = withTestId(el("span", "code", value === null || value === undefined || value === ""
      ? "—" : value), "panel-value");
    shown.setAttribute("data-field", field);
    if (ref !== null) shown.setAttribute("data-ref", String(ref));
    box.appendChild(shown);
    if (value) {
      var reveal = button("显示", "secondary small reveal", "reveal-button");
      reveal.setAttribute("data-field", field);
      if (ref !== null) reveal.setAttribute("data-ref", String(ref));
      reveal.title = "显示完整的" + label(REVEALABLE, field) + "（需填写原因，记入审计日志）";
      reveal.addEventListener("click", function () {
        openReveal({ field: field, ref: ref, masked: String(value), node: shown, button: reveal });
      });
      box.appendChild(reveal);
    }
    return box;
  }

  function fact(list, name, value, testId) {
    list.appendChild(el("dt", "", name));
    var dd = withTestId(el("dd"), testId);
    if (value instanceof Node) dd.appendChild(value); else dd.textContent = String(value);
    list.appendChild(dd);
    return dd;
  }

  // Only http(s) links are made clickable.
  function explorerLink(url) {
    if (!/^https?:\/\//i.test(String(url || ""))) return null;
    var link = withTestId(el("a", "explorer", "在区块浏览器中查看"), "explorer-link");
    link.href = String(url);
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    return link;
  }

  function renderPanel(panel) {
    var body = $("account-body");
    clear(body);
    $("account-status").textContent = "查看时间 " + clock(new Date().toISOString());
    $("account-panel").setAttribute("data-loaded", "ok");

    var facts = el("dl", "account-facts");
    fact(facts, "账户", panel.account || "—", "panel-account");
    fact(facts, "手机", maskedValue("phone", null, panel.phone), "panel-phone");
    fact(facts, "邮箱", maskedValue("email", null, panel.email), "panel-email");
    var twoFactor = fact(facts, "两步验证", panel.two_factor ? "已开启" : "未开启",
      "panel-two-factor");
    if (!panel.two_factor) twoFactor.className = "warn";
    var locked = fact(facts, "登录锁定",
      panel.locked_until ? "锁定至 " + when(panel.locked_until) : "未锁定", "panel-locked");
    if (panel.locked_until) locked.className = "warn";
    var frozen = fact(facts, "账户冻结", panel.frozen ? "已冻结" : "否", "panel-frozen");
    if (panel.frozen) frozen.className = "warn";
    body.appendChild(facts);

    body.appendChild(el("h4", "", "最近登录设备"));
    var devices = el("ul", "account-list");
    (panel.devices || []).forEach(function (device) {
      var item = withTestId(el("li"), "panel-device");
      var head = el("div", "row");
      head.appendChild(el("span", "", device.device || "未知设备"));
      if (device.new_device) head.appendChild(el("span", "badge new-device", "新设备"));
      item.appendChild(head);
      item.appendChild(el("div", "muted small",
        [device.location || "", when(device.logged_in_at)].filter(Boolean).join(" · ")));
      devices.appendChild(item);
    });
    if (!devices.firstChild) devices.appendChild(el("li", "muted", "无"));
    body.appendChild(devices);

    body.appendChild(el("h4", "", "最近转账"));
    var transfers = el("ul", "account-list");
    (panel.transfers || []).forEach(function (transfer) {
      var item = withTestId(el("li", "transfer"), "panel-transfer");
      item.setAttribute("data-ref", String(transfer.ref));
      item.setAttribute("data-status", String(transfer.status));
      var head = el("div", "row");
      head.appendChild(el("b", "", label(DIRECTIONS, transfer.direction) + " " +
        transfer.amount + " " + transfer.currency));
      head.appendChild(el("span", "meta", String(transfer.chain || "")));
      head.appendChild(withTestId(
        el("span", "badge tx-" + transfer.status, label(TX_STATES, transfer.status)),
        "panel-transfer-status"
      ));
      item.appendChild(head);
      item.appendChild(el("div", "muted small", when(transfer.at)));
      var hash = el("div", "line");
      hash.appendChild(el("span", "muted small", "哈希 "));
      hash.appendChild(maskedValue("tx_hash", transfer.ref, transfer.tx_hash));
      item.appendChild(hash);
      var other = el("div", "line");
      other.appendChild(el("span", "muted small", transfer.direction === "in" ? "来自 " : "发往 "));
      other.appendChild(maskedValue("counterparty", transfer.ref, transfer.counterparty));
      item.appendChild(other);
      var link = explorerLink(transfer.explorer_link);
      if (link) item.appendChild(link);
      transfers.appendChild(item);
    });
    if (!transfers.firstChild) transfers.appendChild(el("li", "muted", "无"));
    body.appendChild(transfers);

    body.appendChild(el("h4", "", "未结工单与事件"));
    var incidents = el("ul", "account-list");
    (panel.incidents || []).forEach(function (incident) {
      var item = withTestId(el("li"), "panel-incident");
      item.appendChild(el("div", "", String(incident.number) + " · " +
        label(INCIDENT_KINDS, incident.kind) + " · " + label(INCIDENT_STATES, incident.state)));
      item.appendChild(el("div", "muted small", when(incident.created_at)));
      incidents.appendChild(item);
    });
    if (!incidents.firstChild) incidents.appendChild(el("li", "muted", "无"));
    body.appendChild(incidents);
  }

  // 显示: a reason, then the whole value (the server logs who, what and why first).

  function openReveal(target) {
    state.panel.reveal = target;
    $("reveal-field").textContent = label(REVEALABLE, target.field);
    $("reveal-masked").textContent = target.masked;
    $("reveal-reason").value = "";
    hideNotice($("reveal-error"));
    $("reveal-dialog").showModal();
    $("reveal-reason").focus();
  }

  function revealError(error) {
    switch (error.status) {
      case -1: return "无法连接服务器，请检查网络后重试。";
      case 400: return /reason/.test(error.message)
        ? "请填写查看原因（" + MIN_REASON + "–" + MAX_REASON + " 个字，将记入审计日志）。"
        : "找不到这条信息（账户数据可能已变化），请关闭后刷新账户信息。";
      case 403: return "仅接待该会话的客服和主管可以查看账户信息。";
      case 404: return "该会话不存在。";
      case 409: return "该用户未验证身份，没有可显示的账户信息。";
      case 503: return "审计日志暂时无法写入：每次查看都必须留有记录，本次未显示，请稍后再试。";
      default: return "显示失败（错误 " + error.status + "），请稍后再试。";
    }
  }

  $("reveal-cancel").addEventListener("click", function () { $("reveal-dialog").close(); });
  $("reveal-dialog").addEventListener("close", function () { state.panel.reveal = null; });

  $("reveal-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var target = state.panel.reveal;
    var ticketId = state.selected;
    if (!target || ticketId === null) return;
    var reason = $("reveal-reason").value.trim();
    if (reason.length < MIN_REASON) {
      showNotice($("reveal-error"),
        "请填写查看原因（至少 " + MIN_REASON + " 个字，将记入审计日志）。", "error");
      $("reveal-reason").focus();
      return;
    }
    var request = { field: target.field, reason: reason };
    if (target.ref !== null) request.ref = target.ref;
    var seq = state.panel.seq;
    $("reveal-submit").disabled = true;
    api("POST", "/tickets/" + encodeURIComponent(ticketId) + "/account/reveal", request).then(
      function (data) {
        if ($("reveal-dialog").open) $("reveal-dialog").close();
        if (seq !== state.panel.seq || ticketId !== state.selected) return;
        target.node.textContent = String((data && data.value) || "");
        target.node.setAttribute("data-revealed", "true");
        target.node.classList.add("revealed");
        target.button.remove();
        var link = explorerLink(data && data.explorer_link);
        if (link) target.node.parentNode.appendChild(link);
      },
      function (error) {
        if (quiet(error)) return;
        showNotice($("reveal-error"), revealError(error), "error");
      }
    ).then(function () {
      $("reveal-submit").disabled = false;
    });
  });

  // The outbound guard: a reply it stopped stays in the box, with the reason for each value.

  function shortValue(value) {
    var text = String(value);
    return text.length > 16 ? text.slice(0, 6) + "…" + text.slice(-4) : text;
  }

  // A link is read whole (up to 120 characters): its host is what matters.
  function longValue(value) {
    var text = String(value);
    return text.length > 120 ? text.slice(0, 119) + "…" : text;
  }

  function blockedText(item) {
    var nowhere = "未在对话、用户账户、官方渠道或帮助中心中出现过，已拦截，可请主管核实后放行。";
    switch (item.kind) {
      case "secret_request":
        return "回复中包含索要助记词/私钥/密码/验证码的内容，已拦截。客服任何时候都不得向用户索要这些信息。";
      case "secret":
        return "回复中包含疑似助记词、私钥或密码等机密信息，已拦截，请勿发送。";
      case "unknown_address":
        return "地址 " + shortValue(item.value) + " " + nowhere;
      case "unknown_url":
        return "链接 " + longValue(item.value) + " " + nowhere;
      case "unknown_contact":
        return "联系方式 " + longValue(item.value) + " " + nowhere;
      case "unchecked":
        return "安全检查暂时无法完成，为安全起见回复未发送，请稍后重试。";
      default:
        return "回复未通过安全检查，已拦截。";
    }
  }

  function showBlocked(blocked) {
    var box = $("reply-blocked");
    clear(box);
    box.appendChild(withTestId(el("div", "blocked-head",
      "回复未发送，用户不会看到这条消息；此次拦截已通知主管并记入审计日志："), "blocked-head"));
    var list = el("ul", "");
    blocked.forEach(function (item) {
      var line = withTestId(el("li", "", blockedText(item)), "blocked-reason");
      line.setAttribute("data-kind", String(item.kind));
      if (item.value && item.kind !== "secret") line.title = String(item.value);
      list.appendChild(line);
    });
    box.appendChild(list);
    var request = checkRequest(blocked);
    var ticketId = state.selected;
    if (request && ticketId !== null) {
      var ask = button("请主管核实", "secondary small", "ask-approval");
      ask.title = "把被拦截的值写进内部备注（用户看不到），请主管核实后放行";
      ask.addEventListener("click", function () { askForCheck(ticketId, request, ask); });
      box.appendChild(ask);
    }
    box.setAttribute("data-kinds", blocked.map(function (item) { return item.kind; }).join(","));
    box.classList.remove("hidden");
  }

  function hideBlocked() {
    var box = $("reply-blocked");
    box.classList.add("hidden");
    clear(box);
    box.removeAttribute("data-kinds");
  }

  // The reply goes through fetch itself: a 422's reasons (the guard's) are in its body.
  var API = window.location.pathname.replace(/\/[^\/]+\/?$/, "") + "/api";

  function postReply(ticketId, text) {
    var generation = state.generation;
    return fetch(API + "/tickets/" + encodeURIComponent(ticketId) + "/reply", {
      method: "POST",
      headers: {
        "Accept": "application/json",
        "Content-Type": "application/json",
        "Authorization": "Bearer " + (pages.session.token() || "")
      },
      body: JSON.stringify({ text: text }),
      cache: "no-store",
      credentials: "omit"
    }).then(function (response) {
      return response.text().then(function (raw) {
        var data = null;
        try { data = raw ? JSON.parse(raw) : null; } catch (ignored) { data = null; }
        if (generation !== state.generation) throw new ApiError(0, "stale");
        if (response.status === 422 && data && Array.isArray(data.blocked)) {
          return { blocked: data.blocked };
        }
        if (response.status === 401) {
          sessionExpired();
          throw new ApiError(401, "login required");
        }
        if (!response.ok) {
          throw new ApiError(response.status, data && data.error ? String(data.error) : "",
            Number(response.headers.get("Retry-After")) || 0);
        }
        return data || {};
      });
    }, function () {
      throw new ApiError(-1, "network");
    });
  }

  // A value the guard stopped reaches a supervisor through an internal note the agent adds with
  // 请主管核实 (the audit log and the alerts hold masked values only); the supervisor checks
  // it and approves it for this ticket, and the agent's next reply with it is sent.

  var CHECK_REQUEST = "请主管核实放行（回复被拦截）：";

  // The note asking for a check of the ``blocked`` values a supervisor may approve ("" if none).
  function checkRequest(blocked) {
    var lines = blocked.filter(function (item) { return APPROVABLE[item.kind] && item.value; })
      .map(function (item) { return label(BLOCKED_KINDS, item.kind) + " " + item.value; });
    return lines.length ? [CHECK_REQUEST].concat(lines).join("\n") : "";
  }

  function askForCheck(ticketId, text, control) {
    control.disabled = true;
    api("POST", "/tickets/" + ticketId + "/notes", { text: text }).then(function () {
      control.textContent = "已请主管核实";
      consoleInfo("已在内部备注中请主管核实（用户看不到），主管放行后即可发送。");
      refreshDetail(true);
    }, function (error) {
      control.disabled = false;
      if (!quiet(error)) consoleError(politeError(error, "请求核实"));
    });
  }

  // The values agents asked to have checked on this ticket, from their notes, oldest first.
  function requestedValues(notes) {
    var found = [];
    notes.forEach(function (note) {
      var text = String(note.text || "");
      if (note.kind !== "note" || text.indexOf(CHECK_REQUEST) !== 0) return;
      text.split("\n").slice(1).forEach(function (line) {
        var match = /^(\S+) (\S.{0,254})$/.exec(line.trim());
        if (!match) return;
        var value = match[2].trim();
        if (found.some(function (seen) { return seen.value === value; })) return;
        found.push({ kind: match[1], value: value, author: note.author, at: note.created_at });
      });
    });
    return found;
  }

  // "unknown_address=0x1234…abcd; secret_request=助记词" (a blocked-reply alert's detail).
  function blockedParts(detail) {
    return String(detail || "").split("; ").map(function (part) {
      var at = part.indexOf("=");
      return at < 0 ? { kind: part, value: "" } : { kind: part.slice(0, at), value: part.slice(at + 1) };
    });
  }

  function forgetGuard() {
    state.guard = { ticket: null, notes: [], approvals: [], readAt: 0, key: "" };
    ["guard-blocks", "guard-requested", "guard-approvals"].forEach(function (id) { clear($(id)); });
    $("guard-value").value = "";
    $("guard-box").classList.add("hidden");
  }

  function refreshGuard(ticket, notes, force) {
    if (!pages.session.supervises() || !ticket || ticket.state === "closed") {
      if (state.guard.ticket !== null) forgetGuard();
      return;
    }
    var guard = state.guard;
    var ticketId = ticket.ticket_id;
    if (guard.ticket !== ticketId) {
      forgetGuard();
      state.guard.ticket = ticketId;
      guard = state.guard;
    }
    guard.notes = notes;
    renderGuard();
    if (!force && Date.now() - guard.readAt < GUARD_MS) return;
    guard.readAt = Date.now();
    api("GET", "/tickets/" + ticketId + "/guard/approvals").then(function (data) {
      if (state.guard.ticket !== ticketId) return;
      state.guard.approvals = (data && data.approvals) || [];
      renderGuard();
    }, function (error) {
      if (!quiet(error) && error.status !== -1) consoleError(politeError(error, "读取放行记录"));
    });
  }

  function renderGuard() {
    var guard = state.guard;
    var ticketId = guard.ticket;
    if (ticketId === null) return;
    var blocks = state.alerts.list.filter(function (alert) {
      return alert.kind === "reply_blocked" && Number(alert.ticket_id) === ticketId;
    });
    var requested = requestedValues(guard.notes);
    var approved = {};
    guard.approvals.forEach(function (approval) { approved[approval.value] = approval; });
    var key = JSON.stringify([ticketId, blocks, requested, guard.approvals]);
    if (key === guard.key) return;
    guard.key = key;
    $("guard-box").classList.remove("hidden");
    $("guard-box").setAttribute("data-ticket-id", String(ticketId));

    var list = $("guard-blocks");
    clear(list);
    blocks.forEach(function (alert) {
      var item = withTestId(el("li", "guard-item"), "guard-block");
      item.appendChild(el("div", "muted small", "客服 " + alert.actor + " · " + when(alert.at)));
      var parts = el("div", "chips");
      blockedParts(alert.detail).forEach(function (part) {
        parts.appendChild(el("span", "chip code",
          label(BLOCKED_KINDS, part.kind) + (part.value ? " " + part.value : "")));
      });
      item.appendChild(parts);
      list.appendChild(item);
    });
    if (!list.firstChild) list.appendChild(el("li", "muted small", "无"));

    var asked = $("guard-requested");
    clear(asked);
    requested.forEach(function (request) {
      var row = withTestId(el("li", "guard-item"), "guard-item");
      row.setAttribute("data-value", request.value);
      var head = el("div", "row");
      head.appendChild(el("span", "badge blocked-kind", request.kind));
      head.appendChild(el("span", "muted small", "客服 " + request.author + " · " + when(request.at)));
      row.appendChild(head);
      row.appendChild(withTestId(el("div", "code guard-value", request.value), "guard-value"));
      var approval = approved[request.value];
      if (approval) {
        row.appendChild(withTestId(
          el("div", "approved", "已由 " + approval.approved_by + " 核实放行"), "guard-approved"
        ));
      } else {
        var approve = button("核实放行", "secondary small", "guard-approve");
        approve.title = "核实该值属于用户或官方后放行：该会话的客服再次发送时不再拦截";
        approve.addEventListener("click", function () {
          approveValue(ticketId, request.value, approve);
        });
        row.appendChild(approve);
      }
      asked.appendChild(row);
    });
    if (!asked.firstChild) asked.appendChild(el("li", "muted small", "无"));

    var approvals = $("guard-approvals");
    clear(approvals);
    guard.approvals.forEach(function (approval) {
      var row = withTestId(el("li", "guard-item"), "guard-approval");
      row.setAttribute("data-value", String(approval.value));
      row.appendChild(el("div", "code guard-value", approval.value));
      row.appendChild(el("div", "muted small", approval.approved_by + " · " + when(approval.at)));
      approvals.appendChild(row);
    });
    if (!approvals.firstChild) approvals.appendChild(el("li", "muted small", "无"));
  }

  // Approving takes a second click (确认已核实，放行) from a listed value; typed ones go at once.
  function approveValue(ticketId, value, control) {
    if (control && !control.classList.contains("confirm")) {
      control.classList.add("confirm");
      control.textContent = "确认已核实，放行";
      return;
    }
    if (control) control.disabled = true;
    $("guard-submit").disabled = true;
    api("POST", "/tickets/" + ticketId + "/guard/approve", { value: value }).then(function () {
      consoleInfo("已放行 " + shortValue(value) + "：该会话的客服现在可以发送它。");
      if (!control) $("guard-value").value = "";
      if (state.ticket && state.ticket.ticket_id === ticketId) {
        refreshGuard(state.ticket, state.guard.notes, true);
      }
    }, function (error) {
      if (control) control.disabled = false;
      if (quiet(error)) return;
      consoleError(error.status === 403 ? "只有主管和管理员可以核实放行。"
        : error.status === 400 ? "请填写完整的钱包地址、链接或联系方式（不能包含机密信息）。"
        : error.status === 503 ? "审计日志暂时无法写入：放行必须留有记录，本次未放行，请稍后再试。"
        : politeError(error, "放行"));
    }).then(function () {
      $("guard-submit").disabled = false;
    });
  }

  $("guard-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var value = $("guard-value").value.trim();
    if (state.guard.ticket === null) return;
    if (!value) {
      consoleError("请填写要放行的完整地址、链接或联系方式。");
      return;
    }
    approveValue(state.guard.ticket, value, null);
  });

  // Supervisors' alerts: unusual viewing and blocked replies, newest first.

  function alertText(alert) {
    var who = "客服 " + alert.actor;
    if (alert.kind === "unusual_viewing") {
      return who + " 短时间内查看了大量用户的账户信息";
    }
    if (alert.kind === "reply_blocked") {
      return who + " 的回复被拦截" + (alert.ticket_id ? "（会话 #" + alert.ticket_id + "）" : "");
    }
    return who + (alert.ticket_id ? " · 会话 #" + alert.ticket_id : "");
  }

  // The detail in words: what was blocked (masked), or how many panels were viewed.
  function alertDetail(alert) {
    if (alert.kind === "reply_blocked") {
      return "被拦截：" + blockedParts(alert.detail).map(function (part) {
        return label(BLOCKED_KINDS, part.kind) + (part.value ? " " + part.value : "");
      }).join("；");
    }
    var viewed = /^(\d+) panels in/.exec(String(alert.detail));
    if (alert.kind === "unusual_viewing" && viewed) {
      return "10 分钟内查看了 " + viewed[1] + " 个用户的账户信息";
    }
    return String(alert.detail);
  }

  function refreshAlerts() {
    if (!pages.session.token() || !pages.session.supervises()) return;
    api("GET", "/alerts").then(function (data) {
      state.alerts.list = (data && data.alerts) || [];
      renderAlerts();
      renderGuard();
    }, function () {});
  }

  function renderAlerts() {
    var alerts = state.alerts.list;
    var unseen = alerts.filter(function (alert) { return alert.alert_id > state.alerts.seen; });
    var count = $("alerts-count");
    count.textContent = String(unseen.length);
    count.classList.toggle("unseen", unseen.length > 0);
    var list = $("alerts");
    clear(list);
    alerts.forEach(function (alert) {
      var item = withTestId(el("li", "alert-item kind-" + alert.kind), "alert");
      item.setAttribute("data-kind", String(alert.kind));
      item.setAttribute("data-alert-id", String(alert.alert_id));
      if (alert.ticket_id) item.setAttribute("data-ticket-id", String(alert.ticket_id));
      if (alert.alert_id > state.alerts.seen) item.classList.add("unseen");
      var head = el("div", "row");
      head.appendChild(el("span", "badge alert-kind", label(ALERT_KINDS, alert.kind)));
      head.appendChild(withTestId(el("span", "", alertText(alert)), "alert-text"));
      head.appendChild(el("span", "meta wait", when(alert.at)));
      item.appendChild(head);
      if (alert.detail) {
        item.appendChild(withTestId(el("div", "preview", alertDetail(alert)), "alert-detail"));
      }
      if (alert.ticket_id) {
        item.tabIndex = 0;
        item.title = "打开会话 #" + alert.ticket_id;
        var open = function () {
          $("alerts-panel").classList.add("hidden");
          selectTicket(Number(alert.ticket_id));
        };
        item.addEventListener("click", open);
        item.addEventListener("keydown", function (event) {
          if (event.key === "Enter") open();
        });
      }
      list.appendChild(item);
    });
    if (!list.firstChild) list.appendChild(el("li", "empty small", "暂无告警"));
  }

  $("alerts-button").addEventListener("click", function () {
    var panel = $("alerts-panel");
    var opening = panel.classList.contains("hidden");
    panel.classList.toggle("hidden", !opening);
    if (!opening) return;
    closeSearch();
    renderAlerts();
    // What was listed when the panel opened counts as seen.
    state.alerts.list.forEach(function (alert) {
      state.alerts.seen = Math.max(state.alerts.seen, alert.alert_id);
    });
    $("alerts-count").textContent = "0";
    $("alerts-count").classList.remove("unseen");
    refreshAlerts();
  });
  $("alerts-close").addEventListener("click", function () {
    $("alerts-panel").classList.add("hidden");
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
