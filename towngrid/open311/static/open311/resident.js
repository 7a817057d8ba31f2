// The resident report page: category search (name, keywords, pinyin initials), and the place by
// current position or a pin on the map. Plain script: the page works without a build step.
(function () {
  "use strict";
  var cats = JSON.parse(document.getElementById("resident-categories").textContent);
  var search = document.getElementById("category-search");
  var select = document.getElementById("id_category");
  // Best match first: the exact name, a whole keyword (e.g. the pinyin initials), then any
  // substring, so that "bljl" picks 暴露垃圾 rather than a longer name containing the letters.
  function score(c, q) {
    var words = (c.keywords || "").toLowerCase().split(/\s+/);
    if (c.name === q) return 4;
    if (words.indexOf(q) >= 0) return 3;
    if (c.name.indexOf(q) >= 0) return 2;
    return (c.group + " " + words.join(" ")).indexOf(q) >= 0 ? 1 : 0;
  }
  search.addEventListener("input", function () {
    var q = search.value.trim().toLowerCase();
    var best = null, bestScore = 0;
    Array.prototype.forEach.call(select.options, function (opt) {
      if (!opt.value) return;
      var c = cats.find(function (x) { return x.code === opt.value; });
      var s = q ? score(c, q) : 1;
      opt.hidden = s === 0;
      if (s > bestScore) { best = opt; bestScore = s; }
    });
    if (q && best) select.value = best.value;
  });
  var el = document.getElementById("resident-map");
  var lng = document.getElementById("id_lng");
  var lat = document.getElementById("id_lat");
  var status = document.getElementById("loc-status");
  var centre = [parseFloat(el.dataset.lat), parseFloat(el.dataset.lng)];
  var map = L.map(el).setView(centre, 14);
  if (el.dataset.tileUrl) L.tileLayer(el.dataset.tileUrl, { maxZoom: 19 }).addTo(map);
  var pin = null;
  function place(la, ln) {
    lat.value = la.toFixed(7);
    lng.value = ln.toFixed(7);
    if (pin) pin.setLatLng([la, ln]); else pin = L.circleMarker([la, ln], { radius: 9 }).addTo(map);
    status.textContent = status.dataset.set;
    el.dataset.point = lng.value + "," + lat.value;
  }
  if (lng.value && lat.value) place(parseFloat(lat.value), parseFloat(lng.value));
  map.on("click", function (e) { place(e.latlng.lat, e.latlng.lng); });
  document.getElementById("locate-me").addEventListener("click", function () {
    if (!navigator.geolocation) { status.textContent = status.dataset.denied; return; }
    navigator.geolocation.getCurrentPosition(
      function (p) { place(p.coords.latitude, p.coords.longitude); map.setView([p.coords.latitude, p.coords.longitude], 17); },
      function () { status.textContent = status.dataset.denied; },
      { enableHighAccuracy: true, timeout: 10000 }
    );
  });
  el.dataset.ready = "true";
})();
