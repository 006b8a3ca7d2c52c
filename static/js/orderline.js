// Small, progressive: every page works without this file.
(function () {
  "use strict";
  // "/" focuses the global search (unless typing in a field).
  document.addEventListener("keydown", function (e) {
    if (e.key !== "/" || e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    const search = document.getElementById("global-search");
    if (search) { e.preventDefault(); search.focus(); search.select(); }
  });
  // Row click opens the detail (links stay real links for keyboard and middle-click).
  document.addEventListener("click", function (e) {
    const row = e.target.closest("tr[data-href]");
    if (!row || e.target.closest("a, button, input, label, select")) return;
    if (window.getSelection && String(window.getSelection())) return;
    window.location = row.dataset.href;
  });
  // Confirm what cannot be undone.
  document.addEventListener("submit", function (e) {
    const msg = e.target.dataset.confirm;
    if (msg && !window.confirm(msg)) e.preventDefault();
  }, true);
})();
