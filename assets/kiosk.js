/* The public kiosk (/kiosk): slides that rotate on their own, pause while someone touches
 * the screen, a clock, and a watch on the data version that asks Dash to redraw the slides
 * only when the city's data changed. Everything here keeps working while the server is
 * away: the last slides stay on screen with the time of their data, and the watch retries.
 *
 * Settings come from data- attributes of the .kiosk element (layouts/kiosk.py). */
(function () {
    "use strict";

    var state = {index: 0, pausedUntil: 0, held: false, version: null, lastSlide: 0,
                 failures: 0, pollTimer: null, root: null};

    function root() {
        return document.querySelector(".kiosk");
    }

    function setting(name, fallback) {
        var element = root();
        var value = element ? Number(element.getAttribute("data-" + name)) : NaN;
        return isNaN(value) || value <= 0 ? fallback : value;
    }

    function slides() {
        var element = root();
        return element ? Array.prototype.slice.call(element.querySelectorAll(".kiosk-slide")) : [];
    }

    // Whether the slide being shown is the only one marked active (and visible to all).
    function showing() {
        var all = slides();
        var current = all[state.index];
        return !all.length || (!!current && current.classList.contains("is-active") &&
            current.getAttribute("aria-hidden") === "false" &&
            all.filter(function (slide) {
                return slide.classList.contains("is-active");
            }).length === 1);
    }

    function paused() {
        return state.held || Date.now() < state.pausedUntil;
    }

    function show(index) {
        var all = slides();
        if (!all.length) {
            return;
        }
        state.index = ((index % all.length) + all.length) % all.length;
        all.forEach(function (slide, i) {
            var active = i === state.index;
            slide.classList.toggle("is-active", active);
            slide.setAttribute("aria-hidden", active ? "false" : "true");
            if ("inert" in slide) {
                slide.inert = !active;
            }
        });
        document.querySelectorAll("[data-kiosk-goto]").forEach(function (dot) {
            var mine = Number(dot.getAttribute("data-kiosk-goto")) === state.index;
            dot.classList.toggle("is-current", mine);
            if (mine) {
                dot.setAttribute("aria-current", "true");
            } else {
                dot.removeAttribute("aria-current");
            }
        });
        var element = root();
        if (element) {
            element.setAttribute("data-current", String(state.index));
            document.documentElement.lang = element.getAttribute("data-lang") || "es";
        }
        state.lastSlide = Date.now();
    }

    function drawPause() {
        var element = root();
        if (!element) {
            return;
        }
        element.classList.toggle("is-paused", paused());
        var button = element.querySelector("[data-kiosk-toggle]");
        if (button) {
            button.setAttribute("aria-pressed", state.held ? "true" : "false");
        }
    }

    function tick() {
        drawPause();
        if (paused() || !root()) {
            return;
        }
        if (Date.now() - state.lastSlide >= setting("slide-ms", 12000) - 50) {
            show(state.index + 1);
        }
    }

    function touched() {
        state.pausedUntil = Date.now() + setting("pause-ms", 60000);
        drawPause();
    }

    function clock() {
        var element = root();
        var target = element && element.querySelector(".kiosk-clock");
        if (!target) {
            return;
        }
        try {
            target.textContent = new Intl.DateTimeFormat(element.getAttribute("data-lang") || "es", {
                hour: "2-digit", minute: "2-digit",
                timeZone: element.getAttribute("data-tz") || undefined
            }).format(new Date());
        } catch (error) {
            target.textContent = "";
        }
    }

    function online(ok) {
        var element = root();
        if (element) {
            element.classList.toggle("is-offline", !ok);
        }
    }

    function schedulePoll() {
        clearTimeout(state.pollTimer);
        var base = setting("poll-ms", 30000);
        var wait = state.failures ? Math.min(base, 5000 * state.failures) : base;
        state.pollTimer = setTimeout(poll, wait);
    }

    function poll() {
        var element = root();
        if (!element) {
            schedulePoll();
            return;
        }
        fetch("/api/v1/version", {cache: "no-store", credentials: "omit"}).then(function (response) {
            return response.ok ? response.json() : Promise.reject(response.status);
        }).then(function (body) {
            state.failures = 0;
            online(true);
            var marker = element.querySelector("[data-kiosk-version]");
            var shown = (marker || element).getAttribute(marker ? "data-kiosk-version" :
                                                          "data-version");
            if (body.version && body.version !== shown && window.dash_clientside &&
                    window.dash_clientside.set_props) {
                window.dash_clientside.set_props("kiosk-version", {data: body.version});
            }
        }).catch(function () {
            state.failures += 1;
            online(false);
        }).then(schedulePoll);
    }

    document.addEventListener("pointerdown", function (event) {
        var target = event.target.closest ? event.target : null;
        if (target && target.closest(".kiosk") && !target.closest("[data-kiosk-toggle]")) {
            touched();
        }
    }, true);
    document.addEventListener("keydown", function (event) {
        if (root() && (event.key === "ArrowRight" || event.key === "ArrowLeft")) {
            touched();
            show(state.index + (event.key === "ArrowRight" ? 1 : -1));
        }
    });
    document.addEventListener("click", function (event) {
        var target = event.target.closest ? event.target.closest("[data-kiosk-goto], " +
            "[data-kiosk-step], [data-kiosk-toggle]") : null;
        if (!target) {
            return;
        }
        if (target.hasAttribute("data-kiosk-toggle")) {
            // paused (held, or by a recent touch) -> play now; playing -> hold until pressed
            state.held = !paused();
            state.pausedUntil = 0;
            drawPause();
            return;
        }
        touched();
        if (target.hasAttribute("data-kiosk-step")) {
            show(state.index + Number(target.getAttribute("data-kiosk-step")));
        } else {
            show(Number(target.getAttribute("data-kiosk-goto")));
        }
    });

    // Dash draws (and redraws, on a new data version or language) the slides: keep the
    // slide being shown, and start the clock and the watch once the kiosk is there.
    var watcher = new MutationObserver(function () {
        var element = root();
        if (element !== state.root) {
            state.root = element;
            if (element) {
                show(state.index);
                clock();
                schedulePoll();
            }
        } else if (element && !showing()) {
            // a redraw brings its first slide marked active: go back to the one on screen,
            // without restarting its time
            var last = state.lastSlide;
            show(state.index);
            state.lastSlide = last;
        }
    });
    watcher.observe(document.documentElement, {childList: true, subtree: true});
    setInterval(tick, 500);
    setInterval(clock, 15000);
    window.citylensKiosk = {state: state, show: show, poll: poll};
})();
