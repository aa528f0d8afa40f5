// MindWeave IR: where keyboard focus goes after an HTMX swap (issue 18).
//
// htmx itself re-focuses a control whose id survives the swap and focuses an
// [autofocus] element in new content. This file covers the rest, so focus never
// drops to <body> after a user's action:
//   1. the swap showed form errors: the first invalid field;
//   2. focus was lost: inside the nearest element around the old focus whose id
//      survived (the same timeline entry, checklist item, form), else inside the
//      swapped region: an error message (role=alert), the control marked
//      data-focus-default, the first control, or the region itself.
// Swaps nobody asked for here (live refreshes while focus is elsewhere) are left alone.
(function () {
  "use strict";

  var FOCUSABLE = 'a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), ' +
    'select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex="-1"])';
  var USER_EVENTS = /^(submit|click|change|keyup|keydown|input)$/;
  var pending = new WeakMap();  // request (xhr) -> where focus was before its swap

  function visible(el) {
    return !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  }

  function lost() {
    var active = document.activeElement;
    return !active || active === document.body || !active.isConnected;
  }

  function focusOn(el) {
    if (!el) return false;
    if (!el.matches(FOCUSABLE) && !el.hasAttribute("tabindex")) el.setAttribute("tabindex", "-1");
    el.focus({ preventScroll: false });
    return document.activeElement === el;
  }

  // The control to land on inside `el`: its marked default (a control, or a group
  // whose first control is meant, or a message to read), else its first control,
  // else `el` itself.
  function target(el, orSelf) {
    var marked = el.matches("[data-focus-default]") ? el : el.querySelector("[data-focus-default]");
    if (marked && visible(marked)) {
      return marked.matches(FOCUSABLE) ? marked : (marked.querySelector(FOCUSABLE) || marked);
    }
    var first = Array.prototype.find.call(el.querySelectorAll(FOCUSABLE), visible);
    return first || (orSelf ? el : null);
  }

  document.addEventListener("htmx:beforeSwap", function (e) {
    var swapTarget = e.detail.target;
    var active = document.activeElement;
    var config = e.detail.requestConfig || {};
    var trigger = config.triggeringEvent;
    var byUser = !!(trigger && USER_EVENTS.test(trigger.type));
    var inside = !!(swapTarget && active && active !== document.body && swapTarget.contains(active));
    if (!inside && !(byUser && lost())) return;
    var ids = [];
    for (var el = active; el && el !== document.body; el = el.parentElement) {
      if (el.id) ids.push(el.id);
    }
    pending.set(e.detail.xhr, {
      target: swapTarget, targetId: swapTarget && swapTarget.id, ids: ids, byUser: byUser,
    });
  });

  document.addEventListener("htmx:afterSettle", function (e) {
    var p = pending.get(e.detail.xhr);
    if (!p) return;
    pending.delete(e.detail.xhr);  // once per request, not once per settled element
    var region = (p.targetId && document.getElementById(p.targetId)) ||
      (p.target && p.target.isConnected ? p.target : e.target);
    if (!region || !region.isConnected) return;

    var invalid = Array.prototype.find.call(region.querySelectorAll('[aria-invalid="true"]'), visible);
    if (invalid && p.byUser) {
      var now = document.activeElement;
      if (!now || now.getAttribute("aria-invalid") !== "true") focusOn(invalid);
      return;
    }
    if (!lost()) return;
    for (var i = 0; i < p.ids.length; i++) {
      var kept = document.getElementById(p.ids[i]);
      if (kept && region.contains(kept) && kept !== region && focusOn(target(kept, true))) return;
    }
    var alert = region.querySelector('[role="alert"]:not([hidden])');
    if (alert && focusOn(alert)) return;
    focusOn(target(region, true));
  });
})();
