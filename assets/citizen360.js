/* Citizen 360 (layouts/citizen360.py, callbacks/citizen360.py): what the profile box shows
 * after "Open profile" (the profile, or why it was not opened) is scrolled into view and
 * focused, so that the click visibly does something and a screen reader reads it next.
 * Going back (browser Back) to the page's URL without ?resident= closes the profile. */
(function () {
    "use strict";

    function showProfile(children) {
        var box = document.getElementById("citizen360-profile");
        if (box && children) {
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
            /* The profile box and the opened id for the URL's query: kept while it names
             * a resident, emptied when it no longer does (nothing is read either way). */
            profileForUrl: function (search) {
                var nothing = window.dash_clientside.no_update;
                if (/[?&]resident=/.test(search || "")) {
                    return [nothing, nothing];
                }
                return [null, null];
            },
        }),
    });
})();
