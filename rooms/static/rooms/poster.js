// The poster's print button (a file, not an inline handler: the site's CSP forbids those).
document.addEventListener("DOMContentLoaded", () => {
  const button = document.querySelector("[data-print]");
  if (button) button.addEventListener("click", () => window.print());
});
