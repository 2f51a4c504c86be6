// The pages' only script, served from this origin (the Content-Security-Policy allows no inline
// script or handler attributes).
document.addEventListener("DOMContentLoaded", function () {
  // The language switch submits itself when a language is chosen.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  // A character counter (the performance analysis: its parts together, whitespace not counted, as the
  // server counts them): every textarea marked data-counted in the form feeds the form's data-char-count.
  document.querySelectorAll("[data-char-count]").forEach(function (counter) {
    var form = counter.closest("form");
    var used = counter.querySelector("[data-char-used]");
    var limit = parseInt(counter.getAttribute("data-limit"), 10);
    if (!form || !used) { return; }
    var fields = form.querySelectorAll("textarea[data-counted]");
    var update = function () {
      var n = 0;
      fields.forEach(function (field) { n += Array.from(field.value.replace(/\s+/g, "")).length; });
      used.textContent = String(n);
      counter.classList.toggle("status-returned", n > limit);
      counter.classList.toggle("muted", n <= limit);
    };
    fields.forEach(function (field) { field.addEventListener("input", update); });
  });
});
