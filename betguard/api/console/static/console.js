// betguard console: the only script (the Content-Security-Policy allows no inline one).
// It refreshes the overview's numbers without a reload: the server renders them, so the
// page shows exactly what a reload would, escaped the same way.
(function () {
  "use strict";
  function refresh(box) {
    var every = Number(box.getAttribute("data-every") || "5") * 1000;
    function tick() {
      fetch(box.getAttribute("data-live"), { credentials: "same-origin",
                                              headers: { "Accept": "text/html" } })
        .then(function (answer) {
          if (answer.redirected || answer.status === 401) { window.location.reload(); return null; }
          return answer.ok ? answer.text() : null;
        })
        .then(function (html) { if (html !== null) { box.innerHTML = html; } })
        .catch(function () { /* the next tick tries again */ })
        .finally(function () { window.setTimeout(tick, every); });
    }
    window.setTimeout(tick, every);
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live]").forEach(refresh);
  });
}());
