// The in-app widget page: chat over socket.io, binding codes and the account's bound users.
// Labels come from the page's <template id="labels">; user and bot text only via textContent.
// Typing both ways: "客服正在输入…" while the bot works on a message (until its answer or the
// server's ack) or while the agent types (agent_typing, for 8 s unless refreshed); the user's
// own typing goes out as user_typing, at most once every 3 s, false when the box is cleared or
// the message sent. It goes out whoever answers (the page cannot tell an agent from the bot):
// the server keeps it only in an open ticket.
// A bot message with an evidence card (a transfer's facts for an exchange's support) is drawn as
// the card instead of its text: title, label/value rows, a button that copies the rows as
// "label：value" lines (the server's copy_text) and the explorer link.
(function () {
  "use strict";
  var labels = {};
  document.getElementById("labels").content.querySelectorAll("[data-key]").forEach(function (el) {
    labels[el.getAttribute("data-key")] = el.textContent;
  });
  var REFUSALS = ["missing token", "token expired", "invalid token", "token has no subject"];
  var RETRY_AFTER_MS = 60000;
  var TYPING_EVERY_MS = 3000, AGENT_TYPING_FOR_MS = 8000;

  // The app passes the token in the URL fragment (never sent to servers or logs).
  var fromFragment = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromFragment) {
    sessionStorage.setItem("im_widget_token", fromFragment);
    history.replaceState(null, "", location.pathname);
  }
  var token = sessionStorage.getItem("im_widget_token") || "";
  var log = document.getElementById("log"), statusEl = document.getElementById("status");
  var notice = document.getElementById("notice"), typing = document.getElementById("typing");
  var input = document.getElementById("text"), send = document.getElementById("send");
  var panel = document.getElementById("bindings"), toggle = document.getElementById("bindings-toggle");
  var list = document.getElementById("bindings-list"), empty = document.getElementById("bindings-empty");

  // The typing line: shown while the bot is working on a message or the agent is typing.
  var botWorking = false, agentTyping = false, agentTypingTimer = null;
  function showTyping() { typing.hidden = !(botWorking || agentTyping); }
  function setBotWorking(on) { botWorking = on; showTyping(); }
  function setAgentTyping(on) {
    clearTimeout(agentTypingTimer);
    agentTyping = on;
    if (on) agentTypingTimer = setTimeout(function () { setAgentTyping(false); }, AGENT_TYPING_FOR_MS);
    showTyping();
  }
  // The user's typing: true again only after TYPING_EVERY_MS, false only after a true.
  var typingSent = false, typingSentAt = 0;
  function userTyping(on) {
    if (!socket.connected) return;
    var now = Date.now();
    if (on ? typingSent && now - typingSentAt < TYPING_EVERY_MS : !typingSent) return;
    typingSent = on; typingSentAt = now;
    socket.emit("user_typing", { typing: on });
  }
  function showNotice(text) { notice.textContent = text; notice.hidden = false; }
  function refuse(reason) {
    var why = REFUSALS.indexOf(reason) >= 0 ? labels[reason] : labels["refused-other"];
    showNotice(labels.refused + why + labels["refused-after"]);
    statusEl.textContent = labels.offline; send.disabled = true; input.disabled = true;
  }
  function scroll() { log.scrollTop = log.scrollHeight; }
  // A help-center article's address in a bot message becomes a link that opens it; the rest of
  // the text stays text, and no other address is ever made clickable.
  var ARTICLE_LINK = /(?:https?:\/\/[^\s\/]+)?\/help\/articles\/[a-z0-9-]+/g;
  function fillText(bubble, role, text) {
    if (role !== "bot") { bubble.textContent = text; return; }
    var shown = 0, match;
    ARTICLE_LINK.lastIndex = 0;
    while ((match = ARTICLE_LINK.exec(text)) !== null) {
      bubble.appendChild(document.createTextNode(text.slice(shown, match.index)));
      var link = document.createElement("a"); link.href = match[0]; link.textContent = labels["read-article"];
      link.target = "_blank"; link.rel = "noopener"; link.setAttribute("data-testid", "article-link");
      bubble.appendChild(link); shown = match.index + match[0].length;
    }
    bubble.appendChild(document.createTextNode(text.slice(shown)));
  }
  // The clipboard API where the page may use it (a secure context), else a selected text area.
  function copyBySelection(text) {
    var area = document.createElement("textarea"); area.className = "offscreen"; area.value = text;
    area.setAttribute("readonly", ""); document.body.appendChild(area); area.select();
    var copied = false;
    try { copied = document.execCommand("copy"); } catch (ignored) { copied = false; }
    document.body.removeChild(area);
    return copied ? Promise.resolve() : Promise.reject(new Error("copy failed"));
  }
  function copyText(text) {
    if (!navigator.clipboard || !window.isSecureContext) return copyBySelection(text);
    return navigator.clipboard.writeText(text).catch(function () { return copyBySelection(text); });
  }
  function textElement(tag, className, text) {
    var node = document.createElement(tag); node.className = className; node.textContent = text;
    return node;
  }
  var WEB_LINK = /^https?:\/\/[^\s]+$/i;
  function fillCard(bubble, card) {
    bubble.classList.add("card"); bubble.setAttribute("data-testid", "evidence-card");
    bubble.appendChild(textElement("div", "card-title", card.title));
    var rows = document.createElement("dl"); rows.className = "card-rows";
    card.fields.forEach(function (field) {
      var row = document.createElement("div"); row.className = "card-row"; row.setAttribute("data-testid", "card-row");
      row.appendChild(textElement("dt", "", field.label)); row.appendChild(textElement("dd", "", field.value));
      rows.appendChild(row);
    });
    bubble.appendChild(rows);
    var actions = document.createElement("div"); actions.className = "card-actions";
    var copy = textElement("button", "", card.copy_label); copy.type = "button"; copy.setAttribute("data-testid", "card-copy");
    var restore = null;
    copy.addEventListener("click", function () {
      copyText(card.copy_text).then(function () { copy.textContent = card.copied_label; },
        function () { copy.textContent = labels["copy-failed"]; });
      clearTimeout(restore);
      restore = setTimeout(function () { copy.textContent = card.copy_label; }, 2000);
    });
    actions.appendChild(copy);
    if (typeof card.explorer_link === "string" && WEB_LINK.test(card.explorer_link)) {
      var link = textElement("a", "", labels["explorer-link"]); link.href = card.explorer_link;
      link.target = "_blank"; link.rel = "noopener"; link.setAttribute("data-testid", "card-explorer-link");
      actions.appendChild(link);
    }
    bubble.appendChild(actions);
  }
  function isCard(card) {
    return !!card && typeof card.title === "string" && Array.isArray(card.fields) && typeof card.copy_text === "string";
  }
  function addMessage(role, text, buttons, card) {
    var row = document.createElement("div"); row.className = "row " + role; row.setAttribute("data-testid", role + "-message");
    var bubble = document.createElement("div"); bubble.className = "bubble";
    if (role === "bot" && isCard(card)) fillCard(bubble, card); else fillText(bubble, role, text || "");
    if (buttons && buttons.length) {
      var box = document.createElement("div"); box.className = "buttons";
      buttons.forEach(function (b) {
        var button = document.createElement("button"); button.type = "button"; button.textContent = b.title;
        button.setAttribute("data-testid", "reply-button");
        button.addEventListener("click", function () {
          box.querySelectorAll("button").forEach(function (x) { x.disabled = true; });
          say(b.payload, b.title);
        });
        box.appendChild(button);
      });
      bubble.appendChild(box);
    }
    row.appendChild(bubble); log.appendChild(row); scroll();
  }
  function say(message, shown) {
    if (!socket.connected) return;
    addMessage("user", shown || message);
    setBotWorking(true);
    // The ack comes when the turn is over: with an agent on the conversation the bot says nothing.
    socket.emit("user_uttered", { message: message }, function () { setBotWorking(false); });
    userTyping(false);
  }
  function boundAt(iso) {
    var when = new Date(iso);
    return isNaN(when) ? "" : labels["bound-at"] + when.toLocaleString("zh-CN", { hour12: false });
  }
  function showBindings(bindings) {
    list.textContent = "";
    empty.hidden = bindings.length > 0;
    bindings.forEach(function (binding) {
      var item = document.createElement("li"); item.setAttribute("data-testid", "binding");
      var about = document.createElement("div");
      var who = document.createElement("div"); who.className = "who";
      who.textContent = (labels["platform-" + binding.platform] || binding.platform) + " · " + binding.user;
      var when = document.createElement("div"); when.className = "when"; when.textContent = boundAt(binding.bound_at);
      about.appendChild(who); about.appendChild(when);
      var button = document.createElement("button"); button.type = "button";
      button.textContent = labels.unbind; button.setAttribute("data-testid", "unbind");
      // Two steps: the first click asks, the second unbinds.
      button.addEventListener("click", function () {
        if (!button.classList.contains("confirm")) {
          button.classList.add("confirm"); button.textContent = labels["confirm-unbind"];
          return;
        }
        button.disabled = true;
        socket.emit("unbind", { key: binding.key });
      });
      item.appendChild(about); item.appendChild(button); list.appendChild(item);
    });
  }

  var socket = io({ path: "/socket.io", auth: { token: token }, transports: ["websocket", "polling"] });
  socket.on("connect", function () {
    statusEl.textContent = labels.online; send.disabled = false; notice.hidden = true;
    if (!panel.hidden) socket.emit("bindings_request", {});
  });
  socket.on("disconnect", function () {
    statusEl.textContent = labels.reconnecting; send.disabled = true;
    typingSent = false; setBotWorking(false); setAgentTyping(false);
  });
  socket.on("connect_error", function (error) {
    var reason = error && error.message;
    if (REFUSALS.indexOf(reason) >= 0) { socket.disconnect(); refuse(reason); }
    else if (reason === "too many connections") {
      showNotice(labels[reason]); statusEl.textContent = labels.offline;
      setTimeout(function () { socket.connect(); }, RETRY_AFTER_MS);
    }
    else { statusEl.textContent = labels.retrying; }
  });
  socket.on("refused", function (reason) { socket.disconnect(); refuse(reason); });
  socket.on("history", function (lines) {
    log.textContent = "";
    (lines || []).forEach(function (line) { addMessage(line.role, line.text, null, line.evidence_card); });
  });
  socket.on("bot_uttered", function (message) {
    botWorking = false; setAgentTyping(false);
    addMessage("bot", message.text, message.buttons, message.evidence_card);
  });
  socket.on("agent_typing", function (state) { setAgentTyping(!!(state && state.typing === true)); });
  socket.on("bindings", function (bindings) { showBindings(Array.isArray(bindings) ? bindings : []); });
  document.getElementById("form").addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (text) { say(text); input.value = ""; }
  });
  input.addEventListener("input", function () { userTyping(input.value.trim() !== ""); });
  document.getElementById("bind").addEventListener("click", function () { socket.emit("binding_code_request", {}); });
  toggle.addEventListener("click", function () {
    panel.hidden = !panel.hidden;
    toggle.setAttribute("aria-expanded", String(!panel.hidden));
    if (!panel.hidden) socket.emit("bindings_request", {});
  });
  if (!token) refuse("missing token");
})();
