// The pages' only script, served from this origin (the Content-Security-Policy allows no inline
// script or handler attributes).
document.addEventListener("DOMContentLoaded", function () {
  // The language switch submits itself when a language is chosen.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
});
