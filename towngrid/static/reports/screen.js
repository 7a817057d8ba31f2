/* 一屏观天下: draws the screen from the embedded data, then polls the JSON endpoint. */
(function () {
  "use strict";
  var root = document.getElementById("screen");
  if (!root) return;
  var L10N = JSON.parse(document.getElementById("screen-labels").textContent);
  var data = JSON.parse(document.getElementById("screen-data").textContent);
  var shapes = JSON.parse(document.getElementById("screen-geojson").textContent);
  var charts = {};
  var map = null, layer = null;
  var COLOURS = ["#1b3a73", "#2f7cff", "#ffb648", "#ff6b6b"];

  function text(s) { return s === null || s === undefined ? "—" : String(s); }
  function pct(v) { return v === null || v === undefined ? "—" : (v * 100).toFixed(1) + "%"; }
  function num(v) { return v === null || v === undefined ? "—" : Number(v).toLocaleString("zh-CN"); }
  function el(tag, cls, content) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (content !== undefined) e.textContent = content;
    return e;
  }

  function kpis(d) {
    var k = d.kpi, box = document.getElementById("kpis");
    var items = [
      ["day", num(k.day)], ["month", num(k.month)], ["period", num(k.period)],
      ["closure_rate", pct(k.closure_rate)], ["on_time_rate", pct(k.on_time_rate)],
      ["open", num(k.open)], ["overdue", num(k.overdue), k.overdue ? "bad" : ""],
      ["alarms", num(k.alarms), k.alarms ? "warn" : ""], ["patrol_rate", pct(k.patrol_rate)],
      ["projects_percent", k.projects_percent === null || k.projects_percent === undefined ? "—" : k.projects_percent + "%"]
    ];
    box.innerHTML = "";
    items.forEach(function (it) {
      var tile = el("div", "kpi");
      tile.setAttribute("data-kpi", it[0]);
      tile.appendChild(el("span", "kpi-num" + (it[2] ? " " + it[2] : ""), it[1]));
      tile.appendChild(el("span", "kpi-label", L10N[it[0]]));
      box.appendChild(tile);
    });
  }

  function chart(id) {
    if (!charts[id]) charts[id] = echarts.init(document.getElementById(id), null, { renderer: "canvas" });
    return charts[id];
  }
  var AXIS = { axisLine: { lineStyle: { color: "#3a5a99" } }, axisLabel: { color: "#8fb1ea", fontSize: 13 }, splitLine: { lineStyle: { color: "#14305f" } } };

  function trend(d) {
    var months = d.trend.map(function (r) { return r.month.slice(2); });
    chart("chart-trend").setOption({
      animation: false,
      grid: { left: 44, right: 44, top: 34, bottom: 26 },
      legend: { textStyle: { color: "#dbe7ff", fontSize: 13 }, top: 0 },
      tooltip: { trigger: "axis" },
      xAxis: Object.assign({ type: "category", data: months }, AXIS),
      yAxis: [Object.assign({ type: "value" }, AXIS), Object.assign({ type: "value", max: 100, axisLabel: { color: "#8fb1ea", formatter: "{value}%" }, splitLine: { show: false } })],
      series: [
        { name: L10N.reported, type: "line", smooth: true, data: d.trend.map(function (r) { return r.reported; }), itemStyle: { color: "#5cc8ff" }, areaStyle: { opacity: 0.15 } },
        { name: L10N.closed, type: "line", smooth: true, data: d.trend.map(function (r) { return r.closed; }), itemStyle: { color: "#4ade80" } },
        { name: L10N.on_time, type: "line", yAxisIndex: 1, smooth: true, data: d.trend.map(function (r) { return r.on_time_rate === null ? null : +(r.on_time_rate * 100).toFixed(1); }), itemStyle: { color: "#ffb648" } }
      ]
    });
  }

  function bars(id, rows, colour) {
    var top = rows.slice(0, 10).reverse();
    chart(id).setOption({
      animation: false,
      grid: { left: 8, right: 40, top: 6, bottom: 6, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      xAxis: Object.assign({ type: "value" }, AXIS),
      yAxis: Object.assign({ type: "category", data: top.map(function (r) { return r.name; }) }, AXIS),
      series: [{ type: "bar", data: top.map(function (r) { return r.reported; }), barMaxWidth: 16,
        itemStyle: { color: colour, borderRadius: [0, 4, 4, 0] }, label: { show: true, position: "right", color: "#dbe7ff" } }]
    });
  }

  function colourOf(n) {
    if (!n) return COLOURS[0];
    if (n < 3) return COLOURS[1];
    if (n < 6) return COLOURS[2];
    return COLOURS[3];
  }

  function drawMap(d) {
    var counts = d.open_by_micro || {};
    if (!map) {
      // Fractional zoom: the town fills the panel instead of the next whole zoom level down.
      map = L.map("screen-map", { zoomControl: false, attributionControl: false, zoomSnap: 0.1 });
      var tiles = root.getAttribute("data-tile-url");
      if (tiles) L.tileLayer(tiles, { attribution: root.getAttribute("data-tile-attribution") || "" }).addTo(map);
      layer = L.geoJSON(shapes, {
        style: function () { return { weight: 1, color: "#4d7fd6", fillOpacity: 0.75 }; },
        onEachFeature: function (f, l) { l.bindTooltip(function () { return f.properties.name + " · " + L10N.open_cases + " " + (counts[f.properties.code] || 0); }); }
      }).addTo(map);
      map.invalidateSize();
      if (shapes.features.length) map.fitBounds(layer.getBounds(), { padding: [6, 6] });
      var legend = document.getElementById("map-legend");
      [["0", 0], ["1–2", 1], ["3–5", 2], ["≥6", 3]].forEach(function (x) {
        var s = el("span"); var i = el("i"); i.style.background = COLOURS[x[1]]; s.appendChild(i); s.appendChild(document.createTextNode(L10N.open_cases + " " + x[0])); legend.appendChild(s);
      });
    }
    layer.eachLayer(function (l) {
      l.setStyle({ fillColor: colourOf(counts[l.feature.properties.code] || 0) });
    });
  }

  function feed(d) {
    var list = document.getElementById("feed-cases");
    list.innerHTML = "";
    if (!d.cases.length) list.appendChild(el("li", "screen-empty", L10N.none));
    d.cases.forEach(function (c) {
      var li = el("li");
      li.appendChild(el("span", "t", c.reported_at));
      li.appendChild(el("span", "", c.category + " · " + c.grid));
      li.appendChild(el("span", "s" + (c.status === "closed" ? " closed" : ""), c.status_label));
      list.appendChild(li);
    });
    var alarms = d.alarm_feed;
    var title = document.getElementById("alarm-title"), alist = document.getElementById("feed-alarms");
    if (alarms && alarms.length) {
      title.hidden = false; alist.hidden = false; alist.innerHTML = "";
      alarms.forEach(function (a) {
        var li = el("li");
        li.appendChild(el("span", "t", text(a.raised_at || a.at || "")));
        li.appendChild(el("span", "", text(a.name || a.title || a.alarm_type) + (a.grid ? " · " + a.grid : "")));
        li.appendChild(el("span", "s alarm", text(a.severity_label || a.severity || "")));
        alist.appendChild(li);
      });
    }
  }

  function programs(d) {
    var box = document.getElementById("programs");
    box.innerHTML = "";
    var p = d.programs;
    if (!p) { box.appendChild(el("p", "screen-empty", L10N.none)); return; }
    function bar(name, percent) {
      var row = el("div", "prog"), head = el("div", "prog-name");
      head.appendChild(el("span", "", name));
      head.appendChild(el("span", "", percent === null || percent === undefined ? "—" : Math.round(percent) + "%"));
      var track = el("div", "prog-bar"), fill = el("span");
      fill.style.width = Math.max(0, Math.min(100, percent || 0)) + "%";
      track.appendChild(fill); row.appendChild(head); row.appendChild(track);
      return row;
    }
    if (p.projects && p.projects.length) {
      box.appendChild(el("h3", "", L10N.projects + (p.year ? " · " + p.year : "")));
      p.projects.slice(0, 6).forEach(function (x) { box.appendChild(bar(x.name, x.percent)); });
    }
    if (p.targets && p.targets.length) {
      box.appendChild(el("h3", "", L10N.targets));
      p.targets.slice(0, 4).forEach(function (t) {
        var rate = t.rate === null || t.rate === undefined ? null : t.rate * 100;
        box.appendChild(bar(t.metric || t.name, rate));
      });
    }
  }

  function draw(d) {
    document.getElementById("as-of").textContent = d.as_of;
    document.getElementById("period").textContent = d.period.start + " — " + d.period.end;
    Array.prototype.forEach.call(document.querySelectorAll(".period-label"), function (e) { e.textContent = d.period.label || ""; });
    document.getElementById("generated-at").textContent = d.generated_at;
    kpis(d);
    trend(d);
    bars("chart-categories", d.top_categories, "#2f7cff");
    bars("chart-places", d.top_places, "#5cc8ff");
    drawMap(d);
    feed(d);
    programs(d);
    root.setAttribute("data-ready", "true");
  }

  function poll() {
    fetch(root.getAttribute("data-url"), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) { if (d) { data = d; draw(d); } })
      .catch(function () { /* keep showing the last figures; try again at the next tick */ });
  }

  draw(data);
  window.addEventListener("resize", function () { Object.keys(charts).forEach(function (k) { charts[k].resize(); }); });
  setInterval(poll, (parseInt(root.getAttribute("data-refresh"), 10) || 30) * 1000);
})();
