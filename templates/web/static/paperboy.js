// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";

  // Subscribe form: pre-select the browser's time zone when the list has it.
  document.querySelectorAll("select[data-detect-timezone]").forEach(function (select) {
    var zone = "";
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return; }
    for (var i = 0; i < select.options.length; i++) {
      if (select.options[i].value === zone) { select.selectedIndex = i; break; }
    }
  });

  // A refused form: the cursor goes to the field at fault, once the browser has scrolled to the
  // #fragment (that scroll drops the focus, and makes the browser skip autofocus).
  var invalid = document.querySelector("form [aria-invalid=true]");
  if (invalid) {
    window.addEventListener("load", function () {
      setTimeout(function () { invalid.focus({ preventScroll: true }); }, 0);
    });
  }

  // Feedback: one click in the email records the vote (the form posts on load).
  var vote = document.querySelector("form[data-autosubmit]");
  if (vote) { vote.requestSubmit ? vote.requestSubmit() : vote.submit(); }

  // Manage: refresh the preview as the settings change, without saving them.
  var form = document.querySelector("form[data-live-preview]");
  var target = document.getElementById("preview");
  var summary = document.querySelector("[data-preview-summary]");
  // The bar under the settings (on a phone) says what the preview holds; it follows each refresh.
  var summarise = function () {
    var line = target && target.querySelector("[data-summary]");
    if (summary && line) { summary.textContent = line.getAttribute("data-summary"); }
  };
  if (form && target && window.fetch && window.FormData) {
    var timer = null, seq = 0;
    var refresh = function () {
      var data = new FormData(form);
      data.set("action", "preview");
      var mine = ++seq;
      target.setAttribute("aria-busy", "true");
      // form.action would be the button named "action"; read the attribute.
      fetch(form.getAttribute("action"), { method: "POST", body: data, credentials: "same-origin",
                           headers: { "X-Paperboy-Fragment": "1" } })
        .then(function (r) { return r.headers.get("X-Paperboy-Fragment") ? r.text() : null; })
        .then(function (html) { if (html !== null && mine === seq) { target.innerHTML = html; summarise(); } })
        .catch(function () {})
        .then(function () { if (mine === seq) { target.removeAttribute("aria-busy"); } });
    };
    var later = function () { clearTimeout(timer); timer = setTimeout(refresh, 400); };
    form.addEventListener("input", later);
    form.addEventListener("change", later);
  }
})();
