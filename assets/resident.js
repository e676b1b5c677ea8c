/* Residents' pages: dcc.Upload's file input has no name of its own (axe: "label"), so it
 * takes the name of the visible button beside it, and the hint below as its description.
 * The upload renders late (its component loads on demand), hence the observer. */
(function () {
    function nameUploads() {
        document.querySelectorAll(".resident .report-photo").forEach(function (upload) {
            var input = upload.querySelector("input[type=file]");
            var button = upload.querySelector(".report-button");
            if (input && button && input.getAttribute("aria-label") !== button.textContent) {
                input.setAttribute("aria-label", button.textContent);
                input.setAttribute("aria-describedby", "report-photo-hint");
            }
        });
    }
    new MutationObserver(nameUploads).observe(document.documentElement,
                                              {childList: true, subtree: true});
})();
