/* The intake desk's keyboard handling. Everything works without it; it only
 * makes the form faster to fill from the keyboard:
 *
 *  - Enter moves to the next field instead of filing half a report;
 *  - Enter in the description (the last field) files the report, Shift+Enter
 *    starts a new line;
 *  - Ctrl+Enter files the report from any field, Ctrl+Shift+Enter files and
 *    registers it;
 *  - a second submit while the first is on its way is ignored;
 *  - after an inbox action the focus stays where the operator was working.
 */
(function () {
  "use strict";

  var form = document.getElementById("intake-form");

  function isComposing(event) {
    // An input method (e.g. pinyin) uses Enter to commit its text.
    return event.isComposing || event.keyCode === 229;
  }

  function fields() {
    return Array.prototype.filter.call(
      form.querySelectorAll(".intake__form input, .intake__form select, .intake__form textarea"),
      function (el) {
        // Enter skips the (optional) photo picker; Tab still reaches it.
        return el.type !== "hidden" && el.type !== "file" && !el.disabled && el.offsetParent !== null;
      }
    );
  }

  function submitWith(name) {
    var button = form.querySelector('[data-intake-submit="' + name + '"]');
    if (typeof form.requestSubmit === "function") {
      form.requestSubmit(button);
    } else {
      button.click();
    }
  }

  // A category box holding part of one category's name is completed to it,
  // so the operator (and the duplicate hint) sees which one was meant.
  function completeCategory(input) {
    var list = document.getElementById(input.getAttribute("list"));
    var text = input.value.trim().toLowerCase();
    if (!list || !text) {
      return;
    }
    var values = Array.prototype.map.call(list.options, function (option) {
      return option.value;
    });
    if (values.indexOf(input.value) !== -1) {
      return;
    }
    var matches = values.filter(function (value) {
      return value.toLowerCase().indexOf(text) !== -1;
    });
    if (matches.length === 1) {
      input.value = matches[0];
    }
  }

  document.addEventListener(
    "change",
    function (event) {
      var target = event.target;
      if (target.matches && target.matches('input[list="intake-categories"]')) {
        completeCategory(target);
      }
    },
    true // before htmx reads the value for the duplicate hint
  );

  if (form) {
    var description = form.querySelector("#id_description");

    form.addEventListener("keydown", function (event) {
      if (event.key !== "Enter" || isComposing(event)) {
        return;
      }
      var target = event.target;
      if (event.ctrlKey || event.metaKey) {
        event.preventDefault();
        submitWith(event.shiftKey ? "register" : "file");
        return;
      }
      if (!target.matches || !target.matches("input, select, textarea") || !target.closest(".intake__form")) {
        return; // buttons and the hint panel keep their own Enter
      }
      if (target === description) {
        if (!event.shiftKey) {
          event.preventDefault();
          submitWith("file");
        }
        return;
      }
      if (target.type === "file") {
        return;
      }
      event.preventDefault();
      var list = fields();
      var next = list[list.indexOf(target) + 1];
      if (next) {
        next.focus();
        if (next.select && next.tagName === "INPUT") {
          next.select();
        }
      }
    });

    form.addEventListener("submit", function (event) {
      var submitter = event.submitter;
      if (submitter && submitter.name === "check") {
        return;
      }
      if (form.dataset.submitting) {
        event.preventDefault();
        return;
      }
      form.dataset.submitting = "1";
      form.setAttribute("aria-busy", "true");
    });

    // Back from the browser's page cache: the form may be used again.
    window.addEventListener("pageshow", function () {
      delete form.dataset.submitting;
      form.removeAttribute("aria-busy");
    });

    var invalid = form.querySelector('[aria-invalid="true"]');
    if (invalid) {
      invalid.focus();
    }
  }

  // After an inbox item is swapped (registered, rejected, merged or refused),
  // keep the keyboard focus on it so Tab goes on to the next report.
  document.body.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (target && target.classList && target.classList.contains("intake-item")) {
      var item = document.getElementById(target.id) || target;
      item.focus({ preventScroll: true });
    }
  });

  // A failure htmx cannot show in place (404, 500, no network) gets a notice;
  // the next request that goes through takes it away.
  function notice(show) {
    var live = document.getElementById("intake-live");
    if (live) {
      live.textContent = show ? live.dataset.error : "";
      live.hidden = !show;
    }
  }
  document.body.addEventListener("htmx:responseError", function () {
    notice(true);
  });
  document.body.addEventListener("htmx:sendError", function () {
    notice(true);
  });
  document.body.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.successful) {
      notice(false);
    }
  });
})();
