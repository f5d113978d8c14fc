// Kervan's few behaviours, bound by data attributes so the pages carry no inline script (the Content Security
// Policy forbids it). Loaded with `defer` on every page; htmx-loaded fragments are bound again after each swap.
(function () {
  "use strict";

  function bind(root) {
    // <select data-autosubmit>: submit its form as soon as the choice changes (language switch, list filters).
    root.querySelectorAll("[data-autosubmit]").forEach(function (el) {
      if (el.dataset.bound) return;
      el.dataset.bound = "1";
      el.addEventListener("change", function () {
        if (el.form.requestSubmit) el.form.requestSubmit(); else el.form.submit();
      });
    });
    // <button data-copy="#element-id">: copy that element's text (or value) to the clipboard.
    root.querySelectorAll("[data-copy]").forEach(function (button) {
      if (button.dataset.bound) return;
      button.dataset.bound = "1";
      button.addEventListener("click", function (event) {
        event.preventDefault();
        var source = document.querySelector(button.dataset.copy);
        if (!source) return;
        var text = "value" in source && source.value !== undefined ? source.value : source.textContent;
        var done = function () {
          var label = button.textContent;
          button.textContent = button.dataset.copied || "✓";
          setTimeout(function () { button.textContent = label; }, 1500);
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text.trim()).then(done);
        } else {
          var area = document.createElement("textarea");
          area.value = text.trim();
          document.body.appendChild(area);
          area.select();
          document.execCommand("copy");
          area.remove();
          done();
        }
      });
    });
    // <input type="checkbox" data-select-all="name">: tick or untick every checkbox called `name` in the form.
    root.querySelectorAll("[data-select-all]").forEach(function (box) {
      if (box.dataset.bound) return;
      box.dataset.bound = "1";
      box.addEventListener("change", function () {
        box.form.querySelectorAll('input[type=checkbox][name="' + box.dataset.selectAll + '"]').forEach(function (b) {
          b.checked = box.checked;
        });
      });
    });
    // A list's bulk bar: show only the value box of the chosen action (the tag to add, the list to add to).
    root.querySelectorAll(".bulk-bar select[name=action]").forEach(function (select) {
      if (select.dataset.bound) return;
      select.dataset.bound = "1";
      var show = function () {
        select.form.querySelectorAll("[data-bulk-value]").forEach(function (box) {
          box.hidden = box.dataset.bulkValue !== select.value;
        });
      };
      select.addEventListener("change", show);
      show();
    });
    // <form data-confirm="…">: ask before submitting (merges, bulk changes).
    root.querySelectorAll("form[data-confirm]").forEach(function (form) {
      if (form.dataset.bound) return;
      form.dataset.bound = "1";
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { bind(document); });
  document.addEventListener("htmx:afterSwap", function (event) { bind(event.target); });
})();
