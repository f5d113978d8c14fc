// The flow builder: a form's <select data-switch="x"> shows only the parts marked data-case-x="<its value>";
// a form with data-error-field marks that input; "Cancel" in a form loaded under a + closes it instead of leaving.
(function () {
  "use strict";

  function switchCases(select) {
    var name = select.dataset.switch;
    select.form.querySelectorAll("[data-case-" + name + "]").forEach(function (part) {
      part.hidden = part.getAttribute("data-case-" + name) !== select.value;
    });
  }

  function bind(root) {
    root.querySelectorAll("select[data-switch]").forEach(function (select) {
      if (select.dataset.bound) return;
      select.dataset.bound = "1";
      select.addEventListener("change", function () { switchCases(select); });
      switchCases(select);
    });
    root.querySelectorAll("form[data-error-field]").forEach(function (form) {
      var input = form.querySelector('[name="' + form.dataset.errorField + '"]');
      if (!input) return;
      var label = input.closest("label") || input;
      label.classList.add("has-error");
      var fieldset = input.closest("fieldset[hidden]");
      if (fieldset) fieldset.hidden = false;
      input.focus();
    });
    root.querySelectorAll(".flow-slot [data-close-slot]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        link.closest(".flow-slot").innerHTML = "";
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { bind(document); });
  document.addEventListener("htmx:afterSwap", function (event) { bind(event.target); });
})();
