// GIMS GUI: the few behaviours htmx does not cover. No inline scripts (the
// Content-Security-Policy forbids them); everything hooks on load.
(function () {
  "use strict";

  // Every htmx request carries the session's CSRF token.
  function csrfToken() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.content : "";
  }
  document.addEventListener("htmx:configRequest", function (e) {
    e.detail.headers["X-CSRF-Token"] = csrfToken();
  });

  // ---- Stale data: when a poll fails the page says so (issue 18) rather
  // than freezing its numbers in silence. 401: the session ended (a
  // logout in another tab): a link to log in again. Other failures and
  // network errors: "stale", tried again at the next poll.
  function stale(status) {
    var b = document.getElementById("stale");
    if (!b) { return; }
    var why = b.querySelector(".stale-why"), login = b.querySelector(".stale-login"), retry = b.querySelector(".stale-retry");
    if (status === 401) {
      why.textContent = "you are logged out (perhaps in another tab)";
      login.hidden = false; retry.hidden = true;
      var a = login.querySelector("a");
      a.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
    } else {
      why.textContent = status ? "the server answered " + status : "the server cannot be reached";
      login.hidden = true; retry.hidden = false;
    }
    b.hidden = false;
    b.setAttribute("data-status", String(status));
    document.body.classList.add("is-stale");
  }
  function fresh() {
    var b = document.getElementById("stale");
    if (b && !b.hidden && b.getAttribute("data-status") !== "401") {
      b.hidden = true;
      document.body.classList.remove("is-stale");
    }
  }
  window.gimsStale = stale;
  document.addEventListener("htmx:responseError", function (e) { stale(e.detail.xhr.status); });
  document.addEventListener("htmx:sendError", function () { stale(0); });
  document.addEventListener("htmx:afterRequest", function (e) { if (e.detail.successful) { fresh(); } });

  // ---- Busy forms: a form that waits on a capture device (add, save,
  // fetch capabilities) shows a spinner and cannot be sent twice.
  function setupBusy(form) {
    form.addEventListener("submit", function (e) {
      if (e.defaultPrevented) { return; }
      var btn = form.querySelector("button[type=submit], button:not([type])");
      if (!btn) { return; }
      btn.disabled = true;
      btn.setAttribute("aria-busy", "true");
      form.setAttribute("aria-busy", "true");
      var label = btn.getAttribute("data-busy");
      if (label) { btn.textContent = label; }
      var note = form.querySelector(".busy-note");
      if (note) { note.hidden = false; }
    });
    // Back from the history: usable again.
    window.addEventListener("pageshow", function (e) {
      if (!e.persisted) { return; }
      form.querySelectorAll("button[aria-busy]").forEach(function (b) { b.disabled = false; b.removeAttribute("aria-busy"); });
      form.removeAttribute("aria-busy");
    });
  }

  // ---- Device form: the same checks, with the same messages, as the
  // aggregate manager's (am/devices.go checkDevice, am/auth.go checkName).

  // goQuote is Go's %q for the strings people type.
  function goQuote(s) { return JSON.stringify(s); }
  function utf8Length(s) { return new TextEncoder().encode(s).length; }
  function nameError(what, s) {
    if (s === "" || utf8Length(s) > 64) { return what + " must have 1 to 64 characters"; }
    if (!/^[A-Za-z0-9._-]*$/.test(s)) {
      return what + " " + goQuote(s) + ": use only letters, digits, '.', '_' and '-'";
    }
    return "";
  }
  // parsePort reads the port as the server does (strconv.Atoi; not a
  // number is 0).
  function parsePort(s) {
    if (!/^[+-]?[0-9]{1,18}$/.test(s)) { return 0; }
    return parseInt(s, 10);
  }
  // validHost is am.ValidHost: an IP address or a host name of labels
  // of letters, digits, '-' and '_' between dots.
  function validHost(h) {
    if (h === "" || h.length > 253) { return false; }
    var ip = h.replace(/^\[/, "").replace(/\]$/, "");
    if (ip.indexOf(":") >= 0) { return /^[0-9A-Fa-f:.]+$/.test(ip); }
    return h.replace(/\.$/, "").split(".").every(function (l) {
      return /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/.test(l);
    });
  }
  // deviceErrors returns the messages per field of a device form's values.
  function deviceErrors(v, editing) {
    var errs = {};
    var n = nameError("device name", v.name);
    if (n) { errs.name = n; }
    if (!validHost(v.hostname)) {
      errs.hostname = "device " + v.name + ": hostname " + goQuote(v.hostname) + " is not a host name or address";
    }
    var port = parsePort(v.port);
    if (port < 1 || port > 65535) {
      errs.port = "device " + v.name + ": port must be between 1 and 65535, got " + port;
    }
    if (!editing && v.token === "") {
      errs.token = "device " + v.name + ": token is required (the daemon's bearer token)";
    }
    return errs;
  }
  window.gimsDeviceErrors = deviceErrors;

  function formValues(form) {
    var get = function (n) { var el = form.elements[n]; return el ? el.value : ""; };
    return { name: get("name").trim(), hostname: get("hostname").trim(), port: get("port").trim(), token: get("token") };
  }
  function showErrors(form, errs) {
    form.querySelectorAll(".field-error").forEach(function (el) {
      var field = el.getAttribute("data-for");
      el.textContent = errs[field] || "";
      var input = form.elements[field];
      if (input) {
        if (errs[field]) { input.setAttribute("aria-invalid", "true"); } else { input.removeAttribute("aria-invalid"); }
      }
    });
  }
  function setupDeviceForm(form) {
    var editing = form.getAttribute("data-edit") === "true";
    form.addEventListener("submit", function (e) {
      var errs = deviceErrors(formValues(form), editing);
      showErrors(form, errs);
      if (Object.keys(errs).length > 0) {
        e.preventDefault();
        var first = form.querySelector("[aria-invalid=true]");
        if (first) { first.focus(); }
      }
    });
    var select = form.querySelector("select.location");
    var other = form.querySelector("input.new-location");
    if (select && other) {
      var sync = function () { other.hidden = select.value !== "__new__"; };
      select.addEventListener("change", function () { sync(); if (!other.hidden) { other.focus(); } });
      sync();
    }
  }

  // ---- Charts of the counters: packets/s and bits/s stacked by
  // protocol; on an experiment with several devices, one line per device
  // interface (its total) unless "by protocol" is picked.
  var palette = ["#1e88e5", "#43a047", "#fb8c00", "#8e24aa", "#e53935", "#00897b", "#6d4c41", "#546e7a"];
  // One time format everywhere (as the server writes them): 24-hour
  // clock with the date, YYYY-MM-DD HH:MM:SS, in UTC.
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function timeLabel(ms) {
    var d = new Date(ms);
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " +
      pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds());
  }
  window.gimsTimeLabel = timeLabel;
  function siTick(unit) {
    return function (v) {
      var p = ["", "k", "M", "G", "T"], i = 0;
      while (Math.abs(v) >= 1000 && i < p.length - 1) { v /= 1000; i++; }
      return (Math.round(v * 10) / 10) + " " + p[i] + unit;
    };
  }
  function siValue(v, unit) { return siTick(unit)(v); }
  function rateChart(canvas, unit) {
    return new window.Chart(canvas, {
      type: "line",
      data: { labels: [], datasets: [] },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        elements: { point: { radius: 0 }, line: { tension: 0.2, borderWidth: 1.5 } },
        scales: {
          x: { ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 6 } },
          y: { stacked: true, beginAtZero: true, ticks: { callback: siTick(unit) } }
        },
        plugins: {
          legend: { position: "bottom", labels: { boxWidth: 12 } },
          tooltip: { callbacks: { label: function (c) { return c.dataset.label + ": " + siValue(c.parsed.y, unit); } } }
        }
      }
    });
  }
  // setSeries draws series on a chart: stacked areas (by protocol) or
  // lines (one per device, a gap where a device has no counters).
  function setSeries(chart, labels, series, stacked) {
    chart.data.labels = labels;
    var same = chart.options.scales.y.stacked === stacked && chart.data.datasets.length === series.length &&
      series.every(function (s, i) { return chart.data.datasets[i].label === s.name; });
    if (!same) {
      chart.options.scales.y.stacked = stacked;
      chart.data.datasets = series.map(function (s, i) {
        var c = palette[i % palette.length];
        return stacked ?
          { label: s.name, data: [], fill: i === 0 ? "origin" : "-1", borderColor: c, backgroundColor: c + "99" } :
          { label: s.name, data: [], fill: false, spanGaps: false, borderColor: c, backgroundColor: c, borderWidth: 2 };
      });
    }
    series.forEach(function (s, i) { chart.data.datasets[i].data = s.values; });
    chart.update();
  }
  // byProtocol lists the series of a rates-by-protocol object, in the
  // same order (and so the same colours) on both charts; "unclassified"
  // (bits/s of counters recorded before the bytes per protocol were) only
  // when the answer has it.
  function byProtocol(r) {
    var series = [
      { name: "TCP", values: r.tcp }, { name: "UDP", values: r.udp },
      { name: "ICMP", values: r.icmp }, { name: "other", values: r.other }];
    if (r.unclassified) { series.push({ name: "unclassified", values: r.unclassified }); }
    return series;
  }
  // devicePPS sums a device's packets/s by protocol (null stays null).
  function devicePPS(dev) {
    return dev.pps.tcp.map(function (v, i) {
      return v === null ? null : v + dev.pps.udp[i] + dev.pps.icmp[i] + dev.pps.other[i];
    });
  }
  // fillTable writes the counters as a table (the charts' text
  // alternative): a row per device and interval, newest first, at most
  // 200 rows.
  function fillTable(tbody, d, labels) {
    if (!tbody) { return; }
    var rows = [];
    for (var i = labels.length - 1; i >= 0 && rows.length < 200; i--) {
      d.devices.forEach(function (dev) {
        if (dev.bps[i] === null || rows.length >= 200) { return; }
        var tr = document.createElement("tr");
        [labels[i], dev.name, siValue(dev.pps.tcp[i], "pkt/s"), siValue(dev.pps.udp[i], "pkt/s"), siValue(dev.pps.icmp[i], "pkt/s"),
          siValue(dev.pps.other[i], "pkt/s"), siValue(dev.bps[i], "bit/s")].forEach(function (v, j) {
          var td = document.createElement("td");
          if (j > 1) { td.className = "num"; }
          td.textContent = v;
          tr.appendChild(td);
        });
        rows.push(tr);
      });
    }
    tbody.replaceChildren.apply(tbody, rows);
  }
  function setupCharts(section) {
    var pps = section.querySelector("#chart-pps"), bps = section.querySelector("#chart-bps");
    if (!pps || !bps || !window.Chart) { return; }
    var charts = { pps: rateChart(pps, "pkt/s"), bps: rateChart(bps, "bit/s") };
    var trace = section.getAttribute("data-trace-time") === "true";
    [charts.pps, charts.bps].forEach(function (c) {
      c.options.scales.x.title = { display: true, text: trace ? "trace time (the packets' own timestamps, UTC)" : "time (UTC)" };
    });
    var url = section.getAttribute("data-counters");
    var every = parseInt(section.getAttribute("data-interval"), 10) || 3000;
    var timer = null, last = null;
    function view() {
      var picked = section.querySelector("input[name=chart-view]:checked");
      return picked ? picked.value : "protocol";
    }
    function draw(d) {
      var labels = d.times.map(timeLabel);
      var perDevice = view() === "device" && d.devices.length > 1;
      if (perDevice) {
        setSeries(charts.pps, labels, d.devices.map(function (dev) { return { name: dev.name, values: devicePPS(dev) }; }), false);
        setSeries(charts.bps, labels, d.devices.map(function (dev) { return { name: dev.name, values: dev.bps }; }), false);
      } else {
        setSeries(charts.pps, labels, byProtocol(d.pps), true);
        setSeries(charts.bps, labels, byProtocol(d.bps), true);
      }
      var by = perDevice ? "device" : "protocol";
      section.querySelector("#caption-pps").textContent = "Packets/s by " + by;
      section.querySelector("#caption-bps").textContent = "Bits/s by " + by;
      section.setAttribute("data-view", by);
      fillTable(section.querySelector("#counters-table tbody"), d, labels);
    }
    function load() {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
        .then(function (d) {
          last = d;
          draw(d);
          var empty = section.querySelector(".chart-empty");
          if (empty) { empty.hidden = d.times.length > 0; }
          section.setAttribute("data-points", String(d.times.length));
          var live = d.state === "running" || d.state === "paused";
          if (live && !timer) { timer = setInterval(load, every); }
          if (!live && timer) { clearInterval(timer); timer = null; }
        })
        .catch(function (err) {
          var st = parseInt(String(err && err.message), 10);
          if (live0()) { stale(isNaN(st) ? 0 : st); }
        });
    }
    function live0() { var s = section.getAttribute("data-state"); return s === "running" || s === "paused"; }
    section.querySelectorAll("input[name=chart-view]").forEach(function (r) {
      r.addEventListener("change", function () { if (last) { draw(last); } });
    });
    load();
    // A change of state (the file was read to its end, someone stopped
    // it) draws the final counters.
    document.body.addEventListener("gims-state-changed", load);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form.device-form").forEach(setupDeviceForm);
    document.querySelectorAll("form[data-busy-form]").forEach(setupBusy);
    // Tables wider than the screen get a hint that they scroll.
    function markScrolls() {
      document.querySelectorAll(".overflow-auto").forEach(function (el) {
        // A region that scrolls can be scrolled from the keyboard too.
        if (el.scrollWidth > el.clientWidth + 1) {
          el.setAttribute("data-scrolls", "");
          el.setAttribute("tabindex", "0");
          el.setAttribute("role", "region");
          var t = el.querySelector("table");
          var cap = t && (t.getAttribute("aria-label") || (t.id ? t.id.replace(/-/g, " ") : ""));
          el.setAttribute("aria-label", "table" + (cap ? " " + cap : "") + ", scrolls sideways");
        } else {
          el.removeAttribute("data-scrolls");
          el.removeAttribute("tabindex");
          el.removeAttribute("role");
          el.removeAttribute("aria-label");
        }
      });
    }
    markScrolls();
    window.addEventListener("resize", markScrolls);
    document.body.addEventListener("htmx:afterSettle", markScrolls);
    var search = document.getElementById("source-search");
    if (search) {
      search.addEventListener("input", function () {
        var q = search.value.trim().toLowerCase(), shown = 0;
        document.querySelectorAll("#sources label.source").forEach(function (l) {
          var hit = q === "" || l.getAttribute("data-search").toLowerCase().indexOf(q) >= 0;
          l.classList.toggle("no-match", !hit);
          if (hit) { shown++; }
        });
        document.getElementById("no-source-match").hidden = shown > 0;
      });
    }
    var filters = document.getElementById("experiment-filters");
    if (filters) {
      filters.querySelectorAll("select").forEach(function (sel) {
        sel.addEventListener("change", function () { filters.requestSubmit(); });
      });
    }
    var charts = document.getElementById("charts");
    if (charts) { setupCharts(charts); }
  });
})();
