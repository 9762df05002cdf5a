// rasoat console: small enhancements over pages that work without JavaScript. No inline handlers
// (the CSP forbids them): behaviour hangs on data- attributes.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');

  // htmx requests carry the CSRF token as a header (forms also carry it as a field).
  document.addEventListener("htmx:configRequest", function (event) {
    if (meta) { event.detail.headers["X-CSRF-Token"] = meta.getAttribute("content"); }
  });

  // <form data-confirm="question">: ask before a step that is hard to undo.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    var submitter = event.submitter;
    if (submitter && submitter.getAttribute("data-confirm")) { question = submitter.getAttribute("data-confirm"); }
    if (question && !window.confirm(question)) { event.preventDefault(); }
  }, true);

  // <input type="checkbox" data-check-all="name">: ticks every box of that name; the count of
  // ticked boxes shows in [data-checked-count].
  function refreshCount(name) {
    var boxes = document.querySelectorAll('input[type="checkbox"][name="' + name + '"]');
    var ticked = 0;
    boxes.forEach(function (box) { if (box.checked) { ticked += 1; } });
    document.querySelectorAll('[data-checked-count="' + name + '"]').forEach(function (out) {
      out.textContent = String(ticked);
    });
    document.querySelectorAll('[data-check-all="' + name + '"]').forEach(function (all) {
      all.checked = ticked > 0 && ticked === boxes.length;
      all.indeterminate = ticked > 0 && ticked < boxes.length;
    });
  }
  document.addEventListener("change", function (event) {
    var box = event.target;
    var all = box.getAttribute && box.getAttribute("data-check-all");
    if (all) {
      document.querySelectorAll('input[type="checkbox"][name="' + all + '"]').forEach(function (other) {
        other.checked = box.checked;
      });
      refreshCount(all);
    } else if (box.type === "checkbox" && box.name) {
      refreshCount(box.name);
    }
  });

  // <select data-submit-on-change>: filters apply as soon as one is chosen (the button remains
  // for keyboards and no-JS).
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.hasAttribute && el.hasAttribute("data-submit-on-change") && el.form) { el.form.requestSubmit(); }
  });

  // <select data-where-field>: the operator and value inputs follow the chosen field's kind
  // (choices from the field's own list, numbers, text), from the JSON in data-fields.
  function whereRow(select) {
    var row = select.closest(".where-row");
    if (!row) { return; }
    var fields = JSON.parse(select.getAttribute("data-fields") || "{}");
    var field = fields[select.value];
    var values = row.querySelector("[data-where-values]");
    var free = row.querySelector("[data-where-free]");
    if (!values || !free) { return; }
    var chosen = values.getAttribute("data-selected") || "";
    values.innerHTML = "";
    if (field && field.choices && field.choices.length) {
      field.choices.forEach(function (choice) {
        var option = document.createElement("option");
        option.value = choice[0];
        option.textContent = choice[1];
        if (choice[0] === chosen) { option.selected = true; }
        values.appendChild(option);
      });
      values.hidden = false; values.disabled = false;
      free.hidden = true; free.disabled = true;
    } else {
      values.hidden = true; values.disabled = true;
      free.hidden = false; free.disabled = false;
      free.type = field && field.kind === "number" ? "number" : "text";
    }
  }
  document.addEventListener("change", function (event) {
    if (event.target.hasAttribute && event.target.hasAttribute("data-where-field")) { whereRow(event.target); }
  });
  function init() {
    document.querySelectorAll("[data-where-field]").forEach(whereRow);
    document.querySelectorAll("[data-check-all]").forEach(function (all) {
      refreshCount(all.getAttribute("data-check-all"));
    });
  }
  document.addEventListener("DOMContentLoaded", init);
  // A part of the page replaced by htmx (the queue's results) starts like a loaded page.
  document.addEventListener("htmx:afterSettle", init);
})();
