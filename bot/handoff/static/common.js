// What the agent pages (console, dashboard, review, help center, admin, live view) share: the
// agent's session and its role, the login form of the pages other than the console, calls to the
// JSON API beside the page (guardedCall for the pages that refresh themselves), the names of
// reasons, teams, roles, presence, channels and intents it serves (data/insight_labels.yml) and
// DOM helpers, and a bot message's evidence card with its copy button. Text from the API only
// ever goes in through textContent: user messages are hostile input. No inline script: the pages run under a Content-Security-Policy without
// 'unsafe-inline'.
var AgentPages = (function () {
  "use strict";

  // The API sits beside the page: /webhooks/agent/console (or /dashboard) -> /webhooks/agent/api
  var API = window.location.pathname.replace(/\/[^\/]+\/?$/, "") + "/api";
  // One login for both pages, kept for the browser tab.
  var TOKEN_KEY = "imAgentConsole.token";
  var USER_KEY = "imAgentConsole.username";
  var ROLE_KEY = "imAgentConsole.role";
  var names = { reasons: {}, teams: {}, roles: {}, presence: {}, channels: {}, intents: {} };
  // Roles that see the leads' pages (review, help center, dashboard); "lead" is the old name.
  var SUPERVISING = { supervisor: true, admin: true, lead: true };

  function $(id) { return document.getElementById(id); }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  // The clipboard API where the page may use it (a secure context), else a selected text area.
  function copyBySelection(text) {
    var area = el("textarea", "offscreen");
    area.value = text;
    area.setAttribute("readonly", "");
    document.body.appendChild(area);
    area.select();
    var copied = false;
    try { copied = document.execCommand("copy"); } catch (ignored) { copied = false; }
    document.body.removeChild(area);
    return copied ? Promise.resolve() : Promise.reject(new Error("copy failed"));
  }

  function copyText(text) {
    if (!navigator.clipboard || !window.isSecureContext) return copyBySelection(text);
    return navigator.clipboard.writeText(text).catch(function () { return copyBySelection(text); });
  }

  // A bot message's evidence card (bot/channels/evidence_card.py: a transfer's facts for an
  // exchange's support), as the transcript line carries it; false for anything else.
  function isEvidenceCard(card) {
    return !!card && typeof card.title === "string" && Array.isArray(card.fields) &&
      typeof card.copy_text === "string";
  }

  var WEB_LINK = /^https?:\/\/\S+$/i;

  // The card: title, label/value rows, a button that copies the rows as "label：value" lines and
  // the explorer link (a new tab).
  function evidenceCard(card) {
    var box = el("div", "evidence-card");
    box.setAttribute("data-testid", "evidence-card");
    box.appendChild(el("div", "card-title", card.title));
    var rows = el("dl", "card-rows");
    card.fields.forEach(function (field) {
      var row = el("div", "card-row");
      row.setAttribute("data-testid", "card-row");
      row.appendChild(el("dt", "", field.label));
      row.appendChild(el("dd", "", field.value));
      rows.appendChild(row);
    });
    box.appendChild(rows);
    var actions = el("div", "card-actions");
    var copy = el("button", "secondary", card.copy_label);
    copy.type = "button";
    copy.setAttribute("data-testid", "card-copy");
    var restore = null;
    copy.addEventListener("click", function () {
      copyText(card.copy_text).then(function () {
        copy.textContent = card.copied_label;
      }, function () {
        copy.textContent = "复制失败，请手动选择复制";
      });
      clearTimeout(restore);
      restore = setTimeout(function () { copy.textContent = card.copy_label; }, 2000);
    });
    actions.appendChild(copy);
    if (typeof card.explorer_link === "string" && WEB_LINK.test(card.explorer_link)) {
      var link = el("a", "", "在区块浏览器中查看");
      link.href = card.explorer_link;
      link.target = "_blank";
      link.rel = "noopener";
      link.setAttribute("data-testid", "card-explorer-link");
      actions.appendChild(link);
    }
    box.appendChild(actions);
    return box;
  }

  function label(map, key) {
    return Object.prototype.hasOwnProperty.call(map, key) ? map[key] : String(key);
  }

  // The Chinese name of a reason, team, role, presence, channel or intent; the key itself when it
  // has none.
  function name(kind, key) { return label(names[kind], key); }

  function hasName(kind, key) {
    return Object.prototype.hasOwnProperty.call(names[kind], key);
  }

  // Fetches the names once; the pages start either way (keys are shown for names not fetched).
  function loadNames() {
    return call("GET", "/labels").then(function (data) {
      Object.keys(names).forEach(function (kind) {
        if (data && data[kind]) names[kind] = data[kind];
      });
    }, function () {});
  }

  var session = {
    token: function () { return sessionStorage.getItem(TOKEN_KEY); },
    username: function () { return sessionStorage.getItem(USER_KEY); },
    // "agent", "supervisor" or "admin": which pages to offer (the server checks every call).
    role: function () { return sessionStorage.getItem(ROLE_KEY) || "agent"; },
    supervises: function () { return SUPERVISING[session.role()] === true; },
    isAdmin: function () { return session.role() === "admin"; },
    save: function (token, username) {
      sessionStorage.setItem(TOKEN_KEY, token);
      sessionStorage.setItem(USER_KEY, username);
    },
    saveRole: function (role) { sessionStorage.setItem(ROLE_KEY, role || "agent"); },
    forget: function () {
      sessionStorage.removeItem(TOKEN_KEY);
      sessionStorage.removeItem(USER_KEY);
      sessionStorage.removeItem(ROLE_KEY);
    }
  };

  function ApiError(status, message, retryAfter) {
    this.status = status;      // -1: the server could not be reached
    this.message = message;
    this.retryAfter = retryAfter || 0;  // seconds, from a 429
  }

  // One API call with the session's token: the JSON answer, or an ApiError.
  function call(method, path, body) {
    var headers = { "Accept": "application/json" };
    var token = session.token();
    if (token) headers["Authorization"] = "Bearer " + token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(API + path, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit"
    }).then(function (response) {
      return response.text().then(function (raw) {
        var data = null;
        try { data = raw ? JSON.parse(raw) : null; } catch (ignored) { data = null; }
        if (!response.ok) {
          throw new ApiError(
            response.status,
            data && data.error ? String(data.error) : "",
            Number(response.headers.get("Retry-After")) || 0
          );
        }
        return data;
      });
    }, function () {
      throw new ApiError(-1, "network");
    });
  }

  function minutes(retryAfter) { return Math.max(1, Math.ceil((Number(retryAfter) || 60) / 60)); }

  // The login form of the dashboard and the review page (#login-form, #login-username,
  // #login-password, #login-error): saves the session and calls loggedIn, or says what failed.
  function bindLogin(loggedIn) {
    $("login-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var username = $("login-username").value.trim();
      var password = $("login-password").value;
      $("login-error").textContent = "";
      call("POST", "/login", { username: username, password: password }).then(function (data) {
        if (!data || !data.token) {
          $("login-error").textContent = "登录失败，请稍后再试";
          return;
        }
        session.save(data.token, username);
        session.saveRole(data.agent && data.agent.role);
        $("login-password").value = "";
        loggedIn();
      }, function (error) {
        $("login-error").textContent = error.status === -1
          ? "网络错误，请稍后再试"
          : error.status === 401
            ? "用户名或密码错误"
            : error.status === 429
              ? "登录失败次数过多，请 " + minutes(error.retryAfter) + " 分钟后再试"
              : "登录失败，请稍后再试";
      });
    });
  }

  // The API calls of a page that refreshes itself (admin, live view): an answer that arrives
  // after the page logged out or in again (state.generation moved on) is dropped as "stale"; a
  // 401 ends the session and calls onExpired, a 403 calls onDenied.
  function guardedCall(state, onExpired, onDenied) {
    return function (method, path, body) {
      var generation = state.generation;
      return call(method, path, body).then(function (data) {
        if (generation !== state.generation) throw new ApiError(0, "stale");
        return data;
      }, function (error) {
        if (generation !== state.generation) throw new ApiError(0, "stale");
        if (error.status === 401) {
          session.forget();
          onExpired();
        } else if (error.status === 403) {
          onDenied();
        }
        throw error;
      });
    };
  }

  return {
    $: $,
    bindLogin: bindLogin,
    el: el,
    clear: clear,
    isEvidenceCard: isEvidenceCard,
    evidenceCard: evidenceCard,
    label: label,
    name: name,
    hasName: hasName,
    loadNames: loadNames,
    session: session,
    ApiError: ApiError,
    call: call,
    guardedCall: guardedCall
  };
}());
