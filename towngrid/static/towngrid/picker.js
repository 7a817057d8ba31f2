// The category picker shared by the staff report page and the residents' page: type a name, a
// keyword or the pinyin initials (e.g. "bljl" for 暴露垃圾) and pick from the best matches; the
// plain <select> beside it works without script. Rows come from the "categories-data" JSON
// (value, code, name, major, kind, keywords); see cases/_category_picker.html.
(function (global) {
  "use strict";

  function readJSON(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function normal(s) { return (s || "").toLowerCase().replace(/\s+/g, ""); }

  function init() {
    var select = document.getElementById("id_category");
    var search = document.getElementById("category-search");
    var results = document.getElementById("category-results");
    var cats = readJSON("categories-data") || [];
    if (!select || !search) return;
    search.hidden = false;
    cats.forEach(function (c) {
      c._hay = normal([c.name, c.code, c.major, c.kind, c.keywords].join(" "));
      c._words = (c.keywords || "").toLowerCase().split(/\s+/);
    });
    function score(c, q) {
      if (normal(c.name) === q) return 100;
      if (c.name.indexOf(q) === 0) return 80;
      if (c._words.indexOf(q) >= 0) return 70;
      if (normal(c.name).indexOf(q) >= 0) return 60;
      if (c._words.some(function (w) { return w.indexOf(q) === 0; })) return 50;
      if (c._hay.indexOf(q) >= 0) return 30;
      return 0;
    }
    function render() {
      var q = normal(search.value);
      results.innerHTML = "";
      if (!q) { results.hidden = true; return; }
      var found = cats.map(function (c) { return [score(c, q), c]; })
        .filter(function (p) { return p[0] > 0; })
        .sort(function (a, b) { return b[0] - a[0] || (a[1].code < b[1].code ? -1 : 1); })
        .slice(0, 8);
      if (!found.length) {
        var li = document.createElement("li");
        li.className = "picker-empty muted small";
        li.textContent = search.dataset.none || "—";
        results.appendChild(li);
      }
      found.forEach(function (p) {
        var c = p[1];
        var li = document.createElement("li");
        var b = document.createElement("button");
        b.type = "button";
        b.className = "picker-item";
        b.dataset.value = c.value;
        b.setAttribute("data-testid", "category-option");
        b.innerHTML = "<strong></strong><span class=\"muted small\"></span>";
        b.firstChild.textContent = c.name;
        b.lastChild.textContent = c.kind + " · " + c.major + " · " + c.code;
        b.addEventListener("click", function () {
          select.value = String(c.value);
          select.dispatchEvent(new Event("change"));
          search.value = "";
          results.hidden = true;
        });
        li.appendChild(b);
        results.appendChild(li);
      });
      results.hidden = false;
    }
    search.addEventListener("input", render);
    search.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter") {
        ev.preventDefault();
        var first = results.querySelector(".picker-item");
        if (first) first.click();
      }
    });
    select.addEventListener("change", function () { select.classList.toggle("is-chosen", !!select.value); });
    select.classList.toggle("is-chosen", !!select.value);
  }

  global.towngridPicker = { init: init };
})(window);
