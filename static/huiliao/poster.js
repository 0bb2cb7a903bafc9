/* The poster's "Print" button: a script file rather than an inline onclick handler, which
 * the Content-Security-Policy blocks. The poster template opts in with
 * <button type="button" data-print> and <script src="{% static 'huiliao/poster.js' %}" defer>. */
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
});
