// Reply templates (常用语) on the case desk's action forms: choosing a ready
// phrase inserts its text into the form's note at the cursor. Without this
// script the "Insert" button posts the form back with the text added.
(function () {
  "use strict";
  if (window.chengguanReplyTemplates) return; // htmx may run this script again
  window.chengguanReplyTemplates = true;

  function insert(select) {
    var option = select.options[select.selectedIndex];
    var body = option && option.getAttribute("data-body");
    var target = document.getElementById(select.getAttribute("data-target"));
    if (!body || !target) return false;
    var start = typeof target.selectionStart === "number" ? target.selectionStart : target.value.length;
    var end = typeof target.selectionEnd === "number" ? target.selectionEnd : start;
    var before = target.value.slice(0, start);
    var glue = before && !/\s$/.test(before) ? "\n" : "";
    target.value = before + glue + body + target.value.slice(end);
    var caret = (before + glue + body).length;
    target.focus();
    if (target.setSelectionRange) target.setSelectionRange(caret, caret);
    target.dispatchEvent(new Event("input", { bubbles: true }));
    select.selectedIndex = 0;
    return true;
  }

  document.addEventListener("change", function (event) {
    var select = event.target;
    if (select instanceof HTMLSelectElement && select.hasAttribute("data-reply-templates")) insert(select);
  });

  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element ? event.target.closest("[data-reply-insert]") : null;
    if (!button) return;
    var select = button.form && button.form.querySelector("select[data-reply-templates]");
    // With the script, inserting happens on choosing; the button only re-inserts.
    event.preventDefault();
    if (select) insert(select);
  });
})();
