// weakflow dashboard: keyboard shortcuts of the review queue and a confirmation before a model
// move. Everything also works without this script (buttons, links and required fields).
(function () {
  "use strict";

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  // Review queue: 1..9 press the matching label button, s follows the skip link.
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) {
      return;
    }
    var form = document.getElementById("review-form");
    if (!form) {
      return;
    }
    if (event.key === "s" || event.key === "S") {
      var skip = document.getElementById("skip");
      if (skip) {
        event.preventDefault();
        window.location.assign(skip.href);
      }
      return;
    }
    var button = form.querySelector('button[data-key="' + event.key + '"]');
    if (button && !form.dataset.sent) {
      event.preventDefault();
      button.click();
    }
  });

  // One submission per page: a double key press must not store two labels.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    if (form.dataset.sent) {
      event.preventDefault();
      return;
    }
    form.dataset.sent = "1";
  });
})();
