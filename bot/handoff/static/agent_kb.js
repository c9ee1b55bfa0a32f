// The lead's help-center editor: the articles (retired ones marked), one article's whole Markdown
// text in an editor with a live preview (the chat's answer and the article page), save, new
// article, retire, and the version history with each diff. Labels come from the page's
// <template id="labels">; article text only via textContent, except the preview body, which is
// HTML the server rendered with every tag escaped (bot/help_center/rendering.py).
(function () {
  "use strict";

  var pages = AgentPages;
  var $ = pages.$;
  var el = pages.el;
  var clear = pages.clear;
  var PREVIEW_DELAY_MS = 250;

  var labels = {};
  $("labels").content.querySelectorAll("[data-key]").forEach(function (node) {
    labels[node.getAttribute("data-key")] = node.textContent;
  });

  // A label with its {placeholders} filled in.
  function text(key, values) {
    return String(labels[key] || key).replace(/\{(\w+)\}/g, function (whole, name) {
      return values && values[name] !== undefined ? String(values[name]) : whole;
    });
  }

  var state = {
    articles: [],
    current: null,      // the loaded article's JSON, or null for a new one
    creating: false,
    saved: "",          // the text as loaded or saved: the editor differs -> unsaved changes
    pendingSwitch: null,
    previewSeq: 0,
    previewTimer: null,
    generation: 0
  };

  function when(iso) {
    var date = new Date(iso);
    return isNaN(date.getTime()) ? "" : date.toLocaleString("zh-CN", { hour12: false });
  }

  function notify(message, isError) {
    var notice = $("notice");
    notice.textContent = message;
    notice.classList.toggle("error", !!isError);
    notice.classList.remove("hidden");
  }

  function failed(error) {
    if (error.status === 401) { pages.session.forget(); showLogin(text("expired")); return; }
    if (error.status === 403) { notify(text("forbidden"), true); return; }
    if (error.status === -1) { notify(text("network"), true); return; }
    if (error.status === 400) { notify(text("invalid") + error.message, true); return; }
    if (error.status === 409) { notify(text("conflict", { reason: error.message }), true); return; }
    if (error.status === 404) { notify(text("missing"), true); return; }
    notify(text("failed") + (error.message || text("later")), true);
  }

  function showLogin(message) {
    state.generation += 1;
    $("kb-view").classList.add("hidden");
    $("login-view").classList.remove("hidden");
    $("login-error").textContent = message || "";
  }

  function dirty() {
    return !$("editor-box").classList.contains("hidden") && $("editor").value !== state.saved;
  }

  // The list

  function renderList() {
    var list = $("articles");
    var query = $("filter").value.trim().toLowerCase();
    clear(list);
    var retired = 0;
    state.articles.forEach(function (article) {
      if (article.retired) retired += 1;
      if (query && article.title.toLowerCase().indexOf(query) < 0 &&
          article.id.indexOf(query) < 0) return;
      var item = el("li", article.retired ? "retired" : "");
      item.setAttribute("data-testid", "article-row");
      item.setAttribute("data-article-id", article.id);
      if (state.current && state.current.id === article.id) item.classList.add("selected");
      item.appendChild(el("div", "row-title", article.title));
      var meta = el("div", "row-meta");
      meta.appendChild(el("span", "code", article.id));
      meta.appendChild(el("span", "", text("revision", { n: article.revision })));
      if (article.retired) {
        var badge = el("span", "badge", text("retired"));
        badge.setAttribute("data-testid", "article-retired");
        meta.appendChild(badge);
      }
      item.appendChild(meta);
      item.tabIndex = 0;
      item.addEventListener("click", function () { open(article.id); });
      item.addEventListener("keydown", function (event) {
        if (event.key === "Enter") open(article.id);
      });
      list.appendChild(item);
    });
    if (!list.firstChild) list.appendChild(el("li", "muted", text("no-articles")));
    $("article-count").textContent = text("count", { n: state.articles.length, retired: retired });
  }

  function loadList() {
    var generation = state.generation;
    return pages.call("GET", "/kb/articles").then(function (data) {
      if (generation !== state.generation) return;
      state.articles = data.articles || [];
      renderList();
    }, failed);
  }

  // One article

  function open(articleId) {
    if (dirty() && state.pendingSwitch !== articleId) {
      state.pendingSwitch = articleId;
      notify(text("switch-dirty"), true);
      return;
    }
    state.pendingSwitch = null;
    var generation = state.generation;
    pages.call("GET", "/kb/articles/" + encodeURIComponent(articleId)).then(function (data) {
      if (generation !== state.generation) return;
      $("notice").classList.add("hidden");
      show(data);
    }, failed);
  }

  // Shows ``article`` (the API's JSON) in the editor, with its history.
  function show(article) {
    state.current = article;
    state.creating = false;
    state.saved = article.text;
    $("editor").value = article.text;
    $("editor-title").textContent = article.title;
    $("editor-meta").textContent = [
      text("revision", { n: article.revision }),
      article.retired ? text("retired") : text("live"),
      text("updated", { who: article.updated_by, when: when(article.updated_at) })
    ].join(" · ");
    $("editor-box").setAttribute("data-article-id", article.id);
    $("editor-box").setAttribute("data-revision", String(article.revision));
    $("retire").classList.toggle("hidden", !!article.retired);
    resetRetire();
    openEditor();
    renderHistory(article.history || []);
    if (article.retired) notify(text("retired-hint"), false);
    // The list row follows at once; loadList() brings the others' changes.
    var known = false;
    state.articles.forEach(function (row, index) {
      if (row.id !== article.id) return;
      known = true;
      state.articles[index] = listRow(article);
    });
    if (!known) state.articles.push(listRow(article));
    renderList();
  }

  function listRow(article) {
    return {
      id: article.id, title: article.title, revision: article.revision, retired: article.retired,
      updated_by: article.updated_by, updated_at: article.updated_at
    };
  }

  function openEditor() {
    $("editor-empty").classList.add("hidden");
    $("editor-box").classList.remove("hidden");
    markDirty();
    schedulePreview(0);
  }

  function startNew() {
    if (dirty() && state.pendingSwitch !== "") {
      state.pendingSwitch = "";
      notify(text("switch-dirty"), true);
      return;
    }
    state.pendingSwitch = null;
    state.current = null;
    state.creating = true;
    state.saved = "";
    $("editor").value = labels["new-text"];
    $("editor-title").textContent = text("new-title");
    $("editor-meta").textContent = "";
    $("editor-box").removeAttribute("data-article-id");
    $("editor-box").removeAttribute("data-revision");
    $("retire").classList.add("hidden");
    $("notice").classList.add("hidden");
    renderHistory([]);
    openEditor();
    renderList();
    $("editor").focus();
  }

  function markDirty() {
    $("dirty").textContent = dirty() ? text("dirty") : "";
  }

  // One line of a unified diff, marked added, removed or context for its colour.
  function diffLine(line) {
    var kind = line.indexOf("+++") === 0 || line.indexOf("---") === 0 ? "file"
      : line.charAt(0) === "+" ? "added"
      : line.charAt(0) === "-" ? "removed"
      : line.indexOf("@@") === 0 ? "hunk" : "";
    return el("span", "diff-line " + kind, line + "\n");
  }

  function renderHistory(versions) {
    var list = $("history");
    clear(list);
    versions.forEach(function (version) {
      var item = el("li");
      item.setAttribute("data-testid", "history-entry");
      item.setAttribute("data-revision", String(version.revision));
      var head = el("div", "history-head", text("history-entry", {
        n: version.revision, who: version.author, when: when(version.saved_at)
      }) + (version.retired ? text("history-retired") : ""));
      head.setAttribute("data-testid", "history-head");
      item.appendChild(head);
      var diff = el("pre", "diff");
      diff.setAttribute("data-testid", "history-diff");
      String(version.diff || "").split("\n").forEach(function (line) {
        diff.appendChild(diffLine(line));
      });
      item.appendChild(diff);
      list.appendChild(item);
    });
    if (!list.firstChild) list.appendChild(el("li", "muted", text("no-history")));
  }

  // The preview: the server parses and renders the text as it would serve it.

  function schedulePreview(delay) {
    clearTimeout(state.previewTimer);
    state.previewTimer = setTimeout(preview, delay);
  }

  function preview() {
    var seq = ++state.previewSeq;
    pages.call("POST", "/kb/preview", { text: $("editor").value }).then(function (data) {
      if (seq !== state.previewSeq) return;  // a newer text was sent meanwhile
      $("preview-error").classList.add("hidden");
      $("preview").classList.remove("hidden");
      $("preview-title").textContent = data.article.title;
      $("preview-summary").textContent = data.article.summary;
      // Rendered by the server with every tag of the text escaped: see the file's comment.
      $("preview-body").innerHTML = data.html;
    }, function (error) {
      if (seq !== state.previewSeq) return;
      if (error.status !== 400) { failed(error); return; }
      $("preview").classList.add("hidden");
      $("preview-error").textContent = text("invalid") + error.message;
      $("preview-error").classList.remove("hidden");
    });
  }

  // Save, create, retire

  function save() {
    var body = { text: $("editor").value };
    var path = "/kb/articles";
    if (!state.creating) {
      if (!state.current) return;
      path += "/" + encodeURIComponent(state.current.id);
      body.revision = state.current.revision;
    }
    var creating = state.creating;
    $("save").disabled = true;
    pages.call("POST", path, body).then(function (article) {
      show(article);
      notify(creating ? text("created", { title: article.title })
        : text("saved", { n: article.revision }), false);
      loadList();
    }, failed).then(function () {
      $("save").disabled = false;
    });
  }

  function resetRetire() {
    var button = $("retire");
    button.classList.remove("confirm");
    button.textContent = text("retire");
  }

  // Two clicks: the first asks, the second retires.
  function retire() {
    var button = $("retire");
    var article = state.current;
    if (!article) return;
    if (!button.classList.contains("confirm")) {
      button.classList.add("confirm");
      button.textContent = text("retire-confirm");
      return;
    }
    button.disabled = true;
    pages.call("POST", "/kb/articles/" + encodeURIComponent(article.id) + "/retire",
      { revision: article.revision }).then(function (retired) {
      show(retired);
      notify(text("retired-done", { title: retired.title }), false);
      loadList();
    }, failed).then(function () {
      button.disabled = false;
      resetRetire();
    });
  }

  function load() {
    $("login-view").classList.add("hidden");
    $("kb-view").classList.remove("hidden");
    loadList().then(function () {
      if (state.current) open(state.current.id);
    });
  }

  $("editor").addEventListener("input", function () {
    markDirty();
    schedulePreview(PREVIEW_DELAY_MS);
  });
  $("editor").addEventListener("keydown", function (event) {
    if (event.key === "s" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      save();
    }
  });
  $("filter").addEventListener("input", renderList);
  $("save").addEventListener("click", save);
  $("retire").addEventListener("click", retire);
  $("new-article").addEventListener("click", startNew);
  $("refresh").addEventListener("click", function () {
    state.saved = $("editor").value;  // a refresh is the lead's choice: no unsaved warning
    load();
  });
  $("logout").addEventListener("click", function () {
    if (pages.session.token()) pages.call("POST", "/logout").then(null, function () {});
    pages.session.forget();
    showLogin("");
  });
  window.addEventListener("beforeunload", function (event) {
    if (dirty()) event.preventDefault();
  });
  pages.bindLogin(function () { state.generation += 1; load(); });

  if (pages.session.token()) load(); else showLogin("");
}());
