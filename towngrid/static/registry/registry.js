// Registry pages: the pin on a detail page, and the point picker of the edit form (click on the
// map, drag the pin, or use the phone's position). Nothing is fetched from the internet unless
// the town configured its own tile server.
(function () {
  "use strict";
  if (typeof L === "undefined") return;

  function makeMap(el) {
    var map = L.map(el, { zoomControl: true, attributionControl: !!el.dataset.tileUrl });
    if (el.dataset.tileUrl) {
      L.tileLayer(el.dataset.tileUrl, { attribution: el.dataset.tileAttribution || "", maxZoom: 19 }).addTo(map);
    }
    return map;
  }

  var pin = document.getElementById("reg-map");
  if (pin) {
    var ll = L.latLng(parseFloat(pin.dataset.lat), parseFloat(pin.dataset.lng));
    var m = makeMap(pin);
    m.setView(ll, 17);
    L.circleMarker(ll, { radius: 8, color: "#1d4ed8", weight: 3, fillOpacity: 0.6 }).addTo(m);
    pin.dataset.ready = "true";
  }

  var pick = document.getElementById("reg-pick-map");
  if (pick) {
    var lng = document.getElementById("id_lng");
    var lat = document.getElementById("id_lat");
    var map = makeMap(pick);
    var marker = null;
    function setPoint(latlng, zoom) {
      lng.value = latlng.lng.toFixed(7);
      lat.value = latlng.lat.toFixed(7);
      if (!marker) {
        marker = L.marker(latlng, { draggable: true }).addTo(map);
        marker.on("dragend", function () { setPoint(marker.getLatLng(), false); });
      } else {
        marker.setLatLng(latlng);
      }
      if (zoom) map.setView(latlng, Math.max(map.getZoom() || 0, 17));
    }
    // The user's grids as a background (there are no tiles unless the town set a server).
    fetch("/api/v1/grids/geojson/?level=4", { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data || !data.features || !data.features.length) return;
        var layer = L.geoJSON(data, { style: { color: "#1d4ed8", weight: 1, fillOpacity: 0.04 } }).addTo(map);
        if (!(lng.value && lat.value)) map.fitBounds(layer.getBounds(), { padding: [6, 6] });
      })
      .catch(function () { /* the map still takes clicks */ });
    if (lng.value && lat.value) {
      var start = L.latLng(parseFloat(lat.value), parseFloat(lng.value));
      map.setView(start, 17);
      setPoint(start, false);
    } else {
      map.setView([31.19, 121.54], 13);
    }
    map.on("click", function (ev) { setPoint(ev.latlng, false); });
    var me = document.getElementById("reg-locate-me");
    if (me && navigator.geolocation) {
      me.addEventListener("click", function () {
        navigator.geolocation.getCurrentPosition(function (pos) {
          setPoint(L.latLng(pos.coords.latitude, pos.coords.longitude), true);
        }, function () {}, { enableHighAccuracy: true, timeout: 15000 });
      });
    }
    pick.dataset.ready = "true";
  }
})();
