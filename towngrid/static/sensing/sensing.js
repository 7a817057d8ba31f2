/* towngrid sensing pages: the alarm board's map (markers redrawn after every htmx refresh of the
 * list), a device's ECharts series from the observations API (downsampled buckets), and the
 * pump-station panel's forebay levels against their warning and danger lines.
 * Nothing is fetched from outside the server; no map tiles unless the server configures them.
 */
(function (global) {
  "use strict";

  function readJSON(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    });
  }

  function withParams(url, params) {
    var q = Object.keys(params).filter(function (k) { return params[k] !== undefined && params[k] !== null && params[k] !== ""; })
      .map(function (k) { return encodeURIComponent(k) + "=" + encodeURIComponent(params[k]); }).join("&");
    return url + (url.indexOf("?") >= 0 ? "&" : "?") + q;
  }

  /* ---------- the alarm board ---------- */

  function initAlarmBoard() {
    var el = document.getElementById("alarm-map");
    if (!el || typeof L === "undefined") return;
    var map = L.map(el, { zoomSnap: 0.25, minZoom: 9, maxZoom: 19 });
    if (el.dataset.tileUrl) {
      L.tileLayer(el.dataset.tileUrl, { maxZoom: 19, attribution: el.dataset.tileAttribution || "" }).addTo(map);
    }
    var layer = L.layerGroup().addTo(map);
    var fitted = false;

    function draw() {
      var markers = readJSON("alarm-markers") || [];
      layer.clearLayers();
      var bounds = [];
      markers.forEach(function (m) {
        if (m.lat === null || m.lng === null) return;
        var marker = L.circleMarker([m.lat, m.lng], {
          radius: m.active ? 9 : 6, color: "#fff", weight: 2, fillColor: m.colour, fillOpacity: m.active ? 0.95 : 0.5,
        });
        var box = document.createElement("div");
        var title = document.createElement("strong");
        title.textContent = m.title;
        var link = document.createElement("a");
        link.href = m.url;
        link.textContent = m.device;
        box.appendChild(title);
        box.appendChild(document.createElement("br"));
        box.appendChild(link);
        marker.bindPopup(box);
        marker.addTo(layer);
        bounds.push([m.lat, m.lng]);
      });
      if (!fitted) {
        if (bounds.length) map.fitBounds(bounds, { padding: [24, 24], maxZoom: 15 });
        else map.setView([31.19, 121.54], 13);
        fitted = true;
      }
      el.dataset.ready = "true";
      el.dataset.markers = String(markers.length);
    }

    draw();
    document.body.addEventListener("htmx:afterSwap", function (ev) {
      if (ev.detail && ev.detail.target && ev.detail.target.id === "alarm-live") draw();
      else if (document.getElementById("alarm-markers")) draw();
    });
  }

  /* ---------- charts ---------- */

  function baseOption() {
    return {
      animation: false,
      grid: { left: 48, right: 48, top: 36, bottom: 56 },
      tooltip: { trigger: "axis" },
      legend: { top: 0, type: "scroll" },
      dataZoom: [{ type: "inside" }, { type: "slider", height: 18, bottom: 8 }],
      xAxis: { type: "time" },
    };
  }

  function level(name, value, colour) {
    return { name: name, yAxis: value, lineStyle: { color: colour, type: "dashed", width: 1.5 },
             label: { formatter: name + " {c}", color: colour, position: "insideEndTop" } };
  }

  function points(series) {
    return (series || []).map(function (p) { return [p.t, p.avg !== undefined ? p.avg : null]; });
  }

  function initDeviceChart() {
    var el = document.getElementById("device-chart");
    var config = readJSON("chart-config");
    if (!el || !config || typeof echarts === "undefined") return;
    var chart = echarts.init(el);
    global.addEventListener("resize", function () { chart.resize(); });
    var chips = document.getElementById("metric-chips");
    var url = withParams(config.url, { from: config.from, to: config.to, buckets: config.buckets });
    getJSON(url).then(function (data) {
      var metrics = (config.metrics || []).filter(function (m) { return data.metrics && data.metrics[m.code] && data.metrics[m.code].some(function (p) { return p.avg !== undefined; }); });
      if (!metrics.length) {
        chart.setOption({ title: { text: el.dataset.empty, left: "center", top: "middle", textStyle: { color: "#667085", fontSize: 14 } } });
        el.dataset.ready = "true";
        el.dataset.points = "0";
        return;
      }
      function show(metric) {
        Array.prototype.forEach.call(chips.querySelectorAll("button"), function (b) { b.classList.toggle("is-on", b.dataset.metric === metric.code); });
        var series = data.metrics[metric.code];
        var lines = (config.lines || {})[metric.code];
        var marks = lines ? [level(el.dataset.warning, lines.warning, "#dc6803"), level(el.dataset.danger, lines.danger, "#b42318")] : [];
        var option = baseOption();
        option.yAxis = { type: "value", name: metric.unit || "", scale: true };
        if (lines) {
          // Keep the danger line in view even on a dry day.
          option.yAxis.max = function (v) { return Math.ceil(Math.max(v.max, lines.danger + 0.2) * 10) / 10; };
        }
        option.series = [
          { name: metric.name, type: "line", showSymbol: false, data: points(series), lineStyle: { width: 2 },
            markLine: marks.length ? { symbol: "none", silent: true, data: marks } : undefined },
          { name: metric.name + " max", type: "line", showSymbol: false, data: series.map(function (p) { return [p.t, p.max === undefined ? null : p.max]; }), lineStyle: { opacity: 0.25 }, tooltip: { show: false } },
          { name: metric.name + " min", type: "line", showSymbol: false, data: series.map(function (p) { return [p.t, p.min === undefined ? null : p.min]; }), lineStyle: { opacity: 0.25 }, tooltip: { show: false } },
        ];
        option.legend.data = [metric.name];
        chart.setOption(option, true);
        el.dataset.ready = "true";
        el.dataset.metric = metric.code;
        el.dataset.points = String(series.length);
      }
      metrics.forEach(function (m) {
        var b = document.createElement("button");
        b.type = "button";
        b.className = "chip";
        b.dataset.metric = m.code;
        b.textContent = m.name + (m.unit ? " (" + m.unit + ")" : "");
        b.addEventListener("click", function () { show(m); });
        chips.appendChild(b);
      });
      show(metrics[0]);
    }).catch(function () {
      el.textContent = el.dataset.error;
      el.dataset.ready = "error";
    });
  }

  function initPumpPanel() {
    var el = document.getElementById("pump-chart");
    var config = readJSON("pump-config");
    if (!el || !config || typeof echarts === "undefined") return;
    var chart = echarts.init(el);
    global.addEventListener("resize", function () { chart.resize(); });
    var stations = config.stations || [];

    function load() {
      var requests = stations.map(function (s) {
        return getJSON(withParams(s.url, { from: config.from, to: config.to, buckets: 288 })).then(function (data) {
          return { station: s, metrics: data.metrics || {} };
        }).catch(function () { return { station: s, metrics: {} }; });
      });
      Promise.all(requests).then(function (results) {
        var option = baseOption();
        option.yAxis = [
          { type: "value", name: "m", scale: true },
          { type: "value", name: "mm/h", position: "right", splitLine: { show: false } },
        ];
        var series = [];
        var total = 0;
        var warning = null, danger = null, same = true;
        results.forEach(function (r) {
          if (warning === null) { warning = r.station.warning; danger = r.station.danger; }
          else if (warning !== r.station.warning || danger !== r.station.danger) same = false;
        });
        results.forEach(function (r, i) {
          var level_ = r.metrics.water_level || [];
          total += level_.length;
          var own = same ? (i === 0) : true;
          series.push({
            name: r.station.name, type: "line", showSymbol: false, data: points(level_), yAxisIndex: 0,
            markLine: own ? { symbol: "none", silent: true, data: [level(el.dataset.warning, r.station.warning, "#dc6803"), level(el.dataset.danger, r.station.danger, "#b42318")] } : undefined,
          });
        });
        var rainSource = results.filter(function (r) { return (r.metrics.rainfall || []).length; })[0];
        if (rainSource) {
          series.push({ name: el.dataset.rain, type: "bar", yAxisIndex: 1, data: points(rainSource.metrics.rainfall),
                        itemStyle: { color: "rgba(0,134,201,.35)" }, barMaxWidth: 6 });
        }
        option.series = series;
        option.tooltip.valueFormatter = function (v) { return v === null || v === undefined ? "—" : Number(v).toFixed(2); };
        if (!total) option.title = { text: el.dataset.empty, left: "center", top: "middle", textStyle: { color: "#667085", fontSize: 14 } };
        chart.setOption(option, true);
        el.dataset.ready = "true";
        el.dataset.series = String(results.length);
        el.dataset.points = String(total);
      });
    }
    load();
    if (!/[?&]date=/.test(global.location.search)) global.setInterval(load, 60000);
  }

  global.towngridSensing = { initAlarmBoard: initAlarmBoard, initDeviceChart: initDeviceChart, initPumpPanel: initPumpPanel };
})(window);
