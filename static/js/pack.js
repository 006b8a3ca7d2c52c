// The packing station (templates/fulfillment/pack_station.html). Progressive: without this
// file every scan is a plain form post. With it: scans are sent one after another through
// htmx (a fast scanner never loses a code to a swap), the scan field keeps the focus,
// a right item ticks, a wrong one buzzes, and the keyboard does the rest:
//   Enter scan · Alt+Z undo · Alt+P add parcel · Ctrl+Enter complete · Alt+S slip · Esc scan field
(function () {
  "use strict";

  const played = new Set();
  const api = (window.orderlinePack = window.orderlinePack || { sounds: [] });

  function scanInput() { return document.getElementById("pack-code"); }
  function station() { return document.getElementById("pack-station"); }

  function focusScan() {
    const input = scanInput();
    if (input && document.activeElement !== input) input.focus({ preventScroll: true });
  }

  // ------------------------------------------------------------ sound (Web Audio, no files)
  let ctx = null;
  function audio() {
    const AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) return null;
    if (!ctx) { try { ctx = new AC(); } catch (e) { return null; } }
    if (ctx.state === "suspended") ctx.resume();
    return ctx;
  }
  function tone(a, freq, start, dur, type, gain, endFreq) {
    const osc = a.createOscillator();
    const g = a.createGain();
    osc.type = type;
    osc.frequency.setValueAtTime(freq, start);
    if (endFreq) osc.frequency.linearRampToValueAtTime(endFreq, start + dur);
    g.gain.setValueAtTime(0.0001, start);
    g.gain.exponentialRampToValueAtTime(gain, start + 0.01);
    g.gain.setValueAtTime(gain, start + dur - 0.03);
    g.gain.exponentialRampToValueAtTime(0.0001, start + dur);
    osc.connect(g).connect(a.destination);
    osc.start(start);
    osc.stop(start + dur + 0.02);
  }
  function sound(kind) {
    api.sounds.push(kind);
    const a = audio();
    if (!a) return;
    const t = a.currentTime + 0.01;
    if (kind === "error") {        // a low, harsh double buzz: impossible to mistake for the tick
      tone(a, 220, t, 0.22, "square", 0.3, 170);
      tone(a, 220, t + 0.3, 0.34, "square", 0.3, 150);
    } else if (kind === "ok") {     // a short high tick
      tone(a, 1650, t, 0.07, "sine", 0.25);
    } else if (kind === "done") {   // rising two-note chime
      tone(a, 880, t, 0.12, "sine", 0.25);
      tone(a, 1320, t + 0.13, 0.2, "sine", 0.25);
    } else if (kind === "undo" || kind === "warning") {
      tone(a, 520, t, 0.1, "triangle", 0.2);
    }
  }

  function announce() {
    const fb = document.getElementById("pack-feedback");
    if (!fb || !fb.dataset.feedbackId || played.has(fb.dataset.feedbackId)) return;
    played.add(fb.dataset.feedbackId);
    sound(fb.dataset.feedbackKind);
    if (fb.dataset.feedbackKind === "error") {
      const s = station();
      if (s) {
        s.classList.remove("pack-flash");
        void s.offsetWidth; // restart the animation
        s.classList.add("pack-flash");
      }
    }
  }

  function afterSwap() {
    announce();
    // A parcel form refused: the cursor goes to the field to fix. Otherwise: scan.
    const bad = document.querySelector("#pack-body .has-error input");
    if (bad) { bad.focus(); bad.select && bad.select(); return; }
    focusScan();
  }

  // ------------------------------------------------------------ scans, one after another
  let queue = Promise.resolve();
  let pending = 0;
  document.addEventListener("submit", function (e) {
    const form = e.target;
    if (!form.matches || !form.matches("[data-pack-scan]") || !window.htmx) return;
    e.preventDefault();
    const input = form.querySelector("[name=code]");
    const code = input.value.trim();
    input.value = "";
    if (!code) { focusScan(); return; }
    const url = form.getAttribute("action");
    pending += 1;
    form.classList.add("is-busy");
    queue = queue.then(function () {
      return window.htmx.ajax("POST", url, {
        source: form, target: "#pack-body", swap: "outerHTML",
        values: { action: "scan", code: code },
      });
    }).catch(function () {}).then(function () {
      pending -= 1;
      const f = document.querySelector("[data-pack-scan]");
      if (f && pending === 0) f.classList.remove("is-busy");
    });
  });

  document.addEventListener("htmx:afterSettle", afterSwap);
  document.addEventListener("htmx:responseError", function () {
    sound("error");
  });
  document.addEventListener("htmx:sendError", function () {
    sound("error");
  });

  // ------------------------------------------------------------ keyboard
  function click(name) {
    const el = document.querySelector('[data-shortcut="' + name + '"]');
    if (el) el.click();
    return !!el;
  }
  function letter(e) {
    if (e.code && e.code.indexOf("Key") === 0) return e.code.slice(3).toLowerCase();
    return (e.key || "").toLowerCase();
  }
  document.addEventListener("keydown", function (e) {
    if (!station()) return;
    if (e.key === "Escape") { e.preventDefault(); focusScan(); return; }
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      click("complete");
      return;
    }
    if (!e.altKey || e.ctrlKey || e.metaKey) return;
    const k = letter(e);
    if (k === "z") { e.preventDefault(); click("undo"); }
    else if (k === "s") { e.preventDefault(); click("slip"); }
    else if (k === "p") {
      e.preventDefault();
      const w = document.querySelector("#pack-parcel-add [name=weight_grams]");
      if (w) { w.focus(); w.select(); }
    }
  }, true);

  // Focus always comes back to the scan field: after a click on nothing in particular,
  // after the focused element was swapped away, and when the window comes back (slip tab).
  document.addEventListener("click", function (e) {
    if (!station()) return;
    if (e.target.closest("input, select, textarea, button, a, label, summary")) return;
    if (window.getSelection && String(window.getSelection())) return;
    focusScan();
  });
  document.addEventListener("focusout", function () {
    if (!station()) return;
    setTimeout(function () {
      const a = document.activeElement;
      if (!a || a === document.body) focusScan();
    }, 0);
  });
  window.addEventListener("focus", function () { if (station()) focusScan(); });

  function init() {
    if (!station()) return;
    announce();
    afterSwap();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
