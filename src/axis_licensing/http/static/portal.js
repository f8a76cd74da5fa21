// The portal's only script (no inline script: the Content-Security-Policy forbids it).
// 1. After htmx swaps content in, focus moves to it, so the next Tab continues there.
// 2. The organization switch changes only on an explicit choice: its button, or Enter.
// 3. "Confirm allocation" is disabled, with its reason shown, while the wallet cannot
//    cover what the form asks for (the server renders the same state first).
(function () {
  "use strict";

  function focusInto(region) {
    if (!region) { return; }
    var target = region.querySelector("[data-focus], h1, h2") || region;
    if (!target.hasAttribute("tabindex")) { target.setAttribute("tabindex", "-1"); }
    target.focus();
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    var id = event.detail && event.detail.target && event.detail.target.id;
    focusInto(id ? document.getElementById(id) : null);
  });

  document.addEventListener("keydown", function (event) {
    var el = event.target;
    if (event.key === "Enter" && el && el.id === "org-switch" && el.form) {
      event.preventDefault();
      el.form.requestSubmit();
    }
  });

  function covered(form) {
    var balance = JSON.parse(form.getAttribute("data-balance") || "{}");
    var select = form.querySelector("select[name=through]");
    if (select) {
      var option = select.options[select.selectedIndex];
      return !option || option.getAttribute("data-covered") === "true";
    }
    var inputs = form.querySelectorAll("input[data-type]");
    for (var i = 0; i < inputs.length; i++) {
      var wanted = parseInt(inputs[i].value || "0", 10);
      if (wanted > (balance[inputs[i].getAttribute("data-type")] || 0)) { return false; }
    }
    return true;
  }

  function refresh(form) {
    var ok = covered(form);
    var button = form.querySelector("button[type=submit]");
    var reason = form.querySelector("[data-reason]");
    if (button) { button.disabled = !ok; }
    if (reason) { reason.hidden = ok; }
  }

  function watch(root) {
    var forms = root.querySelectorAll("form[data-balance]");
    for (var i = 0; i < forms.length; i++) {
      var form = forms[i];
      if (form.hasAttribute("data-watched")) { continue; }
      form.setAttribute("data-watched", "");
      form.addEventListener("input", refresh.bind(null, form));
      form.addEventListener("change", refresh.bind(null, form));
    }
  }

  document.addEventListener("DOMContentLoaded", function () { watch(document); });
  document.addEventListener("htmx:afterSettle", function () { watch(document); });
})();
