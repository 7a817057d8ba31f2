/* towngrid grid maps: the tree + map page and the small map on a grid page.
 * No tiles unless the server configures a tile URL: boundaries are drawn on a plain background.
 */
(function (global) {
  "use strict";

  var LEVEL = { TOWN: 1, AREA: 2, COMMUNITY: 3, MICRO: 4, GROUP: 5 };
  // Soft fills for micro-grids, one per community so neighbours are told apart.
  var PALETTE = ["#a5c8ff", "#b9e4c9", "#ffd8a8", "#d0bfff", "#ffc9c9", "#99e9f2", "#ffec99", "#c3fae8", "#eebefa", "#d8f5a2"];

  function hash(s) {
    var h = 0;
    for (var i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0;
    return Math.abs(h);
  }

  function readJSON(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function microStyle(f) {
    return {
      color: "#2f5fd0", weight: 0.8, opacity: 0.9,
      fillColor: PALETTE[hash(f.properties.parent_code || "") % PALETTE.length], fillOpacity: 0.55,
    };
  }

  var OUTLINE = {};
  OUTLINE[LEVEL.TOWN] = { color: "#b42318", weight: 3, opacity: 0.9, fill: true, fillColor: "#ffffff", fillOpacity: 0.6 };
  OUTLINE[LEVEL.AREA] = { color: "#101828", weight: 2.4, opacity: 0.85, fill: false };
  OUTLINE[LEVEL.COMMUNITY] = { color: "#344054", weight: 1.3, opacity: 0.8, dashArray: "4 3", fill: false };
  OUTLINE[LEVEL.GROUP] = { color: "#2f5fd0", weight: 1, opacity: 0.9, fillColor: "#a5c8ff", fillOpacity: 0.35 };

  function makeMap(el) {
    var map = L.map(el, { zoomSnap: 0.25, minZoom: 9, maxZoom: 19, preferCanvas: false });
    var tileUrl = el.dataset.tileUrl;
    if (tileUrl) {
      L.tileLayer(tileUrl, { maxZoom: 19, attribution: el.dataset.tileAttribution || "" }).addTo(map);
    }
    return map;
  }

  function detailUrl(el, code) {
    return el.dataset.detailUrl.replace("__CODE__", encodeURIComponent(code));
  }

  /* The grid map page: tree + map. */
  function initGridMap() {
    var el = document.getElementById("map");
    var data = readJSON("grid-geojson") || { features: [] };
    var labels = readJSON("grid-level-labels") || {};
    var map = makeMap(el);
    var byCode = {};
    var microLayers = [];
    var selected = null;

    // Outlines first (under the micro-grids, not interactive, so the pointer reaches the grids).
    [LEVEL.TOWN, LEVEL.AREA, LEVEL.COMMUNITY].forEach(function (level) {
      var feats = data.features.filter(function (f) { return f.properties.level === level; });
      if (!feats.length) return;
      L.geoJSON({ type: "FeatureCollection", features: feats }, {
        style: function () { return OUTLINE[level]; },
        interactive: false,
        onEachFeature: function (f, layer) { byCode[f.properties.code] = layer; },
      }).addTo(map);
    });
    var micro = L.geoJSON({
      type: "FeatureCollection",
      features: data.features.filter(function (f) { return f.properties.level === LEVEL.MICRO; }),
    }, {
      style: microStyle,
      onEachFeature: function (f, layer) {
        var p = f.properties;
        byCode[p.code] = layer;
        microLayers.push(layer);
        layer.bindTooltip(p.name + "<br><small>" + p.code + "</small>", { sticky: true, direction: "top", className: "grid-tip" });
        layer.on("mouseover", function () { if (layer !== selected) layer.setStyle({ weight: 2.2, fillOpacity: 0.8 }); });
        layer.on("mouseout", function () { if (layer !== selected) micro.resetStyle(layer); });
        layer.on("click", function () { global.location.href = detailUrl(el, p.code); });
      },
    }).addTo(map);
    // Outlines drawn again on top, thin, so the community and area borders stay visible.
    [LEVEL.AREA, LEVEL.COMMUNITY].forEach(function (level) {
      var feats = data.features.filter(function (f) { return f.properties.level === level; });
      if (!feats.length) return;
      L.geoJSON({ type: "FeatureCollection", features: feats }, {
        style: function () { return Object.assign({}, OUTLINE[level], { fill: false }); },
        interactive: false,
      }).addTo(map);
    });

    var all = L.featureGroup(Object.keys(byCode).map(function (c) { return byCode[c]; }));
    if (all.getLayers().length) {
      map.fitBounds(all.getBounds(), { padding: [16, 16] });
    } else {
      map.setView([31.19, 121.54], 13);
    }
    // Layers are rendered once the map has a view: count what was really drawn.
    var drawn = 0;
    microLayers.forEach(function (layer) {
      var path = layer.getElement && layer.getElement();
      if (path) {
        drawn++;
        path.setAttribute("data-code", layer.feature.properties.code);
        path.setAttribute("data-testid", "micro-polygon");
      }
    });
    el.dataset.drawnMicroCount = String(drawn);
    el.dataset.ready = "true";

    // The info card for the selected node.
    var info = document.getElementById("map-info");
    function showInfo(p) {
      if (!info) return;
      document.getElementById("map-info-level").textContent = labels[String(p.level)] || "";
      document.getElementById("map-info-name").textContent = p.name;
      document.getElementById("map-info-code").textContent = p.code;
      document.getElementById("map-info-link").href = detailUrl(el, p.code);
      info.hidden = false;
    }

    function select(code) {
      var layer = byCode[code];
      if (selected && selected !== layer) {
        if (selected.feature.properties.level === LEVEL.MICRO) micro.resetStyle(selected);
        else selected.setStyle(OUTLINE[selected.feature.properties.level]);
      }
      document.querySelectorAll(".tree-label.is-selected").forEach(function (b) { b.classList.remove("is-selected"); });
      var btn = document.querySelector('.tree-node[data-code="' + code + '"] .tree-label');
      if (btn) btn.classList.add("is-selected");
      if (!layer) return;
      selected = layer;
      var p = layer.feature.properties;
      if (p.level === LEVEL.MICRO) {
        layer.setStyle({ color: "#b42318", weight: 3, fillOpacity: 0.85 });
        layer.bringToFront();
      } else {
        layer.setStyle({ color: "#b42318", weight: 3.5, opacity: 1 });
      }
      map.flyToBounds(layer.getBounds(), { padding: [48, 48], duration: 0.5, maxZoom: 16 });
      showInfo(p);
    }

    // Tree: a click on a name zooms the map to it.
    var tree = document.getElementById("tree");
    if (tree) {
      tree.addEventListener("click", function (ev) {
        var btn = ev.target.closest(".tree-label");
        if (!btn) return;
        ev.preventDefault();
        select(btn.closest(".tree-node").dataset.code);
      });
    }

    // Search by name or code: shows matches with their ancestors, dims the other micro-grids.
    var search = document.getElementById("tree-search");
    var status = document.getElementById("tree-search-status");
    var nodes = tree ? Array.prototype.slice.call(tree.querySelectorAll(".tree-node")) : [];
    nodes.forEach(function (li) { li._name = li.querySelector(".tree-label").textContent.toLowerCase(); });
    function filter() {
      var q = search.value.trim().toLowerCase();
      var matched = 0;
      var first = null;
      function visit(li, ancestorMatches) {
        var self = li._name.indexOf(q) >= 0 || li.dataset.code.indexOf(q) === 0;
        var kids = li.querySelector(":scope > details > ul");
        var below = false;
        if (kids) {
          Array.prototype.forEach.call(kids.children, function (child) {
            if (visit(child, ancestorMatches || self)) below = true;
          });
        }
        var show = !q || self || below || ancestorMatches;
        li.hidden = !show;
        var det = li.querySelector(":scope > details");
        if (det) det.open = q ? below : li.parentElement === tree;
        if (q && self) { matched++; if (!first) first = li.dataset.code; }
        return self || below;
      }
      if (tree) Array.prototype.forEach.call(tree.children, function (li) { visit(li, false); });
      var matches = {};
      if (q) {
        nodes.forEach(function (li) {
          if (!li.hidden) matches[li.dataset.code] = true;
        });
      }
      microLayers.forEach(function (layer) {
        var code = layer.feature.properties.code;
        if (layer === selected) return;
        if (!q || matches[code]) micro.resetStyle(layer);
        else layer.setStyle({ fillOpacity: 0.08, opacity: 0.25 });
      });
      status.textContent = q ? status.dataset.template.replace("%s", matched) : "";
      return first;
    }
    if (search) {
      status.dataset.template = search.dataset.matchTemplate || "%s";
      search.addEventListener("input", filter);
      search.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter") {
          ev.preventDefault();
          var first = filter();
          if (first) select(first);
        }
      });
    }
    global.towngridMap.map = map;
    return map;
  }

  /* The small map on a grid page: the node filled, its children outlined and clickable. */
  function initNodeMap() {
    var el = document.getElementById("node-map");
    if (!el) return null;
    var data = readJSON("node-geojson") || { features: [] };
    var code = el.dataset.code;
    var map = makeMap(el);
    var group = L.geoJSON(data, {
      style: function (f) {
        if (f.properties.code === code) {
          return { color: "#b42318", weight: 2.5, fillColor: "#fde4e1", fillOpacity: 0.35 };
        }
        return f.properties.level === LEVEL.MICRO || f.properties.level === LEVEL.GROUP
          ? microStyle(f)
          : { color: "#2f5fd0", weight: 1.4, fillColor: "#a5c8ff", fillOpacity: 0.3 };
      },
      onEachFeature: function (f, layer) {
        if (f.properties.code === code) return;
        layer.bindTooltip(f.properties.name, { sticky: true, className: "grid-tip" });
        layer.on("click", function () { global.location.href = detailUrl(el, f.properties.code); });
      },
    }).addTo(map);
    group.eachLayer(function (layer) {
      if (layer.feature.properties.code === code) layer.bringToBack();
    });
    if (group.getLayers().length) {
      map.fitBounds(group.getBounds(), { padding: [12, 12] });
    } else {
      map.setView([31.19, 121.54], 13);
    }
    el.dataset.ready = "true";
    return map;
  }

  global.towngridMap = { initGridMap: initGridMap, initNodeMap: initNodeMap };
})(window);
