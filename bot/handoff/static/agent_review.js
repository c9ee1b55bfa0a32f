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

  var ACTIONS = { label: "标注", undo: "撤销标注", pin: "固定", unpin: "取消固定", flag: "客服标记" };

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
      var who = turn.speaker === "user" ? "用户：" : "机器人：";
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
