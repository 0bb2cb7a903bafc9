/* The poster's "Print" button: a script file rather than an inline onclick handler, which
 * the Content-Security-Policy would block. */
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
});
