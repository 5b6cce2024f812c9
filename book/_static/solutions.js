// Keyboard access to exercise solutions (sphinx-exercise dropdowns, toggled by
// sphinx-togglebutton). Jupyter Book 1 adds every .js file in book/_static to every page.
//
// The title of a solution holds a link back to its exercise (disabled for the mouse in
// custom.css) and the toggle button. The link is taken out of the tab order, so Tab reaches the
// toggle button inside the title, whose name says which solution it opens; Enter and Space
// (native button keys) open and close it. One tab stop per solution.
"use strict";
(function () {
  function label() {
    document.querySelectorAll("div.solution.dropdown > .admonition-title").forEach((title) => {
      const link = title.querySelector("a.reference");
      if (link) link.setAttribute("tabindex", "-1");
      const button = title.querySelector("button.toggle-button");
      if (button) {
        const name = title.textContent.replace(/\s+/g, " ").trim();
        button.setAttribute("aria-label", "Show or hide: " + name);
      }
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => setTimeout(label, 0));
  } else {
    setTimeout(label, 0);
  }
})();
