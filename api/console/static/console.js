// The console's only script: a copy button for tokens and a confirmation
// before forms marked data-confirm are sent. Everything works without it.
"use strict";
document.addEventListener("click", function (ev) {
  var button = ev.target.closest("[data-copy]");
  if (!button) return;
  var field = document.getElementById(button.getAttribute("data-copy"));
  if (!field) return;
  var done = function () {
    var label = button.textContent;
    button.textContent = "Copied";
    button.classList.add("copied");
    setTimeout(function () { button.textContent = label; button.classList.remove("copied"); }, 2000);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(done, function () { field.select(); });
  } else {
    field.select();
    try { if (document.execCommand("copy")) done(); } catch (e) { /* the text stays selected */ }
  }
});
document.addEventListener("submit", function (ev) {
  var message = ev.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) ev.preventDefault();
});
