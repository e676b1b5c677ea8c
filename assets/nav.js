/* Marks the navigation link of the page being shown (aria-current="page"), on load and
 * on every in-app navigation (Dash pages change the URL with history.pushState).
 * Opens and closes what folds on a phone: the menu (#shell-menu, behind its "Menu"
 * button) and a page's filters (.fold, behind "Filters"); the menu closes on navigation. */
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

    function setOpen(button, target, open) {
        button.setAttribute("aria-expanded", open ? "true" : "false");
        target.classList.toggle("is-open", open);
    }

    function closeMenu() {
        var button = document.getElementById("shell-menu-toggle");
        var menu = document.getElementById("shell-menu");
        if (button && menu) {
            setOpen(button, menu, false);
        }
    }

    document.addEventListener("click", function (event) {
        var button = event.target.closest ?
            event.target.closest("#shell-menu-toggle, .fold__toggle") : null;
        if (!button) {
            return;
        }
        var target = document.getElementById(button.getAttribute("aria-controls"));
        if (target) {
            setOpen(button, target, button.getAttribute("aria-expanded") !== "true");
        }
    });
    document.addEventListener("keydown", function (event) {
        if (event.key === "Escape") {
            closeMenu();
        }
    });

    function navigated() {
        mark();
        closeMenu();
        fit();
    }

    var push = window.history.pushState;
    window.history.pushState = function () {
        var result = push.apply(this, arguments);
        navigated();
        return result;
    };
    window.addEventListener("popstate", navigated);
    // Below 1280 px the stylesheet folds the navigation behind "Menu"; above, it folds too
    // whenever the links do not fit beside the account (a long user name, more pages).
    var FOLDS_ANYWAY = window.matchMedia("(max-width: 1279px)");

    function fit() {
        var header = document.getElementById("shell-header");
        var nav = document.getElementById("shell-nav");
        if (!header || !nav) {
            return;
        }
        header.classList.remove("is-folded");
        if (!FOLDS_ANYWAY.matches && nav.scrollWidth > nav.clientWidth + 1) {
            header.classList.add("is-folded");
        }
    }

    window.addEventListener("resize", fit);
    // The header is drawn by React after load: watch until its links exist, then stop.
    var watcher = new MutationObserver(function () {
        if (mark()) {
            fit();
            watcher.disconnect();
        }
    });
    watcher.observe(document.documentElement, {childList: true, subtree: true});
})();
