// The lead's review inbox: messages the assistant missed, grouped, with their context; the lead
// picks the right intent (or out of scope, or ignore) with the keyboard or the mouse, and can
// mark entities by selecting text. Shared helpers, the session and the intents' names: common.js.
(function () {
  "use strict";

  var pages = AgentPages;
  var $ = pages.$;
  var el = pages.el;
  var clear = pages.clear;
  var PAGE = 30;
  var IGNORE = "ignore";
  var REASONS = {
    fallback: "未能理解", clarification: "追问澄清", none_of_these: "都不是",
    handoff: "转人工", low_rating: "低分评价", flagged: "客服标记"
  };

  var ACTIONS = {
    label: "标注", undo: "撤销标注", pin: "固定", unpin: "取消固定", flag: "客服标记",
    train: "开始训练", train_passed: "训练完成（评估通过）", train_refused: "训练完成（评估未通过）",
    train_failed: "训练失败", candidate: "生成新模型", approve: "批准上线", rollback: "回滚",
    adopt: "启用初始模型"
  };

  var state = {
    rows: [], total: 0, offset: 0, selected: 0,
    intents: [], entityKinds: [], spans: [], lastLabel: null, generation: 0
  };

  function intentName(intent) {
    if (intent === IGNORE) return "忽略（不作为训练数据）";
    return pages.hasName("intents", intent)
      ? pages.name("intents", intent) + "（" + intent + "）" : String(intent);
  }

  function notify(text, isError) {
    var notice = $("notice");
    notice.textContent = text;
    notice.classList.toggle("error", !!isError);
    notice.classList.remove("hidden");
  }

  function failed(error, what) {
    if (error.status === 401) { pages.session.forget(); showLogin("登录已失效，请重新登录"); return; }
    if (error.status === 403) { notify("只有主管账号可以复核消息。", true); return; }
    if (error.status === -1) { notify("网络错误，请稍后再试。", true); return; }
    notify(what + "失败：" + (error.message || "请稍后再试"), true);
  }

  function showLogin(message) {
    state.generation += 1;
    $("review-view").classList.add("hidden");
    $("login-view").classList.remove("hidden");
    $("login-error").textContent = message || "";
  }

  function current() { return state.rows[state.selected] || null; }

  function renderInbox() {
    var list = $("inbox");
    clear(list);
    state.rows.forEach(function (row, index) {
      var item = el("li", index === state.selected ? "selected" : "");
      item.setAttribute("data-testid", "inbox-row");
      item.appendChild(el("span", "count", "×" + row.count));
      item.appendChild(el("div", "row-text", row.text));
      var chips = el("div");
      row.reasons.forEach(function (reason) {
        chips.appendChild(el("span", "chip", REASONS[reason] || reason));
      });
      item.appendChild(chips);
      item.addEventListener("click", function () { select(index); });
      list.appendChild(item);
    });
    var last = Math.min(state.offset + state.rows.length, state.total);
    $("range").textContent = state.total ? (state.offset + 1) + "–" + last + " / " + state.total : "";
    $("inbox-count").textContent = "待复核 " + state.total + " 组";
    $("prev").disabled = state.offset === 0;
    $("next").disabled = last >= state.total;
  }

  function renderDetail() {
    var row = current();
    $("detail").classList.toggle("hidden", !row);
    $("detail-empty").classList.toggle("hidden", !!row);
    if (!row) return;
    $("detail-text").textContent = row.text;
    var confidence = row.confidence === null ? "—" : (row.confidence * 100).toFixed(0) + "%";
    $("detail-meta").textContent = "模型判断：" + (row.intent ? intentName(row.intent) : "—") +
      " · 置信度 " + confidence + " · 渠道 " + pages.name("channels", row.channel) +
      " · 最近 " + new Date(row.newest_at).toLocaleString("zh-CN") + " · 共 " + row.count + " 条";
    var context = $("detail-context");
    clear(context);
    row.context.forEach(function (turn) {
      var who = turn.speaker === "user" ? (turn.text.charAt(0) === "/" ? "用户点击了按钮：" : "用户：") : "机器人：";
      var item = el("li", turn.speaker + (turn.speaker === "user" && turn.text === row.text ? " current" : ""),
        who + turn.text);
      context.appendChild(item);
    });
    var examples = $("detail-examples");
    clear(examples);
    row.examples.forEach(function (text) { examples.appendChild(el("li", "", text)); });
    state.spans = [];
    renderSpans();
    $("pin").checked = false;
    renderIntents();
  }

  function filtered() {
    var query = $("intent-filter").value.trim().toLowerCase();
    return state.intents.filter(function (intent) {
      return !query || intent.toLowerCase().indexOf(query) >= 0 ||
        intentName(intent).toLowerCase().indexOf(query) >= 0;
    });
  }

  function renderIntents() {
    var list = $("intents");
    clear(list);
    filtered().forEach(function (intent) {
      var item = el("li", "", intentName(intent));
      item.setAttribute("data-testid", "intent-" + intent);
      item.addEventListener("click", function () { label(intent); });
      list.appendChild(item);
    });
  }

  function renderSpans() {
    $("entities").textContent = state.spans.map(function (span) {
      return span.value + " → " + span.entity;
    }).join("，");
  }

  function select(index) {
    if (!state.rows.length) { state.selected = 0; renderInbox(); renderDetail(); return; }
    state.selected = Math.max(0, Math.min(index, state.rows.length - 1));
    renderInbox();
    renderDetail();
    var item = $("inbox").children[state.selected];
    if (item && item.scrollIntoView) item.scrollIntoView({ block: "nearest" });
  }

  function loadInbox() {
    var mine = state.generation;
    return pages.call("GET", "/review?limit=" + PAGE + "&offset=" + state.offset).then(function (data) {
      if (mine !== state.generation) return;
      $("login-view").classList.add("hidden");
      $("review-view").classList.remove("hidden");
      state.rows = data.rows;
      state.total = data.total;
      if (!state.rows.length && state.offset > 0) {
        state.offset = Math.max(0, state.offset - PAGE);
        loadInbox();
        return;
      }
      select(state.selected);
    }, function (error) { if (mine === state.generation) failed(error, "读取"); });
  }

  function loadLabels() {
    return pages.call("GET", "/review/labels").then(function (data) {
      var body = $("labels");
      clear(body);
      $("labels-count").textContent = "共 " + data.labels.length + " 条";
      data.labels.forEach(function (item) {
        var tr = el("tr");
        tr.setAttribute("data-testid", "label-row");
        tr.appendChild(el("td", "", item.text));
        tr.appendChild(el("td", "", intentName(item.intent)));
        tr.appendChild(el("td", "", item.labelled_by));
        var pinCell = el("td");
        var pin = el("button", "secondary", item.pinned ? "取消固定" : "固定");
        pin.addEventListener("click", function () { setPinned(item.label_id, !item.pinned); });
        pinCell.appendChild(pin);
        tr.appendChild(pinCell);
        var undoCell = el("td");
        var undoButton = el("button", "secondary", "撤销");
        undoButton.setAttribute("data-testid", "undo-label");
        undoButton.addEventListener("click", function () { undo(item.label_id); });
        undoCell.appendChild(undoButton);
        tr.appendChild(undoCell);
        body.appendChild(tr);
      });
    }, function (error) { failed(error, "读取标注"); });
  }

  function loadAudit() {
    return pages.call("GET", "/review/audit?limit=50").then(function (data) {
      var body = $("audit");
      clear(body);
      data.entries.forEach(function (entry) {
        var tr = el("tr");
        tr.setAttribute("data-testid", "audit-row");
        tr.appendChild(el("td", "", new Date(entry.at).toLocaleString("zh-CN")));
        tr.appendChild(el("td", "", entry.actor));
        tr.appendChild(el("td", "", ACTIONS[entry.action] || entry.action));
        var details = entry.details || {};
        var what = details.intent ? intentName(details.intent)
          : details.conversation_id ? "会话 " + details.conversation_id : "";
        tr.appendChild(el("td", "", what));
        body.appendChild(tr);
      });
    }, function (error) { failed(error, "读取操作记录"); });
  }

  // Training, the gate's verdict, approval, rollback and every server's model.
  var STAGES = { export: "导出标注", train: "训练中", gate: "对比评估", store: "保存", done: "完成" };
  var RUN_STATES = { running: "训练中", passed: "评估通过", refused: "评估未通过", failed: "训练失败" };
  var VERSION_STATES = { candidate: "待批准", refused: "未通过", live: "线上", retired: "已下线" };
  var REASON_KINDS = {
    overall_drop: "总体准确率下降超过 0.5 个百分点",
    category_drop: "某一类别准确率下降超过 2 个百分点",
    pinned_missed: "固定样例判断错误"
  };
  var trainingTimer = null;

  function points(value) { return value === null || value === undefined ? "—" : value.toFixed(2); }

  function change(live, candidate) {
    if (live === null || candidate === null || live === undefined || candidate === undefined) return "—";
    var delta = candidate - live;
    return (delta >= 0 ? "+" : "") + delta.toFixed(2);
  }

  function scoreRow(name, examples, live, candidate) {
    var tr = el("tr");
    [name, examples, points(live), points(candidate), change(live, candidate)].forEach(function (cell) {
      tr.appendChild(el("td", "", cell));
    });
    return tr;
  }

  function renderVerdict(version) {
    var verdict = version && version.verdict;
    $("verdict").classList.toggle("hidden", !verdict);
    if (!verdict) return;
    $("verdict-result").textContent = verdict.passed ? "（通过）" : "（未通过，不能上线）";
    var reasons = $("verdict-reasons");
    clear(reasons);
    verdict.reasons.forEach(function (reason) {
      reasons.appendChild(el("li", "worse", (REASON_KINDS[reason.kind] || reason.kind) + "：" +
        reason.subject + "（" + points(reason.live) + " → " + points(reason.candidate) + "）"));
    });
    var scores = $("verdict-scores");
    clear(scores);
    scores.appendChild(scoreRow("留出集（总体）", verdict.heldout_examples, verdict.overall_live, verdict.overall_candidate));
    verdict.categories.forEach(function (category) {
      scores.appendChild(scoreRow("　" + category.category, category.examples, category.live, category.candidate));
    });
    scores.appendChild(scoreRow("已标注的消息", verdict.regression_examples, verdict.regression_live, verdict.regression_candidate));
    scores.appendChild(scoreRow("固定样例", verdict.pinned_examples, verdict.pinned_live, verdict.pinned_candidate));
    var changes = $("verdict-changes");
    clear(changes);
    verdict.changes.forEach(function (item) {
      var tr = el("tr", item.direction);
      tr.setAttribute("data-testid", "verdict-change");
      [{ worse: "变差", better: "变好", other: "变化" }[item.direction] || item.direction, item.text,
        intentName(item.expected), intentName(item.live), intentName(item.candidate)].forEach(function (cell) {
        tr.appendChild(el("td", "", cell));
      });
      changes.appendChild(tr);
    });
    var approve = $("approve");
    approve.classList.toggle("hidden", version.state !== "candidate");
    approve.onclick = function () { approveVersion(version.version_id); };
  }

  function renderRun(run) {
    var status = $("training-status");
    var bar = $("training-progress");
    if (!run) { status.textContent = "尚未训练过新模型"; bar.classList.add("hidden"); return false; }
    var text = "第 " + run.run_id + " 次训练 · " + (RUN_STATES[run.state] || run.state);
    if (run.state === "running") {
      text += " · " + (STAGES[run.stage] || run.stage) + " " + run.percent + "%";
      if (run.eta_seconds !== null) text += " · 预计还需 " + Math.max(1, Math.round(run.eta_seconds)) + " 秒";
    }
    if (run.state === "failed" && run.error) text += "：" + run.error + "（可以重新训练）";
    status.textContent = text;
    bar.classList.toggle("hidden", run.state !== "running");
    $("training-bar").style.width = run.percent + "%";
    $("train").disabled = run.state === "running";
    return run.state === "running";
  }

  function loadTraining() {
    return pages.call("GET", "/review/training").then(function (data) {
      var running = renderRun(data.run);
      if (running && !trainingTimer) {
        trainingTimer = setInterval(loadTraining, 2000);
      } else if (!running && trainingTimer) {
        clearInterval(trainingTimer);
        trainingTimer = null;
        loadModels();
      }
    }, function (error) { failed(error, "读取训练进度"); });
  }

  function loadModels() {
    return pages.call("GET", "/review/models").then(function (data) {
      var versions = $("versions");
      clear(versions);
      data.versions.forEach(function (version) {
        var tr = el("tr");
        tr.setAttribute("data-testid", "version-row");
        [version.digest.slice(0, 12), VERSION_STATES[version.state] || version.state, version.created_by,
          new Date(version.created_at).toLocaleString("zh-CN"), version.approved_by || "—"].forEach(function (cell) {
          tr.appendChild(el("td", "", cell));
        });
        versions.appendChild(tr);
      });
      var newest = data.versions[0];
      renderVerdict(newest && (newest.state === "candidate" || newest.state === "refused") ? newest : null);
      var servers = $("servers");
      clear(servers);
      data.servers.forEach(function (server) {
        var tr = el("tr");
        tr.setAttribute("data-testid", "server-row");
        [server.server_id, server.digest.slice(0, 12), new Date(server.loaded_at).toLocaleString("zh-CN")].forEach(function (cell) {
          tr.appendChild(el("td", "", cell));
        });
        servers.appendChild(tr);
      });
    }, function (error) { failed(error, "读取模型版本"); });
  }

  function approveVersion(versionId) {
    pages.call("POST", "/review/models/" + versionId + "/approve").then(function () {
      notify("已批准上线：各服务器会在几秒内切换到新模型。");
      loadModels();
      loadAudit();
    }, function (error) {
      if (error.status === 409) { notify("没有批准：" + (error.message || "状态已变化") + "。", true); loadModels(); return; }
      failed(error, "批准");
    });
  }

  $("train").addEventListener("click", function () {
    pages.call("POST", "/review/training").then(function () {
      notify("已开始训练新模型，训练不影响线上服务。");
      loadTraining();
    }, function (error) {
      if (error.status === 409) { notify("已有一次训练正在进行，请等它结束。", true); loadTraining(); return; }
      failed(error, "开始训练");
    });
  });

  $("rollback").addEventListener("click", function () {
    pages.call("POST", "/review/models/rollback").then(function () {
      notify("已回滚到上一个模型：各服务器会在几秒内切换。");
      loadModels();
      loadAudit();
    }, function (error) {
      if (error.status === 409) { notify("没有可以回滚的上一个模型。", true); return; }
      failed(error, "回滚");
    });
  });

  function load() {
    if (!pages.session.token()) { showLogin(""); return; }
    var first = state.intents.length ? Promise.resolve(null) : pages.call("GET", "/review/intents");
    first.then(function (data) {
      if (data) {
        state.intents = data.intents;
        state.entityKinds = data.entities;
        var kinds = $("entity-kind");
        clear(kinds);
        state.entityKinds.forEach(function (kind) { kinds.appendChild(el("option", "", kind)); });
      }
      loadInbox();
      loadLabels();
      loadAudit();
      loadTraining();
      loadModels();
    }, function (error) { failed(error, "读取"); });
  }

  function label(intent) {
    var row = current();
    if (!row) return;
    var body = { text: row.text, intent: intent, entities: state.spans, pinned: $("pin").checked };
    pages.call("POST", "/review/labels", body).then(function (data) {
      state.lastLabel = data.label.label_id;
      notify("已标注为「" + intentName(intent) + "」。按 u 撤销。");
      $("intent-filter").value = "";
      $("inbox").focus();  // the shortcuts again: the next message, or u to undo
      loadInbox();
      loadLabels();
      loadAudit();
    }, function (error) { failed(error, "标注"); });
  }

  function undo(labelId) {
    pages.call("POST", "/review/labels/" + labelId + "/undo").then(function () {
      notify("已撤销标注，消息回到待复核列表。");
      if (labelId === state.lastLabel) state.lastLabel = null;
      loadInbox();
      loadLabels();
      loadAudit();
    }, function (error) { failed(error, "撤销"); });
  }

  function setPinned(labelId, pinned) {
    pages.call("POST", "/review/labels/" + labelId + "/pin", { pinned: pinned }).then(function () {
      loadLabels();
      loadAudit();
    }, function (error) { failed(error, "固定"); });
  }

  function markEntity() {
    var row = current();
    var selection = window.getSelection();
    var node = $("detail-text");
    if (!row || !selection || selection.rangeCount === 0) return;
    var range = selection.getRangeAt(0);
    if (!node.contains(range.startContainer) || !node.contains(range.endContainer)) {
      notify("请先在消息文字中选中要标记的部分。", true);
      return;
    }
    var before = document.createRange();
    before.selectNodeContents(node);
    before.setEnd(range.startContainer, range.startOffset);
    var start = before.toString().length;
    var value = range.toString();
    if (!value) return;
    state.spans.push({ start: start, end: start + value.length, entity: $("entity-kind").value, value: value });
    renderSpans();
  }

  document.addEventListener("keydown", function (event) {
    if ($("review-view").classList.contains("hidden") || event.ctrlKey || event.metaKey || event.altKey) return;
    var typing = event.target && (event.target.tagName === "INPUT" || event.target.tagName === "SELECT");
    if (event.target === $("intent-filter")) {
      if (event.key === "Enter") {
        var first = filtered()[0];
        if (first) label(first);
        event.preventDefault();
      } else if (event.key === "Escape") {
        $("intent-filter").blur();
      }
      return;
    }
    if (typing) return;
    var key = event.key;
    if (key === "ArrowDown" || key === "j") { select(state.selected + 1); event.preventDefault(); }
    else if (key === "ArrowUp" || key === "k") { select(state.selected - 1); event.preventDefault(); }
    else if (key === "/") { $("intent-filter").focus(); event.preventDefault(); }
    else if (key === "o") { label("out_of_scope"); }
    else if (key === "x") { label(IGNORE); }
    else if (key === "p") { $("pin").checked = !$("pin").checked; }
    else if (key === "u" && state.lastLabel !== null) { undo(state.lastLabel); }
    else if (/^[1-9]$/.test(key)) {
      var choice = filtered()[Number(key) - 1];
      if (choice) label(choice);
    }
  });

  $("intent-filter").addEventListener("input", renderIntents);
  $("mark-entity").addEventListener("click", markEntity);
  $("refresh").addEventListener("click", load);
  $("prev").addEventListener("click", function () {
    state.offset = Math.max(0, state.offset - PAGE); state.selected = 0; loadInbox();
  });
  $("next").addEventListener("click", function () {
    state.offset += PAGE; state.selected = 0; loadInbox();
  });
  $("logout").addEventListener("click", function () {
    if (pages.session.token()) pages.call("POST", "/logout").then(null, function () {});
    pages.session.forget();
    showLogin("");
  });
  pages.bindLogin(function () { state.generation += 1; load(); });

  pages.loadNames().then(load);
}());
