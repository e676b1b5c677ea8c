/* Citizen 360 (layouts/citizen360.py, callbacks/citizen360.py): what the profile box shows
 * after "Open profile" (the profile, or why it was not opened) is scrolled into view and
 * focused, so that the click visibly does something and a screen reader reads it next. */
(function () {
    "use strict";

    function showProfile() {
        var box = document.getElementById("citizen360-profile");
        if (box) {
            var still = window.matchMedia &&
                window.matchMedia("(prefers-reduced-motion: reduce)").matches;
            box.focus({preventScroll: true});
            box.scrollIntoView({behavior: still ? "auto" : "smooth", block: "start"});
        }
        return Date.now();
    }

    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        citylens: Object.assign({}, (window.dash_clientside || {}).citylens, {
            showProfile: showProfile,
        }),
    });
})();
