// FlashFusion UI behaviour. No inline scripts anywhere (the CSP forbids them): pages opt in
// with data attributes, and Alpine components are registered here (CSP build, no eval).
(function () {
  "use strict";

  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el instanceof HTMLSelectElement && el.hasAttribute("data-autosubmit") && el.form) {
      el.form.requestSubmit();
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-copy]") : null;
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source || !navigator.clipboard) return;
    navigator.clipboard.writeText(source.textContent.trim()).then(function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    });
  });

  document.addEventListener("alpine:init", function () {
    window.Alpine.data("dismissable", function () {
      return { open: true, close: function () { this.open = false; } };
    });
    window.Alpine.data("sidebar", function () {
      return {
        expanded: false,
        toggle: function () { this.expanded = !this.expanded; },
        get state() { return this.expanded ? "open" : "closed"; }
      };
    });
  });
})();
