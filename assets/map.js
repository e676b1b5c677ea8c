/* CityLens map functions for dash-leaflet (referenced from Python as
 * {"variable": "dashExtensions.default.<name>"}). dash-leaflet passes its props
 * (with `hideout`) as the last argument, called `context` here.
 * No images are used: markers are SVG circles and clusters are CSS div icons,
 * so the map works offline.
 */
(function () {
    "use strict";

    var esc = window.citylens.esc;  // assets/common.js
    var hideoutOf = window.citylens.hideoutOf;

    /* Fill colour of a district from its score and the class bounds in the hideout
     * (bounds are descending lower limits; colors has one more entry than bounds). */
    function scoreColour(score, hideout) {
        var bounds = hideout.bounds || [];
        var colors = hideout.colors || [];
        if (score === null || score === undefined || isNaN(score)) {
            return hideout.noData || "#c9cfd6";
        }
        for (var i = 0; i < bounds.length; i++) {
            if (score >= bounds[i]) {
                return colors[i];
            }
        }
        return colors[colors.length - 1] || "#c8312b";
    }

    function districtStyle(feature, context) {
        var hideout = hideoutOf(context);
        var props = feature.properties || {};
        var selected = hideout.selected;  // a district id, or a municipality's ids
        var dimmed = Array.isArray(selected) ? selected.indexOf(props.id) < 0
            : (selected && props.id !== selected);  // the outline is its own layer
        return {
            fillColor: scoreColour(props.score, hideout),
            fillOpacity: dimmed ? 0.35 : 0.75,
            color: "#ffffff",
            weight: 1.5,
            opacity: 1,
        };
    }

    function districtHover(feature, context) {
        return {weight: 3, color: "#10253f", fillOpacity: 0.8};
    }

    /* District labels are placed, not just hidden, so that every district keeps one:
     * each label starts at its district's pole of inaccessibility (`label_at`, from the
     * server; Leaflet's centroid otherwise) and, where it would overlap a label already
     * placed or a map control or be cut by the map's edge, moves to another point inside
     * its district, the nearest first; if none fits, it tries again with its name alone
     * (the value shows on hover), then just outside its district with a leader line, and
     * only then hides (it still shows on hover). When that hides some, every label is
     * tried with its name alone, and the placement that hides fewer is kept, with values
     * given back where they fit. */
    var LABEL_ROUNDS = 12;
    var LABEL_GAP_X = 2;
    var LABEL_GAP_Y = 1;

    function ringsOf(layer, map) {
        var rings = [];
        (function walk(latlngs) {
            if (!latlngs || !latlngs.length) {
                return;
            }
            if (typeof latlngs[0].lat === "number") {
                rings.push(latlngs.map(function (ll) { return map.latLngToContainerPoint(ll); }));
            } else {
                latlngs.forEach(walk);
            }
        })(layer.getLatLngs ? layer.getLatLngs() : []);
        return rings;
    }

    /* Even-odd rule over every ring: holes and multipolygons alike. */
    function insideRings(x, y, rings) {
        var inside = false;
        rings.forEach(function (ring) {
            for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
                var a = ring[i], b = ring[j];
                if ((a.y > y) !== (b.y > y) && x < (b.x - a.x) * (y - a.y) / (b.y - a.y) + a.x) {
                    inside = !inside;
                }
            }
        });
        return inside;
    }

    function segmentDistance2(p, a, b) {
        var dx = b.x - a.x, dy = b.y - a.y;
        var t = dx || dy ? ((p.x - a.x) * dx + (p.y - a.y) * dy) / (dx * dx + dy * dy) : 0;
        t = Math.max(0, Math.min(1, t));
        var x = a.x + t * dx - p.x, y = a.y + t * dy - p.y;
        return x * x + y * y;
    }

    function edgeDistance2(p, rings) {
        var best = Infinity;
        rings.forEach(function (ring) {
            for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
                best = Math.min(best, segmentDistance2(p, ring[i], ring[j]));
            }
        });
        return best;
    }

    /* Where a label may be centred, best first: its home, then points of a grid inside its
     * district (within the map), nearest the home first; and, for a label that fits
     * nowhere inside, points just outside the district (within LABEL_REACH px of it),
     * where it is drawn with a leader line to its home. */
    var LABEL_REACH = 90;
    var LEADER_DEPTH = 5;  // px: a leader starts at least this far inside its district

    function labelAnchors(rings, home, size) {
        var minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
        rings.forEach(function (ring) {
            ring.forEach(function (p) {
                minX = Math.min(minX, p.x); maxX = Math.max(maxX, p.x);
                minY = Math.min(minY, p.y); maxY = Math.max(maxY, p.y);
            });
        });
        minX = Math.max(minX - LABEL_REACH, 0); minY = Math.max(minY - LABEL_REACH, 0);
        maxX = Math.min(maxX + LABEL_REACH, size.x); maxY = Math.min(maxY + LABEL_REACH, size.y);
        var inside = [], near = [];
        if (maxX > minX && maxY > minY) {
            var step = Math.max(4, Math.sqrt((maxX - minX) * (maxY - minY) / 2500));
            for (var x = minX + step / 2; x < maxX; x += step) {
                for (var y = minY + step / 2; y < maxY; y += step) {
                    var p = {x: x, y: y, d: (x - home.x) * (x - home.x) + (y - home.y) * (y - home.y)};
                    if (insideRings(x, y, rings)) {
                        p.deep = edgeDistance2(p, rings) >= LEADER_DEPTH * LEADER_DEPTH;
                        inside.push(p);
                    } else if (edgeDistance2(p, rings) <= LABEL_REACH * LABEL_REACH) {
                        p.leader = true;
                        near.push(p);
                    }
                }
            }
        }
        var nearest = function (a, b) { return a.d - b.d; };
        home.deep = true;
        return {inside: [home].concat(inside.sort(nearest)), near: near.sort(nearest)};
    }

    function boxAt(p, dims) {
        return {left: p.x - dims.w / 2, right: p.x + dims.w / 2,
                top: p.y - dims.h / 2, bottom: p.y + dims.h / 2};
    }

    function fits(box, taken, size) {
        if (box.left < 0 || box.top < 0 || box.right > size.x || box.bottom > size.y) {
            return false;
        }
        return !taken.some(function (o) {
            return box.left < o.right + LABEL_GAP_X && box.right > o.left - LABEL_GAP_X &&
                box.top < o.bottom + LABEL_GAP_Y && box.bottom > o.top - LABEL_GAP_Y;
        });
    }

    /* The first place for one label among `taken` boxes: inside its district, in each of
     * `variants` in turn, then the same just outside (null when none fits). */
    function placeLabel(entry, taken, size, variants) {
        var tries = [];
        ["inside", "near"].forEach(function (where) {
            variants.forEach(function (variant) {
                tries.push([variant, entry.anchors[where]]);
            });
        });
        for (var t = 0; t < tries.length; t++) {
            var dims = entry[tries[t][0]], anchors = tries[t][1];
            for (var i = 0; i < anchors.length; i++) {
                var box = boxAt(anchors[i], dims);
                if (!fits(box, taken, size)) {
                    continue;
                }
                var leader = anchors[i].leader ? leaderBoxes(leaderStart(entry, anchors[i]), box) : [];
                if (leader.some(function (dot) { return !fits(dot, taken, size); })) {
                    continue;  // its leader would run under another label
                }
                return {entry: entry, at: anchors[i], box: box, boxes: [box].concat(leader),
                        variant: tries[t][0]};
            }
        }
        return null;
    }

    /* One greedy pass in the given order. */
    function placeLabels(entries, obstacles, size, variants) {
        var taken = obstacles.slice();
        return entries.map(function (entry) {
            var placed = placeLabel(entry, taken, size, variants);
            if (!placed) {
                return {entry: entry, at: null, boxes: [], variant: "hidden"};
            }
            taken.push.apply(taken, placed.boxes);
            return placed;
        });
    }

    /* Give back their values to the labels shortened to their names, one by one, where
     * the full label still fits among all the others. */
    function restoreValues(placements, obstacles, size) {
        placements.forEach(function (p, index) {
            if (p.variant !== "short") {
                return;
            }
            var taken = obstacles.slice();
            placements.forEach(function (other, j) {
                if (j !== index) {
                    taken.push.apply(taken, other.boxes);
                }
            });
            var full = placeLabel(p.entry, taken, size, ["full"]);
            if (full && cost([full]) <= cost([p])) {
                placements[index] = full;
            }
        });
        return placements;
    }

    function cost(placements) {
        return placements.reduce(function (sum, p) {
            return sum + (p.variant === "hidden" ? 1000 : 0) + (p.variant === "short" ? 1 : 0) +
                (p.at && p.at.leader ? 10 : 0);
        }, 0);
    }

    /* The best of a few greedy passes: the most constrained labels (smallest districts)
     * first, then, while some label fares badly, the worst-faring first and the others
     * shuffled (with a fixed seed: the same map always gets the same labels). */
    function searchLabels(entries, obstacles, size, variants) {
        var order = entries.slice().sort(function (a, b) { return a.area - b.area; });
        var best = placeLabels(order, obstacles, size, variants);
        var seed = 17;
        for (var round = 0; round < LABEL_ROUNDS && cost(best) > 0; round++) {
            var rest = best.filter(function (p) { return cost([p]) === 0; });
            for (var i = rest.length - 1; i > 0; i--) {
                seed = (seed * 1103515245 + 12345) % 2147483648;
                var j = seed % (i + 1), swap = rest[i];
                rest[i] = rest[j];
                rest[j] = swap;
            }
            var worst = best.filter(function (p) { return cost([p]) > 0; })
                .sort(function (a, b) { return cost([b]) - cost([a]); });
            var trial = placeLabels(worst.concat(rest).map(function (p) { return p.entry; }),
                                    obstacles, size, variants);
            if (cost(trial) < cost(best)) {
                best = trial;
            }
        }
        return best;
    }

    function declutter(map) {
        var container = map.getContainer();
        var frame = container.getBoundingClientRect();
        var size = map.getSize();
        var obstacles = Array.prototype.map.call(
            container.querySelectorAll(".leaflet-control"), function (control) {
                var r = control.getBoundingClientRect();
                return {left: r.left - frame.left, right: r.right - frame.left,
                        top: r.top - frame.top, bottom: r.bottom - frame.top};
            });
        var entries = [];
        (map._citylensLabels || []).forEach(function (layer) {
            var tip = layer.getTooltip && layer.getTooltip();
            var el = tip && tip.getElement();
            if (!el || layer._map !== map) {
                return;
            }
            el.classList.remove("district-label--hidden");
            el.classList.add("district-label--short");
            var short = {w: el.offsetWidth, h: el.offsetHeight};
            el.classList.remove("district-label--short");
            var full = {w: el.offsetWidth, h: el.offsetHeight};
            var rings = ringsOf(layer, map);
            var home = map.latLngToContainerPoint(layer._citylensHome || layer.getCenter());
            var b = layer.getBounds();
            entries.push({layer: layer, tip: tip, el: el, full: full, short: short,
                          area: Math.abs((b.getNorth() - b.getSouth()) * (b.getEast() - b.getWest())),
                          anchors: labelAnchors(rings, home, size)});
        });
        var best = searchLabels(entries, obstacles, size, ["full", "short"]);
        if (best.some(function (p) { return p.variant === "hidden"; })) {
            var names = searchLabels(entries, obstacles, size, ["short"]);
            if (cost(names) < cost(best)) {
                best = restoreValues(names, obstacles, size);  // every name shown
            }
        }
        if (map._citylensLeaders) {
            map._citylensLeaders.clearLayers();
        }
        best.forEach(function (p) {
            var entry = p.entry;
            entry.el.classList.toggle("district-label--short", p.variant === "short");
            entry.el.classList.toggle("district-label--hidden", p.variant === "hidden");
            entry.tip.setLatLng(p.at ? map.containerPointToLatLng(L.point(p.at.x, p.at.y))
                                     : (entry.layer._citylensHome || entry.layer.getCenter()));
            if (p.at && p.at.leader) {
                drawLeader(map, leaderStart(entry, p.at), p.box);
            }
        });
        container.dataset.labelsPlaced = String(best.length);  // for tests: placement done
    }

    /* Where the leader line of a label centred at `at` (outside its district) starts: the
     * point of its district nearest `at` that is well inside it (else its home). */
    function leaderStart(entry, at) {
        if (!at.from) {
            var best = entry.anchors.inside[0], bestD = Infinity;
            entry.anchors.inside.forEach(function (p) {
                var d = (p.x - at.x) * (p.x - at.x) + (p.y - at.y) * (p.y - at.y);
                if (p.deep && d < bestD) {
                    best = p;
                    bestD = d;
                }
            });
            at.from = L.point(best.x, best.y);
        }
        return at.from;
    }

    /* Where a leader line ends: the point of the label's box nearest its start. */
    function leaderEnd(home, box) {
        return L.point(Math.max(box.left, Math.min(home.x, box.right)),
                       Math.max(box.top, Math.min(home.y, box.bottom)));
    }

    /* The room a leader line takes, as small boxes every few pixels along it (so that no
     * other label is put over it, nor it under one). */
    function leaderBoxes(home, box) {
        var end = leaderEnd(home, box);
        var length = home.distanceTo ? home.distanceTo(end) : Math.hypot(end.x - home.x, end.y - home.y);
        var dots = [];
        for (var d = 0; d < length - 2; d += 3) {
            var x = home.x + (end.x - home.x) * d / length, y = home.y + (end.y - home.y) * d / length;
            dots.push({left: x - 1, right: x + 1, top: y - 1, bottom: y + 1});
        }
        return dots;
    }

    /* A thin line from a district's home point to the nearest point of its label's box. */
    function drawLeader(map, home, box) {
        if (!map._citylensLeaders) {
            map._citylensLeaders = L.layerGroup().addTo(map);
        }
        var end = leaderEnd(home, box);
        var style = {color: "#10253f", weight: 1.2, opacity: 0.9, interactive: false,
                     className: "district-label__leader"};
        L.polyline([map.containerPointToLatLng(home), map.containerPointToLatLng(end)], style)
            .addTo(map._citylensLeaders);
        L.circleMarker(map.containerPointToLatLng(home),
                       Object.assign({radius: 2.5, fillColor: "#10253f", fillOpacity: 1}, style))
            .addTo(map._citylensLeaders);
    }

    function scheduleDeclutter(map) {
        if (!map) {
            return;
        }
        clearTimeout(map._citylensDeclutter);
        map._citylensDeclutter = setTimeout(function () { declutter(map); }, 30);
        if (!map._citylensDeclutterBound) {
            map._citylensDeclutterBound = true;
            map.on("zoomend moveend resize", function () { scheduleDeclutter(map); });
        }
    }

    function districtLabel(feature, layer, context) {
        var props = feature.properties || {};
        if (props.label) {
            layer.bindTooltip(props.label, {
                permanent: true, direction: "center", className: "district-label",
                opacity: 1, interactive: false,
            });
        }
        if (props.label_at && props.label_at.length === 2) {
            layer._citylensHome = L.latLng(props.label_at[0], props.label_at[1]);
        }
        layer.on("add", function () {
            var el = layer.getElement && layer.getElement();
            if (el) {
                el.setAttribute("role", "img");
                el.setAttribute("aria-label", (props.name || "") + ": " + (props.status || ""));
            }
            var map = layer._map;
            if (map && props.label) {
                map._citylensLabels = (map._citylensLabels || []).filter(function (other) {
                    return other._map === map && other !== layer;
                }).concat([layer]);
            }
            scheduleDeclutter(map);
        });
        layer.on("mouseover", function () {
            var tip = layer.getTooltip && layer.getTooltip();
            var tipEl = tip && tip.getElement();
            if (tipEl) { tipEl.classList.add("district-label--hover"); }
        });
        layer.on("mouseout", function () {
            var tip = layer.getTooltip && layer.getTooltip();
            var tipEl = tip && tip.getElement();
            if (tipEl) { tipEl.classList.remove("district-label--hover"); }
        });
    }

    function isHealthy(feature) {
        var status = (feature.properties || {}).status;
        return !status || status === "ok" || status === "active";
    }

    /* Stroke of an asset circle: white when healthy, dark and thicker when not. */
    function assetStyle(feature, context) {
        var healthy = isHealthy(feature);
        return {
            fillColor: hideoutOf(context).color || "#455a64",
            fillOpacity: 0.95,
            color: healthy ? "#ffffff" : "#111111",
            weight: healthy ? 1.5 : 2.5,
            opacity: 1,
        };
    }

    function assetPoint(feature, latlng, context) {
        var options = assetStyle(feature, context);
        options.radius = isHealthy(feature) ? 6 : 7;
        return L.circleMarker(latlng, options);
    }

    function assetCluster(feature, latlng, index, context) {
        var hideout = hideoutOf(context);
        var count = feature.properties.point_count;
        var size = count < 10 ? 30 : count < 100 ? 36 : count < 1000 ? 42 : 48;
        var icon = L.divIcon({
            html: '<div style="background:' + esc(hideout.color || "#455a64") + '"><span>' +
                esc(feature.properties.point_count_abbreviated) + "</span></div>",
            className: "asset-cluster",
            iconSize: L.point(size, size),
        });
        return L.marker(latlng, {
            icon: icon,
            title: count + " " + (hideout.label || "assets") + " (click to zoom in)",
            keyboard: false,
        });
    }

    function assetTooltip(feature, layer, context) {
        var props = feature.properties || {};
        if (props.cluster) {
            return;
        }
        layer.bindTooltip(
            "<strong>" + esc(props.name || props.id) + "</strong><br>" +
            esc(props.type) + " · " + esc(props.status || "unknown"),
            {className: "asset-tip", direction: "top", offset: [0, -6]}
        );
    }

    window.dashExtensions = Object.assign({}, window.dashExtensions, {
        default: Object.assign({}, (window.dashExtensions || {}).default, {
            districtStyle: districtStyle,
            districtHover: districtHover,
            districtLabel: districtLabel,
            assetPoint: assetPoint,
            assetStyle: assetStyle,
            assetCluster: assetCluster,
            assetTooltip: assetTooltip,
        }),
    });
})();
