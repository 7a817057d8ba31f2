/* towngrid case pages: the report form (category search, map pin or GPS, photo previews with the
 * EXIF location hint, the duplicate check before submitting), the map of the case list, and the
 * small map on a case page. No tiles unless the server configures a tile URL.
 */
(function (global) {
  "use strict";

  function readJSON(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  function makeMap(el, opts) {
    var map = L.map(el, Object.assign({ zoomSnap: 0.25, minZoom: 9, maxZoom: 19 }, opts || {}));
    if (el.dataset.tileUrl) {
      L.tileLayer(el.dataset.tileUrl, { maxZoom: 19, attribution: el.dataset.tileAttribution || "" }).addTo(map);
    }
    return map;
  }

  var OUTLINE = {
    1: { color: "#b42318", weight: 2.5, fill: true, fillColor: "#ffffff", fillOpacity: 0.55 },
    2: { color: "#101828", weight: 1.6, opacity: 0.8, fill: false },
    3: { color: "#344054", weight: 1, opacity: 0.7, dashArray: "4 3", fill: false },
    4: { color: "#2f5fd0", weight: 1.2, fillColor: "#a5c8ff", fillOpacity: 0.35 },
    5: { color: "#2f5fd0", weight: 1.4, dashArray: "3 3", fillColor: "#a5c8ff", fillOpacity: 0.2 },
  };

  function drawOutlines(map, data) {
    var layer = L.geoJSON(data || { type: "FeatureCollection", features: [] }, {
      style: function (f) { return OUTLINE[f.properties.level] || OUTLINE[2]; },
      interactive: false,
    }).addTo(map);
    return layer;
  }

  var PIN = typeof L !== "undefined" ? L.divIcon({
    className: "pin-icon", html: '<span class="pin"></span>', iconSize: [28, 36], iconAnchor: [14, 34],
  }) : null;

  /* ---------- the report page ---------- */

  function initReport() {
    var form = document.getElementById("report-form");
    if (!form) return;
    global.towngridPicker.init();
    var lng = document.getElementById("id_lng");
    var lat = document.getElementById("id_lat");
    var crs = document.getElementById("id_crs");
    var status = document.getElementById("loc-status");
    var el = document.getElementById("report-map");
    var map = makeMap(el);
    var outlines = drawOutlines(map, readJSON("report-geojson"));
    if (outlines.getLayers().length) map.fitBounds(outlines.getBounds(), { padding: [8, 8] });
    else map.setView([31.19, 121.54], 13);
    var marker = null;
    var lookupSeq = 0;

    function say(text, cls) {
      status.textContent = text;
      status.className = "loc-status small" + (cls ? " " + cls : "");
    }

    function setPoint(latlng, source) {
      lng.value = latlng.lng.toFixed(7);
      lat.value = latlng.lat.toFixed(7);
      if (crs) crs.value = "wgs84";
      if (!marker) {
        marker = L.marker(latlng, { icon: PIN, draggable: true }).addTo(map);
        marker.on("dragend", function () { setPoint(marker.getLatLng(), "drag"); });
      } else {
        marker.setLatLng(latlng);
      }
      if (source !== "drag" && source !== "map") map.setView(latlng, Math.max(map.getZoom(), 17));
      el.dataset.point = lng.value + "," + lat.value;
      lookup();
    }

    function lookup() {
      var seq = ++lookupSeq;
      var url = form.dataset.lookupUrl + "?lng=" + encodeURIComponent(lng.value) + "&lat=" + encodeURIComponent(lat.value);
      say(lng.value + ", " + lat.value);
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.json().then(function (d) { return [r.status, d]; }); })
        .then(function (res) {
          if (seq !== lookupSeq) return;
          if (res[0] === 200 && res[1].path) {
            var names = res[1].path.slice(1).map(function (n) { return n.name; });
            say(status.dataset.in + names.join(" / "), "loc-ok");
          } else if (res[0] === 404) {
            say(status.dataset.outside, "field-error");
          }
        })
        .catch(function () { /* keep the coordinates shown */ });
    }

    map.on("click", function (ev) { setPoint(ev.latlng, "map"); });
    if (lng.value && lat.value) setPoint(L.latLng(parseFloat(lat.value), parseFloat(lng.value)), "restore");

    document.getElementById("locate-me").addEventListener("click", function () {
      if (!navigator.geolocation) { say(status.dataset.denied, "field-error"); return; }
      say(status.dataset.locating);
      navigator.geolocation.getCurrentPosition(
        function (pos) { setPoint(L.latLng(pos.coords.latitude, pos.coords.longitude), "gps"); },
        function () { say(status.dataset.denied, "field-error"); },
        { enableHighAccuracy: true, timeout: 15000, maximumAge: 30000 }
      );
    });
    el.dataset.ready = "true";
    global.towngridCases.reportMap = map;
    global.towngridCases.setPoint = function (lngv, latv) { setPoint(L.latLng(latv, lngv), "api"); };

    // Source 12345: the ticket number field.
    var source = document.getElementById("id_source");
    var refField = document.getElementById("source-ref-field");
    function toggleRef() {
      if (refField && source) refField.hidden = source.value !== "hotline";
    }
    if (source && source.tagName === "SELECT") { source.addEventListener("change", toggleRef); toggleRef(); }

    // Photos: previews, and the EXIF position as a hint.
    var photos = document.getElementById("id_photos");
    var previews = document.getElementById("photo-previews");
    var hint = document.getElementById("photo-hint");
    photos.addEventListener("change", function () {
      previews.innerHTML = "";
      hint.hidden = true;
      hint.innerHTML = "";
      Array.prototype.forEach.call(photos.files, function (file, i) {
        var li = document.createElement("li");
        var img = document.createElement("img");
        img.alt = file.name;
        img.src = URL.createObjectURL(file);
        li.appendChild(img);
        previews.appendChild(li);
        var data = new FormData();
        data.append("photo", file);
        fetch(form.dataset.hintUrl, {
          method: "POST", body: data, credentials: "same-origin",
          headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
        }).then(function (r) { return r.json(); }).then(function (d) {
          if (d.error) {
            li.classList.add("is-bad");
            li.title = d.error;
            return;
          }
          if (!d.location || !hint.hidden) return;
          hint.hidden = false;
          var text = document.createElement("span");
          text.textContent = (hint.dataset.text || "照片含拍摄位置：") + d.location.lng.toFixed(5) + ", " + d.location.lat.toFixed(5) + " ";
          var use = document.createElement("button");
          use.type = "button";
          use.className = "btn btn-sm";
          use.setAttribute("data-testid", "use-exif");
          use.textContent = hint.dataset.use || "使用照片位置";
          use.addEventListener("click", function () { setPoint(L.latLng(d.location.lat, d.location.lng), "exif"); });
          hint.appendChild(text);
          hint.appendChild(use);
        }).catch(function () {});
      });
    });

    // Before submitting: open cases of the same kind nearby may be the same problem.
    var checked = document.getElementById("id_duplicates_checked");
    var panel = document.getElementById("dup-panel");
    var content = document.getElementById("dup-content");
    var submit = document.getElementById("report-submit");
    var submitBar = submit.parentElement;
    var select = document.getElementById("id_category");
    form.addEventListener("submit", function (ev) {
      if (ev.submitter && ev.submitter.name === "duplicates_checked") return;
      if (checked.value === "True" || checked.value === "on" || !select.value || !lng.value || !lat.value) {
        submit.disabled = true;
        return;
      }
      ev.preventDefault();
      var url = form.dataset.duplicatesUrl + "?" + new URLSearchParams({
        category: select.value, lng: lng.value, lat: lat.value, crs: (crs && crs.value) || "wgs84",
      }).toString();
      fetch(url, { credentials: "same-origin" }).then(function (r) { return r.text(); }).then(function (html) {
        content.innerHTML = html;
        var box = content.querySelector("[data-count]");
        if (box && parseInt(box.dataset.count, 10) > 0) {
          panel.hidden = false;
          submitBar.hidden = true;
          panel.scrollIntoView({ behavior: "smooth", block: "center" });
        } else {
          checked.value = "on";
          submit.disabled = true;
          form.submit();
        }
      }).catch(function () { checked.value = "on"; form.submit(); });
    });
    document.getElementById("dup-continue").addEventListener("click", function () {
      checked.value = "on";
      submit.disabled = true;
      form.submit();
    });
    document.getElementById("dup-cancel").addEventListener("click", function () {
      panel.hidden = true;
      submitBar.hidden = false;
    });
  }

  /* ---------- the case list map ---------- */

  function initCaseListMap() {
    var el = document.getElementById("cases-map");
    if (!el) return null;
    var markers = readJSON("case-markers") || [];
    var colours = readJSON("status-colours") || {};
    var labels = readJSON("status-labels") || {};
    var map = makeMap(el);
    var outline = drawOutlines(map, readJSON("case-outline"));
    var group = L.featureGroup();
    markers.forEach(function (m) {
      var colour = colours[m.s] || "#667085";
      var mk = L.circleMarker([m.lat, m.lng], {
        radius: 6, weight: 1.5, color: "#fff", fillColor: colour, fillOpacity: 0.9,
      });
      var url = el.dataset.detailUrl.replace("__N__", encodeURIComponent(m.n));
      var box = document.createElement("div");
      var a = document.createElement("a");
      a.href = url;
      a.textContent = m.n;
      box.appendChild(a);
      box.appendChild(document.createElement("br"));
      box.appendChild(document.createTextNode(m.c + " · " + (labels[m.s] || m.s)));
      mk.bindPopup(box);
      group.addLayer(mk);
    });
    group.addTo(map);
    if (markers.length) map.fitBounds(group.getBounds(), { padding: [24, 24], maxZoom: 17 });
    else if (outline.getLayers().length) map.fitBounds(outline.getBounds(), { padding: [8, 8] });
    else map.setView([31.19, 121.54], 13);
    el.dataset.markerCount = String(markers.length);
    el.dataset.ready = "true";
    return map;
  }

  /* ---------- the case page's small map ---------- */

  function initCaseMap() {
    var el = document.getElementById("case-map");
    if (!el) return null;
    var map = makeMap(el, { scrollWheelZoom: false });
    var outline = readJSON("case-grid-geojson");
    if (outline) drawOutlines(map, outline);
    var latlng = L.latLng(parseFloat(el.dataset.lat), parseFloat(el.dataset.lng));
    L.marker(latlng, { icon: PIN }).addTo(map);
    map.setView(latlng, 17);
    el.dataset.ready = "true";
    return map;
  }

  /* ---------- action panels on the case page ---------- */

  function initActions() {
    document.querySelectorAll("[data-action-toggle]").forEach(function (btn) {
      btn.addEventListener("click", function () {
        var id = btn.getAttribute("data-action-toggle");
        document.querySelectorAll(".action-panel").forEach(function (p) {
          if (p.id !== id) p.hidden = true;
        });
        document.querySelectorAll("[data-action-toggle]").forEach(function (b) {
          b.setAttribute("aria-expanded", b === btn ? "true" : "false");
        });
        var panel = document.getElementById(id);
        panel.hidden = !panel.hidden;
        if (panel.hidden) btn.setAttribute("aria-expanded", "false");
        else {
          var first = panel.querySelector("textarea, select, input:not([type=hidden])");
          if (first) first.focus({ preventScroll: true });
          panel.scrollIntoView({ behavior: "smooth", block: "nearest" });
        }
      });
    });
    document.querySelectorAll(".action-panel form").forEach(function (f) {
      f.addEventListener("submit", function () {
        var b = f.querySelector("button[type=submit]");
        if (b) setTimeout(function () { b.disabled = true; }, 0);
      });
    });
  }

  global.towngridCases = {
    initReport: initReport,
    initCaseListMap: initCaseListMap,
    initCaseMap: initCaseMap,
    initActions: initActions,
  };
})(window);
