// MindWeave IR: live updates (README "Live updates"). An element with data-live-url
// and data-live-version (the incident page, the dashboard) polls its URL every 2 s
// while the tab is visible: 204 means nothing changed; 200 brings the changed
// sections, each swapped by id. What the user is doing survives a swap: a draft typed
// in any form control, the focused control and its selection, open <details>, a
// timeline entry open for editing or history, an update being composed. No inline
// script anywhere.
(function () {
  "use strict";

  var INTERVAL = 2000;
  // What the user opened to work in: kept as it is across swaps (moved into the new
  // section in place of its twin), and a section without its twin waits.
  var KEEP = ".editing, .history, [data-live-keep]";
  var timer = null;
  var inFlight = false;

  function root() { return document.querySelector("[data-live-url]"); }

  // --- which control is which, across a re-render --------------------------------

  function formKey(form) {
    if (!form) return "";
    var parts = [form.getAttribute("action") || "", form.id || ""];
    form.querySelectorAll("input[type=hidden]").forEach(function (el) {
      if (el.name !== "csrfmiddlewaretoken") parts.push(el.name + "=" + el.value);
    });
    return parts.join("|");
  }

  function controlKey(el) {
    var key = formKey(el.form) + "|" + (el.name || "#" + el.id);
    if (el.type === "checkbox" || el.type === "radio") key += "=" + el.value;
    return key;
  }

  function controls(scope) {
    return Array.prototype.filter.call(
      scope.querySelectorAll("input, textarea, select"),
      function (el) { return el.type !== "hidden"; });
  }

  // Controls by key, in document order (the nth of a key matches the nth).
  function index(scope) {
    var map = {};
    controls(scope).forEach(function (el) {
      var key = controlKey(el);
      (map[key] = map[key] || []).push(el);
    });
    return map;
  }

  function isDraft(el) {
    if (el.type === "checkbox" || el.type === "radio") return el.checked !== el.defaultChecked;
    if (el.tagName === "SELECT") {
      return Array.prototype.some.call(el.options, function (o) {
        return o.selected !== o.defaultSelected;
      });
    }
    return el.value !== el.defaultValue;
  }

  // Text the server showed again (a refused form re-rendered with what was typed) is
  // still the user's: it is the control's default here, but not in the fresh render.
  // Text fields never show others' changes, so a fresh default never wins over it.
  function isTextShownAgain(el, twin) {
    var text = el.tagName === "TEXTAREA" || (el.tagName === "INPUT" &&
      /^(text|search|url|email|tel|number|date|datetime-local|time)$/.test(el.type));
    return text && el.value !== "" && !!twin && el.value !== twin.defaultValue;
  }

  function copyValue(from, to) {
    if (from.type === "checkbox" || from.type === "radio") { to.checked = from.checked; return; }
    if (from.tagName === "SELECT") {
      Array.prototype.forEach.call(to.options, function (o, i) {
        o.selected = !!(from.options[i] && from.options[i].selected && from.options[i].value === o.value);
      });
      return;
    }
    to.value = from.value;
  }

  // Serialised without what differs on every render (the masked CSRF token).
  function fingerprint(el) {
    var copy = el.cloneNode(true);
    copy.querySelectorAll("input[name=csrfmiddlewaretoken]").forEach(function (c) {
      c.removeAttribute("value");
    });
    return copy.outerHTML;
  }

  // --- one section --------------------------------------------------------------

  // Plans the swap of `old` by `fresh`; null if it must wait (the next poll retries):
  // a request of the user's own is running in it, or a draft / an open entry would
  // have nowhere to go.
  function plan(old, fresh) {
    if (old.matches(".htmx-request") || old.querySelector(".htmx-request")) return null;
    var kept = [];
    var blocked = Array.prototype.some.call(old.querySelectorAll(KEEP), function (el) {
      var twin = el.id && fresh.querySelector("#" + CSS.escape(el.id));
      if (!twin) return true;
      kept.push([el, twin]);
      return false;
    });
    if (blocked) return null;
    var isKept = function (el) { return kept.some(function (k) { return k[0].contains(el); }); };
    var focused = old.contains(document.activeElement) ? document.activeElement : null;
    var fresher = index(fresh), seen = {}, moves = [];
    blocked = controls(old).some(function (el) {
      if (isKept(el)) return false;
      var key = controlKey(el);
      var n = seen[key] = (seen[key] || 0) + 1;
      var twin = (fresher[key] || [])[n - 1];
      var draft = isDraft(el) || isTextShownAgain(el, twin);
      if (!draft && el !== focused) return false;
      if (!twin) return draft;
      var move = {from: el, to: twin, draft: draft, focused: el === focused};
      if (move.focused && typeof el.selectionStart === "number") {
        move.selection = [el.selectionStart, el.selectionEnd, el.selectionDirection];
      }
      moves.push(move);
      return false;
    });
    if (blocked) return null;
    return {kept: kept, moves: moves, focused: focused};
  }

  function swap(old, fresh, todo) {
    todo.kept.forEach(function (pair) { pair[1].replaceWith(pair[0]); });
    todo.moves.forEach(function (m) { if (m.draft) copyValue(m.from, m.to); });
    var openDetails = {};
    old.querySelectorAll("details").forEach(function (d) {
      var summary = d.querySelector("summary");
      openDetails[summary ? summary.textContent.trim() : ""] = d.open;
    });
    fresh.querySelectorAll("details").forEach(function (d) {
      var summary = d.querySelector("summary");
      var key = summary ? summary.textContent.trim() : "";
      if (key in openDetails) d.open = openDetails[key];
    });
    old.replaceWith(fresh);
    if (window.htmx) window.htmx.process(fresh);
    // Countdowns (app.js) start at once in what was swapped in, not a second later.
    fresh.dispatchEvent(new CustomEvent("mw:swapped", {bubbles: true}));
    var focused = todo.focused;
    if (focused && focused.isConnected) {
      focused.focus({preventScroll: true});
      return;
    }
    todo.moves.forEach(function (m) {
      if (!m.focused) return;
      m.to.focus({preventScroll: true});
      if (m.selection) {
        try { m.to.setSelectionRange.apply(m.to, m.selection); } catch (e) { /* no selection on this type */ }
      }
    });
  }

  // Swaps every section of the answer; the new version is kept only if none waited.
  function apply(live, text) {
    var doc = new DOMParser().parseFromString(text, "text/html");
    var wrapper = doc.querySelector("[data-live-version]");
    if (!wrapper) return;  // not ours (a login page after the session expired)
    var waited = false;
    Array.prototype.slice.call(wrapper.children).forEach(function (fresh) {
      var old = fresh.id && document.getElementById(fresh.id);
      if (!old || !live.contains(old)) return;
      if (fingerprint(old) === fingerprint(fresh)) return;
      var todo = plan(old, fresh);
      if (todo === null) { waited = true; return; }
      swap(old, document.adoptNode(fresh), todo);
    });
    if (!waited) live.dataset.liveVersion = wrapper.dataset.liveVersion;
  }

  // --- polling ------------------------------------------------------------------

  function url(live) {
    var address = live.dataset.liveUrl + "?v=" + encodeURIComponent(live.dataset.liveVersion || "");
    var timeline = document.getElementById("incident-timeline");
    if (timeline && /timeline=all/.test(timeline.getAttribute("hx-get") || "")) {
      address += "&timeline=all";  // keep the whole timeline the reader asked for
    }
    return address;
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(poll, INTERVAL);
  }

  function poll() {
    var live = root();
    if (!live || inFlight || document.visibilityState !== "visible") { schedule(); return; }
    inFlight = true;
    fetch(url(live), {credentials: "same-origin", cache: "no-store",
                      headers: {"Accept": "text/html"}})
      .then(function (response) {
        if (response.status !== 200 || response.redirected) return null;
        return response.text();
      })
      .then(function (text) { if (text) apply(live, text); })
      .catch(function () { /* offline for a moment: the next poll tries again */ })
      .then(function () { inFlight = false; schedule(); });
  }

  document.addEventListener("DOMContentLoaded", function () { if (root()) schedule(); });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && root() && !inFlight) poll();
  });
})();
