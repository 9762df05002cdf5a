// The season, report, dashboard and admin pages: small enhancements; every page works without this.
"use strict";
// "Print this page" (the posting list): a button that needs JavaScript stays hidden without it.
for (const button of document.querySelectorAll("[data-print]")) {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
}
