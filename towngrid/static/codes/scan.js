// The scan page: fill the check-in form with the phone's position (WGS-84 from the browser's
// Geolocation API). Without a position the check-in still goes through and is flagged.
(function () {
  "use strict";
  var form = document.querySelector("[data-testid=checkin-form]");
  if (!form) return;
  var status = document.getElementById("geo-status");
  function field(name) { return form.querySelector("input[name=" + name + "]"); }
  function say(text, cls) {
    if (!status) return;
    status.textContent = text;
    status.className = "small geo-status " + (cls || "");
  }
  if (!("geolocation" in navigator)) { say(status.dataset.fail, "geo-fail"); return; }
  navigator.geolocation.getCurrentPosition(
    function (pos) {
      field("lng").value = pos.coords.longitude.toFixed(7);
      field("lat").value = pos.coords.latitude.toFixed(7);
      field("accuracy").value = Math.round(pos.coords.accuracy || 0);
      say(status.dataset.ok.replace("%s", Math.round(pos.coords.accuracy || 0)), "geo-ok");
      form.dataset.located = "1";
    },
    function () { say(status.dataset.fail, "geo-fail"); form.dataset.located = "0"; },
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
  );
})();
