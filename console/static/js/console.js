/* Every admin page: what Flask-Admin's templates did in inline handlers, bound from data-* attributes
   instead, because the script policy runs no inline code (console/security/csp.py). */
(function () {
  "use strict";

  // A form (or the button that submits it) with data-confirm asks first.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var button = event.submitter;
    var message = (button && button.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });

  // A link to "#" is a control (a menu toggle, a filter name, a list action): it never navigates.
  // Capture phase, because Flask-Admin's dropdown script stops the click from bubbling.
  // A list action ("With selected") runs through Flask-Admin's actions.js.
  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[href='#']");
    if (!link) { return; }
    event.preventDefault();
    var action = link.getAttribute("data-action");
    if (action && window.modelActions) {
      window.modelActions.execute(action);
    }
  }, true);
})();
