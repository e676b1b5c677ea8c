/* Residents' pages: two repairs to what Dash's own components render, so that screen
 * readers hear the native controls (WCAG 4.1.2):
 * - dcc.Upload's file input has no name of its own (axe: "label"): it takes the name of
 *   the visible button beside it, and the hint below as its description;
 * - dcc.RadioItems and dcc.Checklist (Dash 4) mark their list "listbox" and each label
 *   "option" around a real radio button or checkbox (axe: "nested-interactive"): the
 *   roles go, the native inputs and the fieldset's legend say it all.
 * Both components render late (they load on demand), hence the observer. */
(function () {
    function repair() {
        document.querySelectorAll(".resident .report-photo").forEach(function (upload) {
            var input = upload.querySelector("input[type=file]");
            var button = upload.querySelector(".report-button");
            if (input && button && input.getAttribute("aria-label") !== button.textContent) {
                input.setAttribute("aria-label", button.textContent);
                input.setAttribute("aria-describedby", "report-photo-hint");
            }
        });
        document.querySelectorAll(".resident .dash-options-list[role], " +
                                  ".resident .dash-options-list [role=option]")
            .forEach(function (element) {
                element.removeAttribute("role");
                element.removeAttribute("aria-selected");
            });
    }
    new MutationObserver(repair).observe(document.documentElement, {
        childList: true, subtree: true, attributes: true, attributeFilter: ["role"]});
})();
