// Warehouse queue: "select all" per section and a live count for the bulk print bar.
(function () {
  "use strict";
  function update() {
    var n = document.querySelectorAll('input[form="bulk-print"][name="shipment"]:checked').length;
    var out = document.querySelector("[data-bulk-count]");
    if (out) out.textContent = n ? n + " shipment" + (n === 1 ? "" : "s") + " selected" : "Tick shipments below to print them together.";
  }
  document.addEventListener("change", function (e) {
    var all = e.target.closest && e.target.closest("[data-select-all]");
    if (all) {
      document.querySelectorAll('input[data-section="' + all.dataset.selectAll + '"]').forEach(function (box) {
        box.checked = all.checked;
      });
    }
    if (e.target.form && e.target.form.id === "bulk-print" || all) update();
  });
  // The print form opens the PDF in a new tab; refuse an empty selection here already.
  document.addEventListener("submit", function (e) {
    if (e.target.id !== "bulk-print") return;
    if (!document.querySelector('input[form="bulk-print"][name="shipment"]:checked')) {
      e.preventDefault();
      var out = document.querySelector("[data-bulk-count]");
      if (out) { out.textContent = "Tick at least one shipment to print."; out.classList.add("wh-bulk-warn"); }
    }
  });
})();
