/* Copy the tracking code on the confirmation page (the button appears only where the clipboard works). */
(function () {
  "use strict";
  var button = document.getElementById("copy-code");
  var code = document.getElementById("tracking-code");
  if (!button || !code || !navigator.clipboard || !window.isSecureContext) return;
  button.hidden = false;
  var label = button.textContent;
  button.addEventListener("click", function () {
    navigator.clipboard.writeText(code.textContent.trim()).then(function () {
      button.textContent = button.getAttribute("data-copied");
      setTimeout(function () { button.textContent = label; }, 2000);
    });
  });
})();
