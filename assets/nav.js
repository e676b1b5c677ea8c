/* Marks the navigation link of the page being shown (aria-current="page"), on load and
 * on every in-app navigation (Dash pages change the URL with history.pushState). */
(function () {
    "use strict";

    function trimmed(path) {
        return (path || "").replace(/\/+$/, "") || "/";
    }

    function mark() {
        var here = trimmed(window.location.pathname);
        var links = document.querySelectorAll(".nav__link");
        links.forEach(function (link) {
            var path = trimmed(link.getAttribute("href"));
            var current = path === "/" ? here === "/" :
                here === path || here.indexOf(path + "/") === 0;
            if (current) {
                link.setAttribute("aria-current", "page");
            } else {
                link.removeAttribute("aria-current");
            }
        });
        return links.length > 0;
    }

    var push = window.history.pushState;
    window.history.pushState = function () {
        var result = push.apply(this, arguments);
        mark();
        return result;
    };
    window.addEventListener("popstate", mark);
    // The header is drawn by React after load: watch until its links exist, then stop.
    var watcher = new MutationObserver(function () {
        if (mark()) {
            watcher.disconnect();
        }
    });
    watcher.observe(document.documentElement, {childList: true, subtree: true});
})();
