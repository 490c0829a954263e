/* Admin, for axe:
   - aria-prohibited-attr: the filter boxes of a "filter horizontal" field carry an icon <span> with an
     aria-label but no role (Django's SelectFilter2.js); it gets the role of an image, so that its label
     is read. SelectFilter2 builds them on the page's load; this runs just after.
   - label: a tabular inline's inputs have only their column's header; each gets it as its name
     ("Number, row 2"), also in the rows "Add another" makes. */
(function () {
  "use strict";

  function nameIcons() {
    document.querySelectorAll("span.search-label-icon[aria-label]:not([role])").forEach(function (icon) {
      icon.setAttribute("role", "img");
    });
  }

  function nameInlineInputs() {
    document.querySelectorAll(".inline-group .tabular table").forEach(function (table) {
      var headers = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
        return th.textContent.replace(/\s+/g, " ").trim();
      });
      table.querySelectorAll("tbody tr.form-row").forEach(function (row, rowIndex) {
        Array.prototype.forEach.call(row.children, function (cell, column) {
          cell.querySelectorAll("input:not([type=hidden]), select, textarea").forEach(function (field) {
            var labelled = field.labels && field.labels.length;
            if (labelled || field.hasAttribute("aria-label") || !headers[column]) return;
            field.setAttribute("aria-label", headers[column] + ", row " + (rowIndex + 1));
          });
        });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", nameInlineInputs);
  document.addEventListener("formset:added", nameInlineInputs);
  window.addEventListener("load", function () { window.setTimeout(nameIcons, 0); });
})();
