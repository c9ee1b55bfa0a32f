// The admins' page of the desk: every agent with role, teams, capacity, presence and load; create
// an agent, edit their role, teams and capacity, reset their password, disable them. Its 审计日志
// tab pages through the audit log (newest first, by actor) and exports it as CSV. Logs in like
// the console (same session); anyone but an admin sees why they cannot manage agents. Agent
// names and every other field go in through textContent. Shared helpers: common.js.
(function () {
  "use strict";

  var pages = AgentPages;
  var $ = pages.$;
  var el = pages.el;
  var clear = pages.clear;
  var REFRESH_MS = 10000;  // presence and load change as the desk works
  var TEAMS = ["general", "security"];
  var ROLES = ["agent", "supervisor", "admin"];
  var MIN_PASSWORD = 8;
  var MAX_CAPACITY = 20;
  var AUDIT_PAGE = 50;
  // The audit log's actions (bot/handoff/audit.py), as admins read them.
  var ACTIONS = {
    login: "登录",
    panel_view: "查看账户信息",
    panel_reveal: "显示完整信息",
    transfer: "转接会话",
    close: "结束会话",
    reply_blocked: "回复被拦截",
    guard_approval: "核实放行",
    takeover: "接管会话",
    agent_change: "客服账号变更",
    canned_change: "快捷回复变更"
  };
  // The API beside the page, for the CSV export (a file, not JSON: fetched here with the token).
  var API = window.location.pathname.replace(/\/[^\/]+\/?$/, "") + "/api";

  var state = {
    agents: [], editing: null, timer: null, generation: 0, tab: "agents",
    audit: { offset: 0, actor: "", total: 0, shown: 0, seq: 0 }
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

  // What went wrong, in words an admin can act on (the server's own text is English).
  function explain(error, action) {
    switch (error.status) {
      case -1: return "无法连接服务器，请检查网络后重试。";
      case 400:
        return action + "失败：" + (/password/.test(error.message)
          ? "密码至少 " + MIN_PASSWORD + " 位。"
          : /capacity/.test(error.message) ? "接待上限需为 1–" + MAX_CAPACITY + "。"
          : /teams/.test(error.message) ? "请至少选择一个团队。"
          : /themselves|own admin/.test(error.message) ? "管理员不能停用自己或取消自己的管理员角色。"
          : /username/.test(error.message) ? "用户名需为 1–64 个字符。"
          : "填写的内容不符合要求。");
      case 404: return action + "失败：该客服不存在。";
      case 409: return action + "失败：该用户名已被使用。";
      default: return action + "失败（错误 " + error.status + "），请稍后再试。";
    }
  }

  // A 401 sends the user to the login form; a 403 shows who may manage.
  var api = pages.guardedCall(state, function () {
    showLogin("登录已失效，请重新登录。");
  }, showDenied);

  function handled(error) { return error.status === 0 || error.status === 401 || error.status === 403; }

  function showLogin(message) {
    state.generation += 1;
    clearInterval(state.timer);
    $("admin-view").classList.add("hidden");
    $("login-view").classList.remove("hidden");
    $("login-error").textContent = message || "";
  }

  function showDenied() {
    clearInterval(state.timer);
    $("admin-main").classList.add("hidden");
    $("tabs").classList.add("hidden");
    $("audit-main").classList.add("hidden");
    $("denied").classList.remove("hidden");
  }

  function showAdmin() {
    $("login-view").classList.add("hidden");
    $("admin-view").classList.remove("hidden");
    $("denied").classList.add("hidden");
    $("who").textContent = pages.session.username() || "";
    load(true);
    clearInterval(state.timer);
    state.timer = setInterval(function () { load(false); }, REFRESH_MS);
  }

  // The list

  function load(first) {
    api("GET", "/admin/agents").then(function (data) {
      state.agents = (data && data.agents) || [];
      $("tabs").classList.remove("hidden");
      $("admin-main").classList.toggle("hidden", state.tab !== "agents");
      render();
    }, function (error) {
      if (!handled(error) && first) notify(explain(error, "加载客服列表"), true);
    });
  }

  function teamsText(teams) {
    return (teams || []).map(function (team) { return pages.name("teams", team); }).join("、");
  }

  function cell(row, text, testId) {
    var td = el("td", "", text);
    if (testId) td.setAttribute("data-testid", testId);
    row.appendChild(td);
    return td;
  }

  function render() {
    var body = $("agents");
    clear(body);
    var disabled = 0;
    state.agents.forEach(function (agent) {
      if (agent.disabled) disabled += 1;
      var row = el("tr", agent.disabled ? "disabled" : "");
      row.setAttribute("data-testid", "agent-row");
      row.setAttribute("data-username", String(agent.username));
      if (state.editing === agent.username) row.classList.add("selected");
      cell(row, agent.username, "agent-username").classList.add("code");
      cell(row, agent.display_name, "agent-display");
      cell(row, pages.name("roles", agent.role), "agent-role");
      cell(row, teamsText(agent.teams), "agent-teams");
      cell(row, agent.load + " / " + agent.capacity, "agent-load");
      var presence = agent.disabled ? "disabled" : String(agent.presence);
      var status = cell(row, "", "agent-presence");
      status.setAttribute("data-presence", presence);
      status.appendChild(el("span", "dot presence-" + presence));
      status.appendChild(document.createTextNode(
        agent.disabled ? "已停用" : pages.name("presence", agent.presence)
      ));
      var actions = cell(row, "");
      var edit = el("button", "secondary small", "编辑");
      edit.type = "button";
      edit.setAttribute("data-testid", "agent-edit");
      edit.addEventListener("click", function () { startEdit(agent); });
      actions.appendChild(edit);
      body.appendChild(row);
    });
    if (!state.agents.length) {
      var empty = el("tr");
      var td = el("td", "muted", "还没有客服账号");
      td.colSpan = 7;
      empty.appendChild(td);
      body.appendChild(empty);
    }
    $("agent-count").textContent = "共 " + state.agents.length + " 个账号" +
      (disabled ? "，已停用 " + disabled + " 个" : "");
    if (state.editing && !find(state.editing)) stopEdit();
  }

  function find(username) {
    return state.agents.filter(function (agent) { return agent.username === username; })[0];
  }

  // Forms

  function fillRoles(select) {
    clear(select);
    ROLES.forEach(function (role) {
      var option = el("option", "", pages.name("roles", role));
      option.value = role;
      select.appendChild(option);
    });
  }

  function fillTeams(box, prefix) {
    clear(box);
    TEAMS.forEach(function (team) {
      var item = el("label", "check");
      var input = el("input");
      input.type = "checkbox";
      input.value = team;
      input.id = prefix + "-team-" + team;
      input.setAttribute("data-testid", prefix + "-team-" + team);
      item.appendChild(input);
      item.appendChild(document.createTextNode(" " + pages.name("teams", team)));
      box.appendChild(item);
    });
  }

  function checkedTeams(box) {
    var chosen = [];
    box.querySelectorAll("input[type=checkbox]").forEach(function (input) {
      if (input.checked) chosen.push(input.value);
    });
    return chosen;
  }

  function setTeams(box, teams) {
    box.querySelectorAll("input[type=checkbox]").forEach(function (input) {
      input.checked = (teams || []).indexOf(input.value) >= 0;
    });
  }

  function capacityOf(input) {
    var value = Number(input.value);
    return Math.floor(value) === value && value >= 1 && value <= MAX_CAPACITY ? value : null;
  }

  function resetCreate() {
    $("create-username").value = "";
    $("create-display").value = "";
    $("create-password").value = "";
    $("create-role").value = "agent";
    setTeams($("create-teams"), ["general"]);
    $("create-capacity").value = "3";
  }

  $("create-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var username = $("create-username").value.trim();
    var password = $("create-password").value;
    var teams = checkedTeams($("create-teams"));
    var capacity = capacityOf($("create-capacity"));
    if (!username) { notify("请填写用户名。", true); return; }
    if (password.length < MIN_PASSWORD) { notify("密码至少 " + MIN_PASSWORD + " 位。", true); return; }
    if (!teams.length) { notify("请至少选择一个团队。", true); return; }
    if (capacity === null) { notify("接待上限需为 1–" + MAX_CAPACITY + " 的整数。", true); return; }
    var body = {
      username: username,
      display_name: $("create-display").value.trim() || username,
      password: password,
      role: $("create-role").value,
      teams: teams,
      capacity: capacity
    };
    $("create-submit").disabled = true;
    api("POST", "/admin/agents", body).then(function (data) {
      notify("已创建客服 " + ((data && data.agent && data.agent.username) || username) + "。");
      resetCreate();
      load(false);
    }, function (error) {
      if (!handled(error)) notify(explain(error, "创建"), true);
    }).then(function () {
      $("create-submit").disabled = false;
    });
  });

  function startEdit(agent) {
    state.editing = agent.username;
    $("edit-name").textContent = agent.display_name + "（" + agent.username + "）";
    $("edit-display").value = agent.display_name;
    $("edit-role").value = agent.role;
    setTeams($("edit-teams"), agent.teams);
    $("edit-capacity").value = String(agent.capacity);
    $("reset-password").value = "";
    var disable = $("disable-button");
    disable.classList.remove("confirm");
    disable.textContent = agent.disabled ? "已停用" : "停用";
    disable.disabled = !!agent.disabled || agent.username === pages.session.username();
    $("create-form").classList.add("hidden");
    $("edit-form").classList.remove("hidden");
    hideNotice();
    render();
  }

  function stopEdit() {
    state.editing = null;
    $("edit-form").classList.add("hidden");
    $("create-form").classList.remove("hidden");
    render();
  }

  $("edit-cancel").addEventListener("click", stopEdit);

  $("edit-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var username = state.editing;
    if (!username) return;
    var teams = checkedTeams($("edit-teams"));
    var capacity = capacityOf($("edit-capacity"));
    if (!teams.length) { notify("请至少选择一个团队。", true); return; }
    if (capacity === null) { notify("接待上限需为 1–" + MAX_CAPACITY + " 的整数。", true); return; }
    var body = {
      display_name: $("edit-display").value.trim() || null,
      role: $("edit-role").value,
      teams: teams,
      capacity: capacity
    };
    $("edit-save").disabled = true;
    api("POST", "/admin/agents/" + encodeURIComponent(username), body).then(function () {
      notify("已保存 " + username + " 的设置。");
      stopEdit();
      load(false);
    }, function (error) {
      if (!handled(error)) notify(explain(error, "保存"), true);
    }).then(function () {
      $("edit-save").disabled = false;
    });
  });

  $("reset-submit").addEventListener("click", function () {
    var username = state.editing;
    var password = $("reset-password").value;
    if (!username) return;
    if (password.length < MIN_PASSWORD) { notify("新密码至少 " + MIN_PASSWORD + " 位。", true); return; }
    $("reset-submit").disabled = true;
    var path = "/admin/agents/" + encodeURIComponent(username) + "/password";
    api("POST", path, { password: password }).then(function () {
      $("reset-password").value = "";
      notify("已重置 " + username + " 的密码，其原有登录已失效。");
      load(false);
    }, function (error) {
      if (!handled(error)) notify(explain(error, "重置密码"), true);
    }).then(function () {
      $("reset-submit").disabled = false;
    });
  });

  // Disabling takes a second click ("确认停用").
  $("disable-button").addEventListener("click", function () {
    var username = state.editing;
    var control = $("disable-button");
    if (!username) return;
    if (!control.classList.contains("confirm")) {
      control.classList.add("confirm");
      control.textContent = "确认停用";
      return;
    }
    control.disabled = true;
    var path = "/admin/agents/" + encodeURIComponent(username) + "/disable";
    api("POST", path, {}).then(function (data) {
      var released = (data && data.released) || [];
      notify("已停用 " + username + "。" + (released.length
        ? "其 " + released.length + " 个会话已退回队列。" : ""));
      stopEdit();
      load(false);
    }, function (error) {
      control.disabled = false;
      if (!handled(error)) notify(explain(error, "停用"), true);
    });
  });

  // The audit log tab: newest first, a page at a time, by actor when one is typed.

  function showTab(tab) {
    state.tab = tab;
    var audit = tab === "audit";
    $("tab-agents").classList.toggle("active", !audit);
    $("tab-audit").classList.toggle("active", audit);
    $("tab-agents").setAttribute("aria-selected", String(!audit));
    $("tab-audit").setAttribute("aria-selected", String(audit));
    $("admin-main").classList.toggle("hidden", audit);
    $("audit-main").classList.toggle("hidden", !audit);
    $("agent-count").classList.toggle("hidden", audit);
    hideNotice();
    if (audit) loadAudit();
  }

  $("tab-agents").addEventListener("click", function () { showTab("agents"); });
  $("tab-audit").addEventListener("click", function () { showTab("audit"); });

  function actionName(action) {
    return Object.prototype.hasOwnProperty.call(ACTIONS, action) ? ACTIONS[action] : String(action);
  }

  // "ticket:12" is 会话 #12, "agent:li" 客服 li; other targets as stored.
  function targetText(target) {
    var text = String(target || "");
    var ticket = /^ticket:(\d+)$/.exec(text);
    if (ticket) return "会话 #" + ticket[1];
    if (text.indexOf("agent:") === 0) return "客服 " + text.slice(6);
    if (text.indexOf("canned:") === 0) return "快捷回复 " + text.slice(7);
    return text || "—";
  }

  function auditTime(iso) {
    var date = new Date(iso);
    return isNaN(date.getTime()) ? String(iso) : date.toLocaleString("zh-CN", { hour12: false });
  }

  function loadAudit() {
    var audit = state.audit;
    var seq = ++audit.seq;
    var query = "?limit=" + AUDIT_PAGE + "&offset=" + audit.offset +
      (audit.actor ? "&actor=" + encodeURIComponent(audit.actor) : "");
    api("GET", "/audit" + query).then(function (data) {
      if (seq !== audit.seq) return;
      audit.total = Number(data && data.total) || 0;
      renderAudit((data && data.entries) || []);
    }, function (error) {
      if (seq === audit.seq && !handled(error)) notify(explain(error, "加载审计日志"), true);
    });
  }

  function renderAudit(entries) {
    var audit = state.audit;
    var body = $("audit-entries");
    clear(body);
    entries.forEach(function (entry) {
      var row = el("tr");
      row.setAttribute("data-testid", "audit-row");
      row.setAttribute("data-action", String(entry.action));
      row.setAttribute("data-entry-id", String(entry.entry_id));
      cell(row, auditTime(entry.at), "audit-at").className = "when";
      cell(row, entry.actor, "audit-actor-cell").classList.add("code");
      var action = cell(row, "", "audit-action");
      action.appendChild(el("span", "badge action " + entry.action, actionName(entry.action)));
      cell(row, targetText(entry.target), "audit-target");
      cell(row, entry.detail || "", "audit-detail").className = "detail";
      body.appendChild(row);
    });
    if (!entries.length) {
      var empty = el("tr");
      var td = el("td", "muted", audit.actor ? "该操作人没有记录" : "还没有记录");
      td.colSpan = 5;
      empty.appendChild(td);
      body.appendChild(empty);
    }
    audit.shown = entries.length;
    // The total counts every entry: with an actor filter a full page may have more after it.
    var more = audit.actor ? entries.length === AUDIT_PAGE : audit.offset + entries.length < audit.total;
    $("audit-prev").disabled = audit.offset === 0;
    $("audit-next").disabled = !more;
    $("audit-range").textContent = (entries.length
      ? "第 " + (audit.offset + 1) + "–" + (audit.offset + entries.length) + " 条"
      : "没有记录") + (audit.actor ? "（操作人 " + audit.actor + "）" : "，共 " + audit.total + " 条");
  }

  $("audit-prev").addEventListener("click", function () {
    state.audit.offset = Math.max(0, state.audit.offset - AUDIT_PAGE);
    loadAudit();
  });
  $("audit-next").addEventListener("click", function () {
    state.audit.offset += AUDIT_PAGE;
    loadAudit();
  });
  $("audit-filter").addEventListener("submit", function (event) {
    event.preventDefault();
    state.audit.actor = $("audit-actor").value.trim();
    state.audit.offset = 0;
    loadAudit();
  });

  // The CSV (every entry, or the actor's) as a download: the token is the page's, so the file
  // is fetched here and handed to the browser as a Blob.
  $("audit-export").addEventListener("click", function () {
    var control = $("audit-export");
    var actor = state.audit.actor;
    control.disabled = true;
    fetch(API + "/audit.csv" + (actor ? "?actor=" + encodeURIComponent(actor) : ""), {
      headers: { "Authorization": "Bearer " + (pages.session.token() || "") },
      cache: "no-store",
      credentials: "omit"
    }).then(function (response) {
      if (response.status === 401) {
        pages.session.forget();
        showLogin("登录已失效，请重新登录。");
        return null;
      }
      if (response.status === 403) {
        showDenied();
        return null;
      }
      if (!response.ok) {
        notify("导出失败（错误 " + response.status + "），请稍后再试。", true);
        return null;
      }
      return response.blob();
    }).then(function (blob) {
      if (!blob) return;
      var stamp = new Date().toISOString().slice(0, 10);
      var link = el("a");
      link.href = URL.createObjectURL(blob);
      link.download = "audit-log-" + stamp + (actor ? "-" + actor : "") + ".csv";
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(function () { URL.revokeObjectURL(link.href); }, 10000);
      notify("已导出审计日志" + (actor ? "（操作人 " + actor + "）" : "") + "。");
    }, function () {
      notify("无法连接服务器，请检查网络后重试。", true);
    }).then(function () {
      control.disabled = false;
    });
  });

  $("refresh").addEventListener("click", function () {
    if (state.tab === "audit") loadAudit(); else load(true);
  });

  $("logout").addEventListener("click", function () {
    if (pages.session.token()) pages.call("POST", "/logout").then(null, function () {});
    pages.session.forget();
    showLogin("");
  });

  pages.bindLogin(showAdmin);

  pages.loadNames().then(function () {
    fillRoles($("create-role"));
    fillRoles($("edit-role"));
    fillTeams($("create-teams"), "create");
    fillTeams($("edit-teams"), "edit");
    resetCreate();
    if (pages.session.token()) {
      showAdmin();
    } else {
      showLogin("");
    }
  });
})();
