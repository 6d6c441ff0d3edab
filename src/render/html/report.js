// wsclose HTML report: renders the embedded JSON document (the same `--format json` writes)
// and the embedded catalog. Plain DOM, no library; every text from the data goes in through
// textContent, never as markup.
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("wsclose-data").textContent);
  var catalog = JSON.parse(document.getElementById("wsclose-catalog").textContent);
  var lang = catalog.lang === "ar" ? "ar" : "en";

  var TEXT = {
    en: {
      title: "WebSocket close report", summary: "Incident summary", connections: "connections",
      outcomes: "Outcomes", codes: "Close codes", causes: "Causes", servers: "Top servers",
      clients: "Top clients", timeline: "Closes over capture time", table: "Connections",
      catalog: "Close codes and alerts explained", files: "Files",
      problems: function (n, m) {
        return "Details shown for the " + n + " problem connections of " + m +
          "; run with --all for every connection.";
      },
      withProblems: "with problems", code: "code", name: "name", count: "count", share: "share", cause: "cause",
      span: "time span", example: "example", problemsCol: "problems", server: "server",
      client: "client", id: "#", file: "file", start: "start", duration: "duration",
      outcome: "outcome", closeCode: "close code", likely: "likely cause / diagnosis",
      all: "all", from: "from (s)", to: "to (s)", clear: "clear filters",
      shown: function (n, m) { return n + " of " + m + " listed connections"; },
      none: "no Close", noIncident: "No incident summary in this document; counts below are from the listed connections.",
      bucket: "click a bar to show its connections", utc: "UTC",
      classes: { clean: "clean", abnormal: "abnormal", tls_failure: "TLS failure", illegal: "illegal", other: "other" },
      catalogEn: "English", catalogAr: "العربية"
    },
    ar: {
      title: "تقرير إغلاق اتصالات WebSocket", summary: "ملخص الحادثة", connections: "اتصالاً",
      outcomes: "النتائج", codes: "رموز الإغلاق", causes: "الأسباب", servers: "أكثر الخوادم",
      clients: "أكثر العملاء", timeline: "الإغلاقات على مدى زمن الالتقاط", table: "الاتصالات",
      catalog: "شرح رموز الإغلاق والتنبيهات", files: "الملفات",
      problems: function (n, m) {
        return "التفاصيل معروضة لـ " + n + " اتصالاً فيها مشكلة من أصل " + m +
          "؛ شغّل الأداة مع --all لعرض كل الاتصالات.";
      },
      withProblems: "فيها مشكلات", code: "الرمز", name: "الاسم", count: "العدد", share: "النسبة", cause: "السبب",
      span: "المدة الزمنية", example: "مثال", problemsCol: "المشكلات", server: "الخادم",
      client: "العميل", id: "#", file: "الملف", start: "البداية", duration: "المدة",
      outcome: "النتيجة", closeCode: "رمز الإغلاق", likely: "السبب المرجّح / التشخيص",
      all: "الكل", from: "من (ث)", to: "إلى (ث)", clear: "مسح المرشحات",
      shown: function (n, m) { return n + " من " + m + " اتصالاً مدرجاً"; },
      none: "بلا إغلاق", noIncident: "لا يحوي هذا المستند ملخص حادثة؛ الأعداد أدناه من الاتصالات المدرجة.",
      bucket: "انقر عموداً لعرض اتصالاته", utc: "UTC",
      classes: { clean: "نظيف", abnormal: "غير طبيعي", tls_failure: "فشل TLS", illegal: "غير مشروع", other: "أخرى" },
      outcome_names: {
        clean: "نظيف", no_status: "بلا رمز حالة", one_sided: "من طرف واحد", abnormal: "غير طبيعي",
        open: "مفتوح", refused: "مرفوض", tls_failed: "فشل TLS", failed: "فاشل", encrypted: "مشفّر"
      },
      catalogEn: "English", catalogAr: "العربية"
    }
  };
  var T = TEXT[lang];
  var CLASSES = ["clean", "abnormal", "tls_failure", "illegal", "other"];
  var CARD_LABELS = {
    en: { wire: "on the wire", meaning: "meaning", when: "seen when", fix: "fix", source: "source", range: "range" },
    ar: { wire: "على السلك", meaning: "المعنى", when: "متى تراه", fix: "الإصلاح", source: "المرجع", range: "النطاق" }
  };

  // ---- helpers ----
  function el(tag, attrs, kids) {
    var e = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (attrs[k] !== null && attrs[k] !== undefined) { e.setAttribute(k, attrs[k]); }
      });
    }
    (kids || []).forEach(function (k) {
      if (k === null || k === undefined) { return; }
      e.appendChild(typeof k === "object" ? k : document.createTextNode(String(k)));
    });
    return e;
  }
  function svg(tag, attrs, kids) {
    var e = document.createElementNS("http://www.w3.org/2000/svg", tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    (kids || []).forEach(function (k) { e.appendChild(typeof k === "object" ? k : document.createTextNode(String(k))); });
    return e;
  }
  // RFC 3339 to milliseconds since the epoch, keeping the fraction.
  function ms(t) {
    if (typeof t !== "string") { return NaN; }
    var m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(t);
    if (!m) { return Date.parse(t); }
    var v = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) + (m[7] ? parseFloat(m[7]) * 1000 : 0);
    if (m[8] !== "Z") {
      var sign = m[8][0] === "-" ? -1 : 1;
      v -= sign * (parseInt(m[8].slice(1, 3), 10) * 60 + parseInt(m[8].slice(4, 6), 10)) * 60000;
    }
    return v;
  }
  function pad(n, w) { n = String(n); while (n.length < w) { n = "0" + n; } return n; }
  function clock(v, withMs) {
    if (!isFinite(v)) { return ""; }
    var d = new Date(Math.floor(v));
    var s = pad(d.getUTCHours(), 2) + ":" + pad(d.getUTCMinutes(), 2) + ":" + pad(d.getUTCSeconds(), 2);
    return withMs ? s + "." + pad(d.getUTCMilliseconds(), 3) : s;
  }
  function dur(v) {
    if (v === null || v === undefined || !isFinite(v)) { return ""; }
    if (v < 1000) { return (v < 10 ? v.toFixed(2) : v.toFixed(1)) + " ms"; }
    if (v < 60000) { return (v / 1000).toFixed(2) + " s"; }
    var s = Math.round(v / 1000);
    return Math.floor(s / 60) + " min " + (s % 60) + " s";
  }
  function dir(d) {
    return d === "client_to_server" ? "client → server" : d === "server_to_client" ? "server → client" : String(d);
  }
  function words(s) { return String(s).replace(/_/g, " "); }
  // An outcome's name in the page's language.
  function outcomeName(o) { return (T.outcome_names && T.outcome_names[o]) || words(o); }

  // ---- the listed connections ----
  var files = data.files || [];
  var several = files.length > 1;
  var rows = [];
  files.forEach(function (f, fi) {
    (f.connections || []).forEach(function (c) { rows.push(row(c, fi)); });
  });

  // A connection's class, as the incident summary counts it.
  function classOf(c) {
    if (c.story.outcome === "tls_failed") { return "tls_failure"; }
    if ((c.findings || []).some(function (f) { return f.severity === "error"; })) { return "illegal"; }
    switch (c.story.outcome) {
      case "clean": case "no_status": return "clean";
      case "abnormal": case "one_sided": case "failed": return "abnormal";
      default: return "other";
    }
  }
  // A server's name, as the incident summary gives it: the Host asked for (with the port),
  // else the SNI and port, else the address.
  function serverName(c) {
    var port = String(c.server).slice(String(c.server).lastIndexOf(":") + 1);
    var host = c.handshake && c.handshake.host;
    if (host) { return hasPort(host) ? host : host + ":" + port; }
    if (c.tls && c.tls.sni) { return c.tls.sni + ":" + port; }
    return c.server;
  }
  function hasPort(host) {
    var i = host.lastIndexOf(":");
    if (i < 0) { return false; }
    var h = host.slice(0, i);
    return /^[0-9]+$/.test(host.slice(i + 1)) && h.length > 0 &&
      (h.indexOf(":") < 0 || h.charAt(h.length - 1) === "]");
  }
  function causeOf(c) {
    var closes = c.closes || [];
    for (var i = 0; i < closes.length; i++) {
      if (closes[i].diagnosis) { return closes[i].diagnosis.summary; }
    }
    if (c.story.likely_cause) { return c.story.likely_cause; }
    if (c.tls && c.tls.failure) { return c.tls.failure.cause; }
    for (i = 0; i < closes.length; i++) {
      if (closes[i].problems && closes[i].problems.length) { return closes[i].problems[0]; }
    }
    return "";
  }
  function row(c, fi) {
    var first = (c.closes || [])[0];
    var closedAt = first ? ms(first.ts) : c.story.tcp_end ? ms(c.story.tcp_end.ts) : ms(c.end);
    return {
      c: c, file: fi, start: ms(c.start), at: closedAt, cls: classOf(c),
      server: serverName(c), code: first ? first.code : null,
      codeName: first ? (first.code === null || first.code === undefined ? "(empty)" :
        first.code + (first.explanation ? " " + first.explanation.name : "")) : "",
      codes: (c.closes || []).map(function (x) { return x.code === null || x.code === undefined ? "empty" : String(x.code); }),
      cause: causeOf(c), tr: null, story: null
    };
  }

  // ---- summary ----
  var incident = data.incident || (files.length === 1 ? files[0].incident : null) || null;
  var app = document.getElementById("app");
  var origin = NaN; // capture time the time filter counts from

  function header() {
    app.appendChild(el("h1", null, [T.title]));
    var names = files.map(function (f) { return f.path; }).join(", ");
    app.appendChild(el("div", { "class": "muted" }, [names + " · wsclose " + (data.version || "")]));
    files.forEach(function (f) {
      if (f.error) { app.appendChild(el("div", { "class": "note error" }, [f.path + ": " + f.error])); }
      (f.warnings || []).forEach(function (w) {
        app.appendChild(el("div", { "class": "note" }, [f.path + ": " + w.message]));
      });
    });
  }

  function table(cols, items, cells) {
    var head = el("tr", null, cols.map(function (c) { return el("th", { "class": c[1] || null }, [c[0]]); }));
    var body = el("tbody", null, items.map(function (it) {
      return el("tr", null, cells(it).map(function (v, i) {
        return el("td", { "class": cols[i][1] || null }, [v]);
      }));
    }));
    return el("table", null, [el("thead", null, [head]), body]);
  }

  function stats(counts) {
    return el("div", { "class": "stats" }, Object.keys(counts).map(function (k) {
      return el("span", { "class": "stat" }, [el("b", null, [counts[k]]), " " + outcomeName(k)]);
    }));
  }

  function summary() {
    app.appendChild(el("h2", null, [T.summary]));
    if (!incident) {
      app.appendChild(el("div", { "class": "note" }, [T.noIncident]));
      var outcomes = {};
      files.forEach(function (f) {
        var o = (f.summary && f.summary.outcomes) || {};
        Object.keys(o).forEach(function (k) { outcomes[k] = (outcomes[k] || 0) + o[k]; });
      });
      app.appendChild(stats(outcomes));
      return;
    }
    app.appendChild(el("div", { "class": "stats" }, [
      el("span", { "class": "stat" }, [el("b", null, [incident.connections]), " " + T.connections]),
      typeof incident.problems === "number" ? el("span", { "class": "stat" }, [el("b", null, [incident.problems]), " " + T.withProblems]) : null
    ]));
    if (incident.details === "problems") {
      // The option stays left to right inside Arabic text.
      var parts = T.problems(incident.shown, incident.connections).split("--all");
      app.appendChild(el("div", { "class": "note", id: "details-note" },
        [parts[0], el("code", { dir: "ltr" }, ["--all"]), parts.slice(1).join("--all")]));
    }
    app.appendChild(el("h3", null, [T.outcomes]));
    app.appendChild(stats(incident.outcomes || {}));
    var grid = el("div", { "class": "grid" });
    app.appendChild(grid);
    if ((incident.codes || []).length) {
      grid.appendChild(el("div", null, [el("h3", null, [T.codes]), table(
        [[T.code, "num"], [T.name], [T.count, "num"]], incident.codes,
        function (x) {
          var a = el("span", { "class": "link" }, [x.code === null || x.code === undefined ? "—" : x.code]);
          a.addEventListener("click", function () { setFilter("code", x.code === null || x.code === undefined ? "empty" : String(x.code)); });
          return [a, x.name || "", x.count];
        })]));
    }
    if ((incident.servers || []).length) {
      grid.appendChild(el("div", null, [el("h3", null, [T.servers]), table(
        [[T.server], [T.connections, "num"], [T.problemsCol, "num"]], incident.servers,
        function (x) {
          var name = x.name || x.server;
          var a = el("span", { "class": "link" }, [name]);
          a.addEventListener("click", function () { setFilter("server", name); });
          return [a, x.connections, x.problems];
        })]));
    }
    if ((incident.clients || []).length) {
      grid.appendChild(el("div", null, [el("h3", null, [T.clients]), table(
        [[T.client], [T.connections, "num"], [T.problemsCol, "num"]], incident.clients,
        function (x) { return [x.name || x.client, x.connections, x.problems]; })]));
    }
    if ((incident.causes || []).length) {
      app.appendChild(el("h3", null, [T.causes]));
      app.appendChild(table(
        [[T.count, "num"], [T.share, "num"], [T.cause], [T.server], [T.span], [T.example]], incident.causes,
        function (x) {
          var ex = "";
          if (x.example !== null && x.example !== undefined) {
            ex = el("span", { "class": "link" }, ["#" + x.example]);
            ex.addEventListener("click", function () { openConn(x.example, x.example_file); });
          }
          var share = typeof x.share === "number" ? Math.round(x.share * 100) + "%" : "";
          var servers = (x.servers || []).map(function (s) {
            var n = s.connections !== undefined ? s.connections : s.count;
            return (s.name || s.server) + (x.servers.length > 1 ? " (" + n + ")" : "");
          }).join(", ");
          var span = clock(ms(x.first)) + (x.last && x.last !== x.first ? "–" + clock(ms(x.last)) : "");
          var cls = el("span", { "class": "o " + (x["class"] || "other") }, [T.classes[x["class"]] || words(x["class"] || "")]);
          return [x.count, share, el("span", null, [cls, " ", x.summary || words(x.cause)]), servers, span, ex];
        }));
    }
    if (several) {
      app.appendChild(el("h3", null, [T.files]));
      app.appendChild(table([[T.file], [T.connections, "num"], [T.outcomes]], files, function (f) {
        var inc = f.incident;
        var n = inc ? inc.connections : f.summary ? f.summary.tcp_connections : "";
        var o = (inc && inc.outcomes) || (f.summary && f.summary.outcomes) || {};
        return [f.path, n, Object.keys(o).map(function (k) { return words(k) + " " + o[k]; }).join(" · ")];
      }));
    }
  }

  // ---- timeline ----
  // The document's timeline, or one counted from the listed connections when it has none.
  function timeline() {
    if (incident && incident.timeline) { return incident.timeline; }
    var times = rows.map(function (r) { return r.at; }).filter(isFinite);
    if (!times.length) { return null; }
    var lo = Math.min.apply(null, times), hi = Math.max.apply(null, times);
    var steps = [1000, 2000, 5000, 10000, 15000, 30000, 60000, 120000, 300000, 600000, 900000, 1800000, 3600000];
    var step = steps[steps.length - 1];
    for (var i = 0; i < steps.length; i++) {
      if ((hi - lo) / steps[i] < 60) { step = steps[i]; break; }
    }
    var start = Math.floor(lo / step) * step;
    var n = Math.max(1, Math.floor((hi - start) / step) + 1);
    var counts = {};
    CLASSES.forEach(function (k) { counts[k] = []; for (var j = 0; j < n; j++) { counts[k].push(0); } });
    rows.forEach(function (r) {
      if (isFinite(r.at)) { counts[r.cls][Math.min(n - 1, Math.floor((r.at - start) / step))] += 1; }
    });
    return { start: new Date(start).toISOString(), bucket_ms: step, buckets: n, counts: counts };
  }

  function chart() {
    var tl = timeline();
    if (!tl) { return; }
    app.appendChild(el("h2", null, [T.timeline]));
    var start = ms(tl.start), step = tl.bucket_ms, n = tl.buckets;
    origin = start;
    var classes = CLASSES.filter(function (k) { return tl.counts[k]; });
    var totals = [];
    for (var i = 0; i < n; i++) {
      totals.push(classes.reduce(function (s, k) { return s + (tl.counts[k][i] || 0); }, 0));
    }
    var max = Math.max.apply(null, totals.concat([1]));
    var W = 960, H = 200, left = 40, right = 30, top = 10, bottom = 24;
    var bw = (W - left - right) / n;
    var y = function (v) { return (H - top - bottom) * v / max; };
    var root = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": T.timeline });
    root.appendChild(svg("line", { x1: left, y1: H - bottom, x2: W - right, y2: H - bottom, stroke: "#8a949e" }));
    root.appendChild(svg("text", { x: left - 4, y: top + 10, "text-anchor": "end" }, [max]));
    root.appendChild(svg("text", { x: left - 4, y: H - bottom, "text-anchor": "end" }, ["0"]));
    var every = Math.max(1, Math.ceil(n / 10));
    for (i = 0; i < n; i++) {
      var x = left + i * bw;
      var title = clock(start + i * step) + "–" + clock(start + (i + 1) * step) + " " + T.utc + "\n" +
        classes.map(function (k) { return T.classes[k] + ": " + (tl.counts[k][i] || 0); }).join("\n");
      var g = svg("g", { "data-bucket": i }, [svg("title", null, [title])]);
      g.appendChild(svg("rect", { "class": "hit", x: x, y: top, width: bw, height: H - top - bottom, fill: "transparent" }));
      var base = H - bottom;
      classes.forEach(function (k) {
        var v = tl.counts[k][i] || 0;
        if (!v) { return; }
        var h = y(v);
        base -= h;
        g.appendChild(svg("rect", { x: x + bw * 0.1, y: base, width: bw * 0.8, height: h, fill: "var(--" + k + ")" }));
      });
      (function (i, g) {
        g.addEventListener("click", function () {
          var sel = root.querySelector("g.sel");
          if (sel) { sel.setAttribute("class", ""); }
          g.setAttribute("class", "sel");
          setTime(i * step / 1000, (i + 1) * step / 1000);
        });
      })(i, g);
      root.appendChild(g);
      if (i % every === 0) {
        root.appendChild(svg("text", { x: x + bw / 2, y: H - 8, "text-anchor": "middle" }, [clock(start + i * step)]));
      }
    }
    var legend = el("div", { "class": "legend" }, classes.map(function (k) {
      var total = tl.counts[k].reduce(function (s, v) { return s + v; }, 0);
      return total === 0 ? null : el("span", null, [el("span", { "class": "swatch", style: "background:var(--" + k + ")" }), T.classes[k] + " (" + total + ")"]);
    }));
    app.appendChild(el("div", { "class": "chart", id: "chart" }, [root]));
    app.appendChild(legend);
    app.appendChild(el("div", { "class": "muted" }, [T.bucket + " · " + dur(step) + " · " + T.utc]));
  }

  // ---- table ----
  var filters = { outcome: "", code: "", server: "", from: "", to: "" };
  var sort = { key: "id", dir: 1 };
  var tbody, counter, colCount, controls = {};

  function options(values, label) {
    var sel = el("select", null, [el("option", { value: "" }, [T.all])]);
    values.forEach(function (v) { sel.appendChild(el("option", { value: v[0] }, [v[1]])); });
    return el("label", null, [label, sel]);
  }
  function distinct(fn) {
    var seen = {};
    rows.forEach(function (r) { fn(r).forEach(function (v) { seen[v[0]] = seen[v[0]] || [v[0], v[1], 0]; seen[v[0]][2] += 1; }); });
    return Object.keys(seen).map(function (k) { return seen[k]; });
  }

  function connections() {
    app.appendChild(el("h2", null, [T.table]));
    if (!isFinite(origin)) {
      origin = Math.min.apply(null, rows.map(function (r) { return r.at; }).filter(isFinite).concat([Infinity]));
    }
    var outcomes = distinct(function (r) { return [[r.c.story.outcome, outcomeName(r.c.story.outcome)]]; })
      .sort(function (a, b) { return b[2] - a[2]; })
      .map(function (v) { return [v[0], v[1] + " (" + v[2] + ")"]; });
    var codes = distinct(function (r) {
      var out = r.c.closes.map(function (x) {
        var k = x.code === null || x.code === undefined ? "empty" : String(x.code);
        return [k, k === "empty" ? "(empty)" : k + (x.explanation ? " " + x.explanation.name : "")];
      });
      return out.length ? out : [["none", T.none]];
    }).sort(function (a, b) { return a[0] < b[0] ? -1 : 1; }).map(function (v) { return [v[0], v[1] + " (" + v[2] + ")"]; });
    var servers = distinct(function (r) { return [[r.server, r.server]]; })
      .sort(function (a, b) { return b[2] - a[2]; })
      .map(function (v) { return [v[0], v[1] + " (" + v[2] + ")"]; });
    var bar = el("div", { "class": "filters" });
    [["outcome", options(outcomes, T.outcome)], ["code", options(codes, T.closeCode)], ["server", options(servers, T.server)]]
      .forEach(function (p) {
        var sel = p[1].querySelector("select");
        sel.id = "filter-" + p[0];
        sel.addEventListener("change", function () { filters[p[0]] = sel.value; render(); });
        controls[p[0]] = sel;
        bar.appendChild(p[1]);
      });
    ["from", "to"].forEach(function (k) {
      var input = el("input", { type: "number", step: "any", min: "0", id: "filter-" + k });
      input.addEventListener("input", function () { filters[k] = input.value; render(); });
      controls[k] = input;
      bar.appendChild(el("label", null, [T[k], input]));
    });
    var clear = el("button", { type: "button", id: "filter-clear" }, [T.clear]);
    clear.addEventListener("click", function () {
      Object.keys(filters).forEach(function (k) { filters[k] = ""; controls[k].value = ""; });
      var sel = document.querySelector("#chart g.sel");
      if (sel) { sel.setAttribute("class", ""); }
      render();
    });
    bar.appendChild(clear);
    counter = el("span", { "class": "muted", id: "shown" });
    bar.appendChild(counter);
    app.appendChild(bar);

    var cols = [["id", T.id, "num"]];
    if (several) { cols.push(["file", T.file]); }
    cols = cols.concat([["client", T.client], ["server", T.server], ["start", T.start], ["duration", T.duration, "num"],
      ["outcome", T.outcome], ["code", T.closeCode], ["cause", T.likely]]);
    var head = el("tr");
    cols.forEach(function (col) {
      var th = el("th", { "data-key": col[0], "class": col[2] || null, scope: "col" }, [col[1]]);
      th.addEventListener("click", function () {
        sort = { key: col[0], dir: sort.key === col[0] ? -sort.dir : 1 };
        render();
      });
      head.appendChild(th);
    });
    tbody = el("tbody");
    app.appendChild(el("table", { id: "conns" }, [el("thead", null, [head]), tbody]));
    rows.forEach(function (r) {
      var c = r.c;
      var cells = [el("td", { "class": "num" }, [c.id])];
      if (several) { cells.push(el("td", null, [files[r.file].path])); }
      cells.push(el("td", { "class": "mono" }, [c.client]));
      cells.push(el("td", { "class": "mono", title: c.server }, [r.server]));
      cells.push(el("td", { "class": "mono", title: c.start }, [clock(r.start, true)]));
      cells.push(el("td", { "class": "num" }, [dur(c.duration_ms)]));
      cells.push(el("td", null, [el("span", { "class": "o " + r.cls }, [outcomeName(c.story.outcome)])]));
      cells.push(el("td", null, [r.codeName || T.none]));
      cells.push(el("td", null, [r.cause]));
      r.tr = el("tr", { "data-conn": c.id, "data-file": several ? r.file : null, tabindex: "0" }, cells);
      r.tr.addEventListener("click", function () { toggle(r); });
      r.tr.addEventListener("keydown", function (e) { if (e.key === "Enter") { toggle(r); } });
    });
    colCount = cols.length;
    render();
  }

  function key(r, k) {
    switch (k) {
      case "id": return several ? r.file * 1e9 + r.c.id : r.c.id;
      case "file": return files[r.file].path;
      case "client": return r.c.client;
      case "server": return r.server;
      case "start": return r.start;
      case "duration": return r.c.duration_ms;
      case "outcome": return r.c.story.outcome;
      case "code": return r.code === null || r.code === undefined ? -1 : r.code;
      default: return r.cause;
    }
  }
  function matches(r) {
    if (filters.outcome && r.c.story.outcome !== filters.outcome) { return false; }
    if (filters.code) {
      if (filters.code === "none" ? r.codes.length : r.codes.indexOf(filters.code) < 0) { return false; }
    }
    if (filters.server && r.server !== filters.server) { return false; }
    var t = (r.at - origin) / 1000;
    if (filters.from !== "" && !(t >= parseFloat(filters.from))) { return false; }
    if (filters.to !== "" && !(t < parseFloat(filters.to))) { return false; }
    return true;
  }
  function render() {
    var shown = rows.filter(matches);
    shown.sort(function (a, b) {
      var x = key(a, sort.key), y = key(b, sort.key);
      if (x < y) { return -sort.dir; }
      if (x > y) { return sort.dir; }
      return a.file - b.file || a.c.id - b.c.id;
    });
    var frag = document.createDocumentFragment();
    shown.forEach(function (r) {
      frag.appendChild(r.tr);
      if (r.story) { frag.appendChild(r.story); }
    });
    while (tbody.firstChild) { tbody.removeChild(tbody.firstChild); }
    tbody.appendChild(frag);
    counter.textContent = T.shown(shown.length, rows.length);
    Array.prototype.forEach.call(document.querySelectorAll("#conns th"), function (th) {
      if (th.getAttribute("data-key") === sort.key) {
        th.setAttribute("aria-sort", sort.dir > 0 ? "ascending" : "descending");
      } else {
        th.removeAttribute("aria-sort");
      }
    });
  }
  function setFilter(k, v) {
    filters[k] = v;
    if (controls[k]) { controls[k].value = v; }
    render();
    document.getElementById("conns").scrollIntoView();
  }
  function setTime(from, to) {
    filters.from = String(from);
    filters.to = String(to);
    controls.from.value = filters.from;
    controls.to.value = filters.to;
    render();
  }
  function openConn(id, file) {
    var r = rows.filter(function (x) {
      return x.c.id === id && (!several || !file || files[x.file].path === file);
    })[0];
    if (!r) { return; }
    if (!r.tr.parentNode) {
      Object.keys(filters).forEach(function (k) { filters[k] = ""; controls[k].value = ""; });
      render();
    }
    if (!r.story) { toggle(r); }
    r.tr.scrollIntoView();
  }

  // ---- a connection's story ----
  function toggle(r) {
    if (r.story) {
      r.story.parentNode && r.story.parentNode.removeChild(r.story);
      r.story = null;
      r.tr.classList.remove("open");
      return;
    }
    r.story = el("tr", { "class": "story", "data-story": r.c.id }, [el("td", { colspan: colCount }, [storyOf(r.c)])]);
    r.tr.classList.add("open");
    r.tr.parentNode.insertBefore(r.story, r.tr.nextSibling);
  }

  function storyOf(c) {
    var box = el("div", { "class": "story", dir: "ltr", lang: "en" });
    function section(title, lines) {
      lines = lines.filter(function (l) { return l !== null && l !== undefined; });
      if (!lines.length) { return; }
      box.appendChild(el("h4", null, [title]));
      box.appendChild(el("pre", null, [lines.join("\n")]));
    }
    var s = c.story;
    section("Connection #" + c.id, [
      c.client + " → " + c.server + "  (" + words(c.detection) + ")",
      "from " + c.start + " to " + c.end + " (" + dur(c.duration_ms) + "), packets " + c.first_frame + "–" + c.last_frame,
      "frames: client → server " + c.frames.client_to_server + ", server → client " + c.frames.server_to_client +
        "; messages: " + c.messages.client_to_server + " / " + c.messages.server_to_client,
      c.client_software ? "client software: " + c.client_software.product + " (" + c.client_software.confidence +
        " confidence: " + c.client_software.evidence + ")" : null
    ]);
    var h = c.handshake;
    if (h) {
      section("Handshake", [
        "GET " + h.path + (h.host ? "  Host: " + h.host : "") + (h.status !== null && h.status !== undefined ? "  → HTTP " + h.status : "  (no response)"),
        h.origin ? "Origin: " + h.origin : null,
        h.user_agent ? "User-Agent: " + h.user_agent : null,
        h.server ? "Server: " + h.server : null,
        h.subprotocol ? "subprotocol: " + h.subprotocol : null,
        h.extensions && h.extensions.length ? "extensions: " + h.extensions.join(", ") : null,
        h.accept_valid === false ? "Sec-WebSocket-Accept does not match the key" : null,
        h.request_via ? "request Via: " + h.request_via : null,
        h.response_via ? "response Via: " + h.response_via : null
      ]);
    }
    var closes = [];
    (c.closes || []).forEach(function (x) {
      closes.push("packet " + x.frame + "  " + x.ts + "  " + dir(x.direction) + ": " +
        (x.code === null || x.code === undefined ? "no status code" : x.code + (x.explanation ? " " + x.explanation.name : "")) +
        (x.reason ? '  reason "' + x.reason + '"' : "") + (x.reason_hex ? "  reason bytes " + x.reason_hex : "") +
        "  [" + x.verdict + "]");
      (x.problems || []).forEach(function (p) { closes.push("  ! " + p); });
      if (x.peer_reaction) { closes.push("  peer: " + x.peer_reaction); }
      if (x.explanation) {
        closes.push("  meaning: " + x.explanation.meaning);
        closes.push("  fix: " + x.explanation.fix);
      }
      var ev = x.evidence;
      if (ev) {
        closes.push("  evidence: " + dur(ev.age_ms) + " after the " + (ev.age_since === "handshake" ? "handshake" : "first packet") +
          (ev.round_lifetime_s ? " (a round " + ev.round_lifetime_s + " s lifetime)" : ""));
        if (ev.trigger) {
          closes.push("    after the message of packet " + ev.trigger.frame + ", " + dur(ev.trigger.ms_before) + " before" +
            (ev.trigger.reaction_ms !== undefined ? " (typical reaction " + dur(ev.trigger.reaction_ms) + ")" : ""));
        }
        closes.push("    " + activity("sender", ev.sender));
        closes.push("    " + activity("peer", ev.peer));
        if (ev.same_instant) {
          closes.push("    " + ev.same_instant.others + " other connections to the same server closed with this code within " +
            dur(ev.same_instant.window_ms));
        }
      }
      if (x.diagnosis) {
        closes.push("  diagnosis (" + x.diagnosis.confidence + "): " + words(x.diagnosis.cause) + ": " + x.diagnosis.summary);
      }
    });
    if (c.closes_not_listed) { closes.push("(" + c.closes_not_listed + " more Close frames not listed)"); }
    section("Close frames", closes.length ? closes : ["none"]);
    var end = [];
    end.push("outcome: " + words(s.outcome) + (s.first_closer ? ", first Close " + dir(s.first_closer) : "") +
      (s.answered === true ? ", answered" + (s.close_delay_ms !== null && s.close_delay_ms !== undefined ? " after " + dur(s.close_delay_ms) : "") :
        s.answered === false ? ", not answered" : ""));
    if (s.tcp_end) {
      end.push("TCP: " + s.tcp_end.kind.toUpperCase() + " " + dir(s.tcp_end.by) + " at packet " + s.tcp_end.frame +
        (s.tcp_end.after_close_ms !== undefined ? ", " + dur(s.tcp_end.after_close_ms) + " after the first Close" : "") +
        (s.tcp_end.tls_close_notify === false ? " (no TLS close_notify first)" : ""));
    }
    if (s.data_after_close) { end.push("data frames were sent after a Close"); }
    if (s.idle_before_end_ms !== null && s.idle_before_end_ms !== undefined) { end.push("idle before the end: " + dur(s.idle_before_end_ms)); }
    if (s.likely_cause) { end.push("likely cause: " + s.likely_cause); }
    if (s.proxy) {
      end.push("proxy: " + s.proxy.name + (s.proxy.version ? " " + s.proxy.version : "") + " (" + s.proxy.header + ": " +
        s.proxy.value + ", on the " + s.proxy.side + " side)");
    }
    if (s.idle_timeout) {
      var it = s.idle_timeout;
      end.push("idle timeout: " + it.seconds + " s (" + words(it.kind) + (it.setting ? ", " + it.setting : "") + "), off by " +
        dur(Math.abs(it.off_ms)) + ", " + it.confidence + " confidence");
    }
    if (s.linked_leg) { end.push("linked leg #" + s.linked_leg.connection + " (" + words(s.linked_leg.role) + "): " + s.linked_leg.story); }
    section("How it ended", end);
    section("What the applications saw", [observed("client", s.client_observed), observed("server", s.server_observed)]);
    var t = c.tls;
    if (t) {
      var tls = ["handshake " + t.handshake + (t.version ? ", " + t.version : "") + (t.cipher ? ", " + t.cipher : "") +
        (t.sni ? ", SNI " + t.sni : "") + (t.alpn ? ", ALPN " + t.alpn : "") + (t.hello_retry ? ", HelloRetryRequest" : "")];
      (t.alerts || []).forEach(function (a) {
        tls.push("alert at packet " + a.frame + " " + dir(a.direction) + ": " +
          (a.name || (a.description !== null && a.description !== undefined ? "alert " + a.description : a.probable ? "encrypted, probably " + a.probable : "encrypted")));
      });
      if (t.failure) {
        tls.push("failure (" + words(t.failure.kind) + ", packet " + t.failure.frame + "): " + t.failure.cause);
        tls.push("fix: " + t.failure.fix);
      }
      (t.certificates || []).forEach(function (cert, i) {
        tls.push("certificate " + (i + 1) + ": " + cert.subject + " (issuer " + cert.issuer + "), valid " + cert.not_before + " to " + cert.not_after);
      });
      (t.certificate_problems || []).forEach(function (p) { tls.push("! " + p); });
      (t.certificate_hints || []).forEach(function (p) { tls.push("note: " + p); });
      if (t.decryption) { tls.push("decryption: " + words(t.decryption.status) + ": " + t.decryption.detail); }
      section("TLS", tls);
    }
    section("Findings", (c.findings || []).map(function (f) {
      return f.severity + "  " + f.rule + (f.count > 1 ? " ×" + f.count : "") + ": " + f.message + (f.frame ? " (packet " + f.frame + ")" : "");
    }));
    return box;
  }
  function activity(who, a) {
    if (!a) { return who + ": nothing"; }
    return who + ": " + a.messages + " messages (last 1 s: " + a.last_1s + ", last 10 s: " + a.last_10s +
      (a.counts_at_least ? ", at least" : "") + ")" +
      (a.burst ? ", a burst of " + a.burst.messages + " in " + dur(a.burst.span_ms) : "") +
      ", pings " + a.pings + ", pongs " + a.pongs +
      (a.unanswered_pings ? ", " + a.unanswered_pings + " unanswered" : "") +
      (a.first_invalid ? ", first invalid message at packet " + a.first_invalid.frame : "");
  }
  function observed(side, o) {
    if (!o) { return null; }
    var line = side + (o.family ? " (" + o.family + ")" : "") + ": " +
      (o.code !== null && o.code !== undefined ? o.code + (o.name ? " " + o.name : "") : "no close code") +
      (o.was_clean !== undefined ? ", wasClean " + o.was_clean : "") +
      (o.error_event ? ", error event" : "") + (o.error ? ', error "' + o.error + '"' : "") +
      "\n  why: " + o.why;
    (o.alternatives || []).forEach(function (alt) {
      line += "\n  " + alt.families.join(", ") + ": " + (alt.code !== null && alt.code !== undefined ? alt.code : "no close code") +
        (alt.error ? ', error "' + alt.error + '"' : "");
    });
    return line;
  }

  // ---- catalog ----
  function cards() {
    if (!(catalog.en || []).length) { return; }
    app.appendChild(el("h2", null, [T.catalog]));
    var order = lang === "ar" ? ["ar", "en"] : ["en", "ar"];
    order.forEach(function (l) {
      var labels = CARD_LABELS[l];
      var sec = el("section", { lang: l, dir: l === "ar" ? "rtl" : "ltr", id: "catalog-" + l }, [
        el("h3", null, [l === "ar" ? T.catalogAr : T.catalogEn])
      ]);
      var grid = el("div", { "class": "cards" });
      catalog[l].forEach(function (card) {
        var head = card.kind === "tls_alert" ? "TLS " + card.query.replace("tls:", "") + " " + card.name : card.query + " " + card.name;
        var dl = el("dl");
        function item(k, v) { if (v) { dl.appendChild(el("dt", null, [labels[k]])); dl.appendChild(el("dd", null, [v])); } }
        item("range", card.range);
        item("wire", card.on_the_wire);
        item("meaning", card.meaning);
        item("when", card.when);
        item("fix", card.fix);
        item("source", card.source);
        grid.appendChild(el("article", { "class": "card", "data-card": card.query }, [
          el("h3", null, [head + (card.title !== card.name ? " · " + card.title : "")]), dl
        ]));
      });
      sec.appendChild(grid);
      app.appendChild(sec);
    });
  }

  header();
  summary();
  chart();
  connections();
  cards();
  document.documentElement.setAttribute("data-ready", "1");
})();
