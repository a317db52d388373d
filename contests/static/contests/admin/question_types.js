/* Each question shows only the fields of its type: the numeric answer and tolerance for a
   numeric question, the accepted answers for a text question, the choices for a single- or
   multiple-choice question. Used by the contest page (one block per question, choices
   nested) and a question's own page. The server clears what a type does not use. */
(function () {
  "use strict";

  var CHOICE_TYPES = ["single_choice", "multiple_choice"];
  var QUESTION = '.djn-inline-form[data-inline-model="contests-question"]';
  var TYPE = 'select[name="type"], select[name$="-type"]';
  var PARTS = {
    numeric: ".field-numeric_answer, .field-numeric_answer_shown",
    text: ".field-accepted_answers",
    choices: '.inline-group[id$="choices-group"]'
  };

  function show(scope, selector, visible) {
    scope.querySelectorAll(selector).forEach(function (node) {
      node.style.display = visible ? "" : "none";
    });
  }

  function update(select) {
    // A question of the contest page, or the whole page of a question.
    var scope = select.closest(QUESTION) || document;
    var type = select.value;
    show(scope, PARTS.numeric, type === "numeric");
    show(scope, PARTS.text, type === "text");
    show(scope, PARTS.choices, CHOICE_TYPES.indexOf(type) >= 0);
  }

  function updateAll(root) {
    root.querySelectorAll(TYPE).forEach(update);
    // A read-only question (its contest has started) shows its type as text.
    var shownTypes = ".field-type .readonly, .fieldBox.field-type > p";
    root.querySelectorAll(shownTypes).forEach(function (shown) {
      update({
        value: shown.textContent.trim().toLowerCase().replace(/ /g, "_"),
        closest: shown.closest.bind(shown)
      });
    });
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches(TYPE)) {
      update(event.target);
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    updateAll(document);
    // Rows added with "Add another Question" are copies of a template: set them up too.
    new MutationObserver(function (records) {
      records.forEach(function (record) {
        record.addedNodes.forEach(function (node) {
          if (node.querySelectorAll) {
            updateAll(node);
          }
        });
      });
    }).observe(document.body, { childList: true, subtree: true });
  });
})();
