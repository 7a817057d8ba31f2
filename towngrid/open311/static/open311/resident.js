// The resident report page: the shared category picker (picker.js), the chosen category's extra
// questions (a stopping answer disables the submit button), the place by current position or a
// pin on the map, and the open reports of the same type nearby. Plain script, no build step.
(function (global) {
  "use strict";
  global.towngridPicker.init();
  var select = document.getElementById("id_category");
  var stop = document.getElementById("stop-message");
  var submit = document.querySelector("[data-testid=resident-submit]");
  var nearby = document.getElementById("nearby");

  // The chosen category's extra questions: only its fieldset is enabled (and so submitted).
  function showQuestions() {
    document.querySelectorAll("fieldset.questions").forEach(function (fs) {
      var on = fs.dataset.category === select.value;
      fs.hidden = !on;
      fs.disabled = !on;
    });
    checkStop();
    loadNearby();
  }
  // An answer such as "I smell gas" stops the report at once: the resident must phone.
  function checkStop() {
    var message = "";
    document.querySelectorAll("fieldset.questions:not([disabled]) input[data-stop]").forEach(function (i) {
      if (i.checked) message = i.dataset.stop;
    });
    stop.textContent = message;
    stop.hidden = !message;
    submit.disabled = !!message;
  }
  document.getElementById("questions").addEventListener("change", checkStop);
  select.addEventListener("change", showQuestions);

  // Restore the answers after a refused submission.
  var answers = JSON.parse(document.getElementById("resident-answers").textContent || "{}");
  Object.keys(answers).forEach(function (name) {
    document.querySelectorAll("[name='" + name.replace(/'/g, "") + "']").forEach(function (input) {
      if (input.type === "radio" || input.type === "checkbox") input.checked = answers[name].indexOf(input.value) >= 0;
      else input.value = answers[name][0] || "";
    });
  });

  // Open reports of the same type near the pin: follow one instead of reporting it again.
  var nearbyTimer = null;
  function loadNearby() {
    clearTimeout(nearbyTimer);
    nearbyTimer = setTimeout(function () {
      var lngv = document.getElementById("id_lng").value, latv = document.getElementById("id_lat").value;
      if (!select.value || !lngv || !latv) { nearby.innerHTML = ""; return; }
      var url = nearby.dataset.url + "?category=" + encodeURIComponent(select.value) +
        "&lng=" + encodeURIComponent(lngv) + "&lat=" + encodeURIComponent(latv);
      fetch(url).then(function (r) { return r.ok ? r.text() : ""; })
        .then(function (html) { nearby.innerHTML = html; nearby.dataset.loaded = "true"; })
        .catch(function () {});
    }, 250);
  }

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
    loadNearby();
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
  showQuestions();
  el.dataset.ready = "true";
})(window);
