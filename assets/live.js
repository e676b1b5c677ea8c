/* Live staff pages: while a page shows numbers, watch the store's data version and, when it
 * changed, ask Dash to redraw them (the page's data callbacks take its live store as an
 * input), so the mayor's screen follows the city without a reload. Never while someone is
 * using the page: not within 15 s of a click, key or scroll, not while a form control has
 * the focus or a menu is open, not in a hidden tab (it catches up when shown again).
 *
 * The page marks itself with one element (layouts/components.py, live_watch):
 * data-live-store (the dcc.Store id), data-live-version (the version it was drawn from)
 * and data-live-poll (seconds between checks). */
(function () {
    "use strict";

    var IDLE_MS = 15000;
    var lastInput = 0;

    ["pointerdown", "keydown", "wheel", "touchstart", "input"].forEach(function (type) {
        document.addEventListener(type, function () {
            lastInput = Date.now();
        }, {capture: true, passive: true});
    });

    function watcher() {
        return document.querySelector("[data-live-store]");
    }

    function busy() {
        if (document.hidden || Date.now() - lastInput < IDLE_MS) {
            return true;
        }
        var active = document.activeElement;
        if (active && active !== document.body && active.matches &&
                active.matches("input, select, textarea, [contenteditable], [role=combobox]")) {
            return true;
        }
        return !!document.querySelector(".dash-dropdown-content, .Select.is-open");
    }

    function check(element) {
        fetch("/api/v1/version", {cache: "no-store", credentials: "omit"}).then(function (response) {
            return response.ok ? response.json() : null;
        }).then(function (body) {
            if (!body || !body.version || !element.isConnected || busy()) {
                return;
            }
            var shown = element.getAttribute("data-live-shown") ||
                element.getAttribute("data-live-version");
            if (body.version !== shown && window.dash_clientside &&
                    window.dash_clientside.set_props) {
                element.setAttribute("data-live-shown", body.version);
                window.dash_clientside.set_props(element.getAttribute("data-live-store"),
                                                 {data: body.version});
            }
        }).catch(function () {
            /* the server is away: keep the numbers on screen, try again next time */
        });
    }

    function tick() {
        var element = watcher();
        var seconds = element ? Number(element.getAttribute("data-live-poll")) : NaN;
        window.setTimeout(tick, (isNaN(seconds) || seconds <= 0 ? 20 : seconds) * 1000);
        if (element && !busy()) {
            check(element);
        }
    }

    window.setTimeout(tick, 1000);
})();
