// MindWeave IR: small progressive enhancements. No inline script anywhere.
(function () {
  "use strict";

  function humanize(ms) {
    var s = Math.floor(Math.abs(ms) / 1000);
    var d = Math.floor(s / 86400); s -= d * 86400;
    var h = Math.floor(s / 3600); s -= h * 3600;
    var m = Math.floor(s / 60); s -= m * 60;
    if (d) return d + "d " + h + "h";
    if (h) return h + "h " + m + "m";
    return m + "m " + s + "s";
  }

  // SLA countdowns: every element with data-deadline counts down each second. The
  // server writes only the deadline ("due 14:05 EST"): pages cached by version never
  // show a countdown from the moment they were cached.
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var left = new Date(el.dataset.deadline).getTime() - now;
      var text = el.querySelector(".sla-text");
      if (!text) return;
      el.classList.remove("sla-open");
      if (left >= 0) {
        text.textContent = humanize(left) + " left";
        el.classList.add("sla-running");
        el.classList.toggle("sla-soon", left < 5 * 60 * 1000);
      } else {
        text.textContent = "BREACHED " + humanize(left) + " ago";
        el.classList.remove("sla-running", "sla-soon");
        el.classList.add("sla-breached");
      }
    });
  }
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSettle", tick);
  document.addEventListener("mw:swapped", tick);

  // A failed request must never look like success: show a banner, keep the form.
  var banner = function () { return document.getElementById("connection-error"); };
  document.addEventListener("htmx:sendError", function () { banner().hidden = false; });
  document.addEventListener("htmx:responseError", function () { banner().hidden = false; });
  document.addEventListener("htmx:afterRequest", function (e) {
    if (e.detail.successful) banner().hidden = true;
  });

  // One-key answers in the declare wizard: a button with data-shortcut="y" is
  // clicked by pressing Y, unless the user is typing in a field.
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName)) return;
    var button = document.querySelector('[data-shortcut="' + e.key.toLowerCase() + '"]');
    if (button) { e.preventDefault(); button.click(); }
  });

  // Ctrl/Cmd+Enter submits the form a textarea belongs to.
  document.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && e.target.tagName === "TEXTAREA" && e.target.form) {
      e.preventDefault();
      e.target.form.requestSubmit();
    }
  });
})();
