// MindWeave IR: on a narrow screen the main menu folds behind one button.
// Without JavaScript the button stays hidden and the menu shows, so every page stays
// reachable; on a wide screen the CSS hides the button and always shows the menu.
(function () {
  "use strict";

  function setUp() {
    var button = document.querySelector(".nav-toggle");
    if (!button) return;
    var header = button.closest(".topbar");
    var menu = document.getElementById(button.getAttribute("aria-controls"));
    var isOpen = function () { return button.getAttribute("aria-expanded") === "true"; };
    var setOpen = function (open) {
      button.setAttribute("aria-expanded", String(open));
      header.dataset.menu = open ? "open" : "closed";
    };
    setOpen(false);
    button.hidden = false;
    button.addEventListener("click", function () { setOpen(!isOpen()); });
    // Escape closes the open menu; focus goes back to the button if it was inside.
    document.addEventListener("keydown", function (e) {
      if (e.key !== "Escape" || !isOpen()) return;
      var inside = menu.contains(document.activeElement) || document.activeElement === button;
      setOpen(false);
      if (inside) button.focus();
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUp);
  else setUp();
})();
