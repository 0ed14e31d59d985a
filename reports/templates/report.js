/* sales-audit report: pages, the ranked exception list (filter, sort, page), entity pages, charts.
   Vanilla JavaScript, no network: the data is in the JSON blocks of this file. */
(function () {
  "use strict";
  var $ = function (s, r) { return (r || document).querySelector(s); };
  var $$ = function (s, r) { return Array.prototype.slice.call((r || document).querySelectorAll(s)); };
  var parse = function (id) { return JSON.parse(document.getElementById(id).textContent); };
  var data = parse("data-exceptions"), lookup = parse("data-lookup"), figures = parse("data-figures");
  var texts = parse("data-i18n");
  // numbers in the report's language (Persian digits in Persian), as the server-rendered tables write them
  var money = new Intl.NumberFormat(lookup.locale || "en-US", { maximumFractionDigits: 0 });
  var whole = new Intl.NumberFormat(lookup.locale || "en-US", { maximumFractionDigits: 0, useGrouping: false });
  var two = new Intl.NumberFormat(lookup.locale || "en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  // a translated text with its %(name)s placeholders filled
  function tr(key, values) {
    return String(texts[key] || key).replace(/%\((\w+)\)s/g, function (m, name) { return values && name in values ? values[name] : m; });
  }
  var statusName = function (s) { return (lookup.statuses || {})[s] || s; };
  var periodName = function (p) { return p ? ((lookup.periods || {})[p] || p) : ""; };
  // a number as shown in any language back to a number (Persian or Arabic-Indic digits, either separators)
  function readNumber(text) {
    var western = String(text).replace(/[۰-۹]/g, function (d) { return String(d.charCodeAt(0) - 0x06F0); })
      .replace(/[٠-٩]/g, function (d) { return String(d.charCodeAt(0) - 0x0660); })
      .replace(/[,٬]/g, "").replace("٫", ".").replace("−", "-");
    return parseFloat(western);
  }
  function periodCell(p) {
    if (!p) return el("td", { text: "" });
    return el("td", {}, [el("time", { datetime: p, title: p, text: periodName(p) })]);
  }
  // patterns are shown by their human names; filters and links keep the pattern's name
  var patternName = function (p) { return (lookup.patterns || {})[p] || p; };
  var FILTER_KEYS = ["pattern", "salesperson_id", "region", "status", "period", "customer_id"];

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "class") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { node.append(c); });
    return node;
  }

  // ---------------------------------------------------------------- the rows
  var rows = data.rows.map(function (values) {
    var row = {};
    data.fields.forEach(function (f, i) { row[f] = values[i]; });
    var sp = lookup.salespeople[row.salesperson_id] || {}, cu = lookup.customers[row.customer_id] || {};
    row.region = sp.region || "";
    row.spName = sp.name || "";
    row.cuName = cu.name || "";
    row.search = [row.exception_id, row.title, row.explanation, row.entity_id, row.customer_id, row.cuName,
      row.salesperson_id, row.spName, row.detector].join(" ").toLowerCase();
    return row;
  });
  var byId = {};
  rows.forEach(function (r) { byId[r.exception_id] = r; });

  function entityLink(kind, id) {
    if (!id) return document.createTextNode("");
    var info = (kind === "salesperson" ? lookup.salespeople : lookup.customers)[id] || {};
    var label = info.name ? info.name + " (" + id + ")" : id;
    if (!info.anchor) return document.createTextNode(label);
    var a = el("a", { href: "#" + info.anchor, class: "ref-link", text: label });
    a.addEventListener("click", function (e) { e.stopPropagation(); });
    return a;
  }

  // ---------------------------------------------------------------- exception list state
  var state = { filters: {}, text: "", key: "rank", dir: 1, page: 0, size: 50, open: {} };
  FILTER_KEYS.forEach(function (k) { state.filters[k] = ""; });

  function filtered() {
    var text = state.text.trim().toLowerCase();
    return rows.filter(function (r) {
      for (var i = 0; i < FILTER_KEYS.length; i++) {
        var k = FILTER_KEYS[i], want = state.filters[k];
        if (want && String(r[k] == null ? "" : r[k]) !== want) return false;
      }
      return !text || r.search.indexOf(text) >= 0;
    });
  }

  function compare(a, b) {
    var x = a[state.key], y = b[state.key], result;
    if (typeof x === "number" || typeof y === "number") result = (x == null ? -Infinity : x) - (y == null ? -Infinity : y);
    else result = String(x == null ? "" : x).localeCompare(String(y == null ? "" : y));
    return result * state.dir || a.rank - b.rank;
  }

  function pretty(evidence) {
    try { return JSON.stringify(JSON.parse(evidence), null, 1); } catch (e) { return evidence; }  // cut or not JSON
  }

  function detailRow(r) {
    var related = el("div", { class: "related" });
    (r.related || []).forEach(function (item, i) {
      var parts = String(item).split(":"), kind = parts[0], id = parts.slice(1).join(":");
      if (i) related.append(", ");
      if (kind === "salesperson" || kind === "customer") related.append(entityLink(kind, id));
      else related.append(el("code", { text: item }));
    });
    var info = el("dl", { class: "info" }, [
      el("dt", { text: tr("exception_id") }), el("dd", {}, [el("code", { text: r.exception_id })]),
      el("dt", { text: tr("detector") }), el("dd", { text: r.detector + " · " + patternName(r.pattern) + " (" + r.pattern + ")" }),
      el("dt", { text: tr("entity") }), el("dd", { text: ((lookup.entity_types || {})[r.entity_type] || r.entity_type) + " " + r.entity_id }),
      el("dt", { text: tr("salesperson") }), el("dd", {}, [entityLink("salesperson", r.salesperson_id)]),
      el("dt", { text: tr("customer") }), el("dd", {}, [entityLink("customer", r.customer_id)]),
      el("dt", { text: tr("records") }), el("dd", {}, [related])
    ]);
    var cell = el("td", { colspan: "10" }, [el("p", { text: r.explanation }), info,
      el("details", {}, [el("summary", { text: tr("evidence") }), el("pre", { dir: "ltr", text: pretty(r.evidence) })])]);
    return el("tr", { class: "detail" }, [cell]);
  }

  function renderExceptions() {
    var list = filtered().sort(compare);
    var pages = Math.max(1, Math.ceil(list.length / state.size));
    state.page = Math.min(state.page, pages - 1);
    var start = state.page * state.size, shown = list.slice(start, start + state.size);
    var body = $("#exc-table tbody");
    body.textContent = "";
    shown.forEach(function (r) {
      var tr = el("tr", { class: "exc-row" + (state.open[r.exception_id] ? " open" : ""), "data-id": r.exception_id }, [
        el("td", { class: "num", text: whole.format(r.rank) }),
        el("td", {}, [el("span", { class: "status " + r.status, text: statusName(r.status) })]),
        el("td", { text: patternName(r.pattern) }),
        el("td", { text: r.title, title: r.explanation }),
        el("td", {}, [entityLink("salesperson", r.salesperson_id)]),
        el("td", { text: r.region }),
        el("td", {}, [entityLink("customer", r.customer_id)]),
        periodCell(r.period),
        el("td", { class: "num", text: two.format(r.score) }),
        el("td", { class: "num", text: money.format(r.risk_amount) })
      ]);
      body.append(tr);
      if (state.open[r.exception_id]) body.append(detailRow(r));
    });
    $("#exc-count").textContent = list.length === rows.length ? tr("findings", { count: money.format(rows.length) })
      : tr("of_findings", { shown: money.format(list.length), total: money.format(rows.length) });
    $("#p-info").textContent = list.length ? tr("page", { first: money.format(start + 1), last: money.format(start + shown.length),
      page: money.format(state.page + 1), pages: money.format(pages) }) : tr("nothing");
    $("#p-prev").disabled = state.page === 0;
    $("#p-next").disabled = state.page >= pages - 1;
    $$("#exc-table th").forEach(function (th) {
      th.classList.remove("sorted-asc", "sorted-desc");
      if (th.dataset.key === state.key) th.classList.add(state.dir > 0 ? "sorted-asc" : "sorted-desc");
    });
    var chip = $("#f-customer"), customer = state.filters.customer_id;
    chip.hidden = !customer;
    chip.textContent = customer ? tr("customer") + " " + customer + (lookup.customers[customer] && lookup.customers[customer].name ? " · " + lookup.customers[customer].name : "") + "  ✕" : "";
  }

  function syncControls() {
    $$("#filters select[data-key]").forEach(function (s) { s.value = state.filters[s.dataset.key] || ""; });
    $("#f-text").value = state.text;
  }

  function resetFilters() {
    FILTER_KEYS.forEach(function (k) { state.filters[k] = ""; });
    state.text = ""; state.page = 0; state.open = {};
  }

  function fillOptions() {
    function options(select, values, label) {
      values.forEach(function (v) { select.append(el("option", { value: v, text: label ? label(v) : v })); });
    }
    function unique(key) {
      var seen = {};
      rows.forEach(function (r) { if (r[key]) seen[r[key]] = (seen[r[key]] || 0) + 1; });
      return seen;
    }
    var patterns = unique("pattern");
    options($("#f-pattern"), Object.keys(patterns).sort(function (a, b) { return patternName(a).localeCompare(patternName(b)); }), function (p) { return patternName(p) + " (" + patterns[p] + ")"; });
    var people = unique("salesperson_id");
    options($("#f-salesperson"), Object.keys(people).sort(), function (id) {
      var n = (lookup.salespeople[id] || {}).name; return (n ? n + " (" + id + ")" : id) + " · " + people[id];
    });
    options($("#f-region"), Object.keys(unique("region")).sort());
    options($("#f-status"), Object.keys(unique("status")).sort(), statusName);
    options($("#f-period"), Object.keys(unique("period")).sort().reverse(), periodName);
  }

  function bindExceptions() {
    $$("#filters select[data-key]").forEach(function (s) {
      s.addEventListener("change", function () { state.filters[s.dataset.key] = s.value; state.page = 0; renderExceptions(); });
    });
    $("#f-text").addEventListener("input", function (e) { state.text = e.target.value; state.page = 0; renderExceptions(); });
    $("#f-reset").addEventListener("click", function () { resetFilters(); syncControls(); renderExceptions(); });
    $("#f-customer").addEventListener("click", function () { state.filters.customer_id = ""; renderExceptions(); });
    $("#p-prev").addEventListener("click", function () { state.page -= 1; renderExceptions(); });
    $("#p-next").addEventListener("click", function () { state.page += 1; renderExceptions(); });
    $("#p-size").addEventListener("change", function (e) { state.size = +e.target.value; state.page = 0; renderExceptions(); });
    $("#exc-table thead").addEventListener("click", function (e) {
      var th = e.target.closest("th");
      if (!th) return;
      if (state.key === th.dataset.key) state.dir = -state.dir;
      else { state.key = th.dataset.key; state.dir = th.dataset.type === "num" && th.dataset.key !== "rank" ? -1 : 1; }
      renderExceptions();
    });
    $("#exc-table tbody").addEventListener("click", function (e) {
      var tr = e.target.closest("tr.exc-row");
      if (!tr || e.target.closest("a")) return;
      var id = tr.dataset.id;
      if (state.open[id]) delete state.open[id]; else state.open[id] = true;
      renderExceptions();
    });
  }

  // Show the exception list filtered (from a link, a chart click or an entity page).
  function showFiltered(filters, openId) {
    resetFilters();
    Object.keys(filters).forEach(function (k) { state.filters[k] = filters[k]; });
    if (openId) {
      state.open[openId] = true;
      state.key = "rank"; state.dir = 1;
      var index = filtered().sort(compare).findIndex(function (r) { return r.exception_id === openId; });
      state.page = Math.max(0, Math.floor(index / state.size));
    }
    syncControls();
    renderExceptions();
    go("#exceptions");
  }

  // ---------------------------------------------------------------- entity pages
  function fillEntity(details) {
    if (details.dataset.filled) return;
    details.dataset.filled = "1";
    var kind = details.dataset.kind, id = details.dataset.id, key = kind + "_id";
    var own = rows.filter(function (r) { return r[key] === id; }).sort(function (a, b) { return a.rank - b.rank; });
    var limit = 100, body = el("tbody");
    own.slice(0, limit).forEach(function (r) {
      var link = el("a", { href: "#exceptions", text: r.title });
      link.addEventListener("click", function (e) {
        e.preventDefault();
        var f = {}; f[key] = id; showFiltered(f, r.exception_id);
      });
      body.append(el("tr", {}, [el("td", { class: "num", text: whole.format(r.rank) }),
        el("td", {}, [el("span", { class: "status " + r.status, text: statusName(r.status) })]),
        el("td", { text: patternName(r.pattern) }), el("td", { title: r.explanation }, [link]), periodCell(r.period),
        el("td", { class: "num", text: money.format(r.risk_amount) })]));
    });
    var head = el("thead", {}, [el("tr", {}, ["#", tr("status"), tr("pattern"), tr("finding"), tr("period"), tr("money")].map(function (h, i) {
      return el("th", { class: i === 0 || i === 5 ? "num" : "", text: h });
    }))]);
    var box = $(".entity-findings", details);
    box.append(el("div", { class: "table-wrap" }, [el("table", { class: "grid sortable" }, [head, body])]));
    var all = el("a", { href: "#exceptions", text: tr("all_in_list", { count: money.format(own.length) }) });
    all.addEventListener("click", function (e) { e.preventDefault(); var f = {}; f[key] = id; showFiltered(f); });
    box.append(el("p", { class: "note" }, [own.length > limit ? tr("first_by_rank", { count: money.format(limit) }) : "", all]));
    makeSortable($("table", box));
  }

  // ---------------------------------------------------------------- charts
  // no toolbar over the charts' top bars (the charts are read, not edited; a PNG is one right-click away)
  var config = { displaylogo: false, responsive: true, displayModeBar: false };
  function drawCharts(root) {
    $$(".chart[data-fig]", root).forEach(function (div) {
      if (div.dataset.drawn || div.offsetParent === null) return;
      var fig = figures[div.dataset.fig];
      if (!fig) return;
      div.dataset.drawn = "1";
      Plotly.newPlot(div, fig.data, fig.layout, config);
      var click = div.dataset.click;
      if (!click) return;
      div.on("plotly_click", function (event) {
        var p = event.points && event.points[0];
        if (!p) return;
        if (click === "pattern") showFiltered({ pattern: p.customdata });
        else if (click === "salesperson") showFiltered({ salesperson_id: p.customdata });
        else if (click === "period") {
          var keys = lookup.period_keys || {};
          var f = { period: p.x in keys ? keys[p.x] : p.x };
          if (p.data.type === "bar") f.pattern = p.data.meta;
          showFiltered(f);
        }
      });
    });
  }

  // ---------------------------------------------------------------- server-rendered tables
  function makeSortable(table) {
    if (!table.tHead || table.dataset.sortable) return;
    table.dataset.sortable = "1";
    table.tHead.addEventListener("click", function (e) {
      var th = e.target.closest("th");
      if (!th) return;
      var index = Array.prototype.indexOf.call(th.parentNode.children, th);
      var numeric = th.classList.contains("num");
      var dir = th.classList.contains("sorted-asc") ? -1 : 1;
      $$("th", table.tHead).forEach(function (h) { h.classList.remove("sorted-asc", "sorted-desc"); });
      th.classList.add(dir > 0 ? "sorted-asc" : "sorted-desc");
      var body = table.tBodies[0];
      var items = Array.prototype.slice.call(body.rows);
      function value(row) {
        var text = row.cells[index] ? row.cells[index].textContent.trim() : "";
        if (!numeric) return text;
        var n = readNumber(text);
        return isNaN(n) ? -Infinity : n;
      }
      items.sort(function (a, b) {
        var x = value(a), y = value(b);
        return (numeric ? x - y : String(x).localeCompare(String(y))) * dir;
      });
      items.forEach(function (row) { body.append(row); });
    });
  }

  function linkReferences() {
    $$(".ref[data-ref]").forEach(function (span) {
      var link = entityLink(span.dataset.ref, span.dataset.id);
      if (link.nodeType === 1) { link.textContent = span.textContent; link.title = (span.dataset.ref === "salesperson" ? lookup.salespeople : lookup.customers)[span.dataset.id].name || ""; span.replaceWith(link); }
    });
  }

  // ---------------------------------------------------------------- pages
  function show(hash) {
    var id = decodeURIComponent((hash || "").replace(/^#/, "")) || "summary";
    var target = document.getElementById(id);
    if (!target || !(target.classList.contains("page") || target.closest(".page"))) target = $("#summary");
    var page = target.classList.contains("page") ? target : target.closest(".page");
    $$(".page").forEach(function (p) { p.classList.toggle("shown", p === page); });
    $$("#tabs a").forEach(function (a) { a.classList.toggle("active", a.getAttribute("href") === "#" + page.id); });
    if (target.tagName === "DETAILS") target.open = true;
    drawCharts(page);
    if (target !== page) target.scrollIntoView(); else window.scrollTo(0, 0);
  }
  function go(hash) {
    if (location.hash === hash) show(hash); else location.hash = hash;
  }

  document.addEventListener("toggle", function (e) {
    var d = e.target;
    if (d.matches && d.matches("details.entity") && d.open) { fillEntity(d); drawCharts(d); }
  }, true);
  document.addEventListener("click", function (e) {
    var finding = e.target.closest && e.target.closest("a.finding-link");
    if (finding) { e.preventDefault(); showFiltered({}, finding.dataset.id); return; }
    var a = e.target.closest && e.target.closest("a.filter-link");
    if (!a) return;
    e.preventDefault();
    var f = {}; f[a.dataset.key] = a.dataset.value; showFiltered(f);
  });
  window.addEventListener("hashchange", function () { show(location.hash); });

  fillOptions();
  bindExceptions();
  renderExceptions();
  $$("table.sortable").forEach(makeSortable);
  linkReferences();
  show(location.hash);
})();
