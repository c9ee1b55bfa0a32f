// The support dashboard: logs in like the console (same session) and shows /api/insight: the
// desk's teams, agents, SLA breaches, assignment waits and tags, and the help center's articles
// and unanswered questions too when the server has them.
// Shared helpers, the session and the names of reasons, teams, channels and intents: common.js.
(function () {
  "use strict";

  var pages = AgentPages;
  var $ = pages.$;
  var el = pages.el;
  var clear = pages.clear;
  var REFRESH_MS = 60000;
  var TOP_INTENTS = 10;
  // As the console names them (data/insight_labels.yml urgencies).
  var URGENCIES = { urgent: "紧急", high: "较急", normal: "普通" };

  var timer = null;
  var generation = 0;

  function teamName(team) { return pages.name("teams", team); }

  function urgencyName(urgency) {
    return Object.prototype.hasOwnProperty.call(URGENCIES, urgency)
      ? URGENCIES[urgency] : String(urgency);
  }

  function intentLabel(intent) {
    return pages.hasName("intents", intent)
      ? intent + "（" + pages.name("intents", intent) + "）" : String(intent);
  }

  function percent(share) {
    return share === null || share === undefined ? "—" : (share * 100).toFixed(1) + "%";
  }

  function average(value) {
    return value === null || value === undefined ? "—" : Number(value).toFixed(2);
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    var total = Math.round(Number(seconds));
    var hours = Math.floor(total / 3600);
    var minutes = Math.floor((total % 3600) / 60);
    if (hours) return hours + " 小时 " + minutes + " 分";
    if (minutes) return minutes + " 分 " + (total % 60) + " 秒";
    return total + " 秒";
  }

  // "50.0%（2 次评价）": a rate over few votes reads as such (data/insight_labels.yml formats).
  function helpfulRate(article) {
    if (article.helpful_rate === null || article.helpful_rate === undefined) return "—";
    return percent(article.helpful_rate) + "（" + article.rated + " 次评价）";
  }

  function articleTitle(article) {
    if (article.title === null || article.title === undefined) return "—";
    return article.retired ? article.title + "（已下线）" : article.title;
  }

  // "2 分 0 秒（3 个工单）", "66.7%（3 次评分）" (data/insight_labels.yml formats).
  function firstResponse(group) {
    if (group.first_response_median === null || group.first_response_median === undefined) return "—";
    return duration(group.first_response_median) + "（" + group.answered + " 个工单）";
  }

  function satisfied(satisfaction) {
    if (satisfaction.satisfied_share === null || satisfaction.satisfied_share === undefined) return "—";
    return percent(satisfaction.satisfied_share) + "（" + satisfaction.count + " 次评分）";
  }

  // "2/5（40.0%）": first-response breaches out of the tickets measured (formats.sla_breaches).
  function slaBreaches(group) {
    if (group.breach_share === null || group.breach_share === undefined) return "—";
    return group.breached + "/" + group.measured + "（" + percent(group.breach_share) + "）";
  }

  function nextBreached(group) {
    return group.next_breached === null || group.next_breached === undefined
      ? "—" : group.next_breached;
  }

  function total(items, key) {
    return items.reduce(function (sum, item) { return sum + item[key]; }, 0);
  }

  function bar(value, max, kind) {
    var cell = el("td", "bar-cell");
    var fill = el("div", "bar" + (kind ? " " + kind : ""));
    fill.style.width = (max > 0 ? Math.round((100 * value) / max) : 0) + "%";
    cell.appendChild(fill);
    return cell;
  }

  function row(cells, testid) {
    var tr = el("tr");
    if (testid) tr.setAttribute("data-testid", testid);
    cells.forEach(function (cell) {
      tr.appendChild(cell instanceof Node ? cell : el("td", "", cell));
    });
    return tr;
  }

  function fill(id, rows, columns) {
    var body = $(id);
    clear(body);
    if (!rows.length) {
      var empty = el("td", "empty", "暂无数据");
      empty.colSpan = columns;
      body.appendChild(row([empty]));
      return;
    }
    rows.forEach(function (tr) { body.appendChild(tr); });
  }

  function render(data) {
    $("period").textContent = data.first_day
      ? "统计区间：" + data.first_day + " 至 " + data.last_day + "（" + data.timezone + "）"
      : "暂无会话";
    $("updated").textContent = "更新于 " + new Date().toLocaleTimeString("zh-CN");

    var understanding = data.understanding;
    var containment = data.containment;
    var times = data.handoff_times;
    var ratings = data.ratings;

    var kpis = $("kpis");
    clear(kpis);
    [
      ["会话数", data.conversations, "kpi-conversations"],
      ["用户消息数", data.user_messages, "kpi-messages"],
      ["自助解决率", percent(containment.rate), "kpi-containment"],
      ["未能理解占比", percent(understanding.fallback_share), "kpi-fallback"],
      ["平均满意度", average(ratings.overall.average), "kpi-rating"],
      ["转人工等待（中位数）", duration(times.wait_median), "kpi-wait"]
    ].forEach(function (item) {
      var card = el("div", "kpi");
      card.appendChild(el("div", "label", item[0]));
      var value = el("div", "value", item[1]);
      value.setAttribute("data-testid", item[2]);
      card.appendChild(value);
      kpis.appendChild(card);
    });

    var maxDay = Math.max.apply(null, [0].concat(data.days.map(function (d) { return d.user_messages; })));
    fill("days", data.days.map(function (day) {
      var split = day.channels.map(function (c) {
        return pages.name("channels", c.channel) + " " + c.conversations + "/" + c.user_messages;
      }).join("，");
      return row([day.day, day.conversations, day.user_messages, split,
                  bar(day.user_messages, maxDay)], "day-row");
    }), 5);

    var maxChannel = Math.max.apply(null, [0].concat(data.channels.map(function (c) { return c.user_messages; })));
    fill("channels", data.channels.map(function (c) {
      return row([pages.name("channels", c.channel), c.conversations, c.user_messages,
                  bar(c.user_messages, maxChannel, "light")], "channel-row");
    }), 4);

    $("fallback-line").textContent = "发给机器人的用户消息 " + understanding.messages +
      " 条，其中未能理解 " + understanding.fallbacks + " 条，占 " +
      percent(understanding.fallback_share) + "（人工客服接管期间的消息不计入）。";
    var top = understanding.intents.slice(0, TOP_INTENTS);
    var maxIntent = top.length ? top[0].messages : 0;
    fill("intents", top.map(function (i) {
      return row([intentLabel(i.intent), i.messages,
                  percent(understanding.messages ? i.messages / understanding.messages : null),
                  bar(i.messages, maxIntent, i.intent === "nlu_fallback" ? "alert" : "")],
                 "intent-row");
    }), 4);

    $("containment-line").textContent = "共 " + containment.conversations +
      " 个会话：机器人自助解决 " + containment.contained + " 个（" + percent(containment.rate) +
      "），转人工 " + containment.handed_off + " 个。";
    fill("reasons", containment.by_reason.map(function (r) {
      return row([pages.name("reasons", r.reason), r.conversations,
                  percent(containment.handed_off ? r.conversations / containment.handed_off : null),
                  bar(r.conversations, containment.handed_off, "amber")], "reason-row");
    }), 4);

    fill("handoff-times", [
      ["转人工工单（不含取消）", times.tickets],
      ["用户取消排队", times.cancelled],
      ["已被客服接入", times.claimed],
      ["已由客服结束", times.closed],
      ["等待时长（接入 − 创建）中位数", duration(times.wait_median)],
      ["等待时长 P90", duration(times.wait_p90)],
      ["处理时长（结束 − 接入）中位数", duration(times.handling_median)]
    ].map(function (item) { return row(item, "time-row"); }), 2);

    var groups = [
      ["全部", ratings.overall],
      ["仅机器人", ratings.bot_only],
      ["转人工后", ratings.handoff]
    ].concat(ratings.by_channel.map(function (g) { return ["渠道：" + pages.name("channels", g.name), g]; }));
    fill("ratings", groups.map(function (item) {
      var group = item[1];
      return row([item[0], group.count, average(group.average)].concat(group.counts), "rating-row");
    }), 8);

    fill("low-confidence", data.low_confidence.map(function (t) {
      return row([t.text, t.count], "low-confidence-row");
    }), 2);

    renderDesk(data.desk);
    renderSla(data.sla);
    renderHelpCenter(data.help_center);
  }

  function deskRow(name, group, testid) {
    return row([name, group.handled, firstResponse(group),
                group.unanswered === null ? "—" : group.unanswered,
                duration(group.handling_median), average(group.satisfaction.average),
                satisfied(group.satisfaction)], testid);
  }

  // A store made before the desk lacks teams, reply times or tags: said, not shown as zeros.
  function renderDesk(desk) {
    $("desk").classList.toggle("hidden", !desk);
    if (!desk) return;
    $("desk-no-teams").classList.toggle("hidden", desk.teams_recorded);
    $("desk-no-replies").classList.toggle("hidden", desk.first_responses_recorded);
    fill("desk-teams", desk.teams.map(function (g) {
      return deskRow(teamName(g.key), g, "desk-team-row");
    }), 7);
    fill("desk-agents", desk.agents.map(function (g) {
      return deskRow(g.name, g, "desk-agent-row");
    }), 7);
    fill("desk-waits", desk.waits.map(function (w) {
      return row([teamName(w.team), w.assigned, duration(w.median), duration(w.p90)],
                 "desk-wait-row");
    }), 4);
    $("desk-tags-table").classList.toggle("hidden", !desk.tags_recorded);
    $("desk-tags-line").textContent = desk.tags_recorded
      ? desk.tagged_tickets + " 个工单带标签，共 " + desk.distinct_tags +
        " 种标签（同一工单的一个标签只算一次，含已取消的工单）。"
      : "此数据库早于客服台，没有标签记录。";
    var maxTag = desk.tags.length ? desk.tags[0].tickets : 0;
    fill("desk-tags", desk.tags.map(function (t) {
      return row([t.tag, t.tickets, bar(t.tickets, maxTag, "light")], "desk-tag-row");
    }), 3);
  }

  // A breach count in red when there is one.
  function breachCell(text, breached) { return el("td", breached ? "breach" : "", text); }

  // null when the server gave no SLA targets; a store without reply times says so.
  function renderSla(sla) {
    $("sla").classList.toggle("hidden", !sla);
    if (!sla) return;
    var recorded = sla.first_responses_recorded;
    $("sla-no-replies").classList.toggle("hidden", recorded);
    $("sla-tables").classList.toggle("hidden", !recorded);
    $("sla-note").classList.toggle("hidden", !recorded);
    var overall = sla.overall;
    $("sla-line").textContent = recorded
      ? "首次响应超时 " + slaBreaches(overall) + "，计时中 " + overall.pending +
        " 个；下次响应超时 " + nextBreached(overall) + " 个工单。"
      : "";
    var targets = {};
    sla.targets.forEach(function (t) { targets[t.urgency] = t; });
    fill("sla-urgencies", sla.urgencies.map(function (g) {
      var target = targets[g.key] || {};
      return row([urgencyName(g.key), duration(target.first_seconds),
                  duration(target.next_seconds), breachCell(slaBreaches(g), g.breached > 0),
                  g.pending, breachCell(nextBreached(g), g.next_breached > 0)],
                 "sla-urgency-row");
    }), 6);
    fill("sla-teams", sla.teams.map(function (g) {
      return row([teamName(g.key), breachCell(slaBreaches(g), g.breached > 0), g.pending,
                  breachCell(nextBreached(g), g.next_breached > 0)], "sla-team-row");
    }), 4);
  }

  // null when the handoff database has no help-center events: the section stays hidden.
  function renderHelpCenter(help) {
    $("help-center").classList.toggle("hidden", !help);
    if (!help) return;
    var articles = help.articles;
    $("help-line").textContent = "文章浏览 " + total(articles, "views") + " 次，有帮助 " +
      total(articles, "helpful") + " 次，没帮助 " + total(articles, "unhelpful") + " 次。";
    var maxViews = Math.max.apply(null, [0].concat(articles.map(function (a) { return a.views; })));
    fill("help-articles", articles.map(function (a) {
      return row([articleTitle(a), a.article_id, a.views, a.helpful, a.unhelpful, helpfulRate(a),
                  bar(a.views, maxViews, "light")], "help-article-row");
    }), 7);
    $("help-unanswered-line").textContent = "共 " + help.unanswered +
      " 次提问没有找到合适的文章（大小写或空白不同的问题合并计数）。";
    var questions = help.unanswered_questions;
    var maxQuestion = questions.length ? questions[0].count : 0;
    fill("help-unanswered", questions.map(function (q) {
      return row([q.text, q.count, bar(q.count, maxQuestion, "amber")], "help-unanswered-row");
    }), 3);
  }

  function showLogin(message) {
    if (timer) { clearInterval(timer); timer = null; }
    generation += 1;
    $("dashboard-view").classList.add("hidden");
    $("login-view").classList.remove("hidden");
    $("login-form").classList.remove("hidden");
    $("denied").classList.add("hidden");
    $("login-error").textContent = message || "";
  }

  // An agent's session: the figures are for supervisors and admins (GET /api/insight is 403).
  function showDenied() {
    if (timer) { clearInterval(timer); timer = null; }
    $("dashboard-view").classList.add("hidden");
    $("login-view").classList.remove("hidden");
    $("login-form").classList.add("hidden");
    $("denied").classList.remove("hidden");
  }

  function load() {
    if (!pages.session.token()) { showLogin(""); return; }
    var mine = generation;
    pages.call("GET", "/insight").then(function (data) {
      if (mine !== generation) return;
      $("login-view").classList.add("hidden");
      $("dashboard-view").classList.remove("hidden");
      render(data);
    }, function (error) {
      if (error.status === -1) {
        $("updated").textContent = "网络错误，稍后自动重试";
      } else if (mine !== generation) {
        return;
      } else if (error.status === 401) {
        pages.session.forget();
        showLogin("登录已失效，请重新登录");
      } else if (error.status === 403) {
        showDenied();
      } else {
        $("updated").textContent = "数据暂时无法读取，稍后自动重试";
      }
    });
  }

  function start() {
    load();
    if (!timer) timer = setInterval(load, REFRESH_MS);
  }

  pages.bindLogin(function () {
    generation += 1;
    start();
  });

  $("refresh").addEventListener("click", load);

  $("denied-logout").addEventListener("click", function () {
    if (pages.session.token()) pages.call("POST", "/logout").then(null, function () {});
    pages.session.forget();
    showLogin("");
  });

  $("logout").addEventListener("click", function () {
    if (pages.session.token()) pages.call("POST", "/logout").then(null, function () {});
    pages.session.forget();
    showLogin("");
  });

  pages.loadNames().then(start);
}());
