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
        var selected = hideout.selected;
        var dimmed = selected && props.id !== selected;  // the outline is its own layer
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

    /* Hide district labels cut by the map's edge or overlapping a bigger district's
     * label (greedy, by area); a hidden label still shows while its district is hovered. */
    function declutter(map) {
        var container = map.getContainer();
        var labels = Array.prototype.slice.call(container.querySelectorAll(".district-label"));
        labels.sort(function (a, b) {
            return (parseFloat(b.dataset.priority) || 0) - (parseFloat(a.dataset.priority) || 0);
        });
        var frame = container.getBoundingClientRect();
        var placed = [];
        labels.forEach(function (el) {
            el.classList.remove("district-label--hidden");
            var box = el.getBoundingClientRect();
            var outside = box.left < frame.left || box.right > frame.right ||
                box.top < frame.top || box.bottom > frame.bottom;
            var clash = outside || placed.some(function (o) {
                return box.left < o.right + 2 && box.right > o.left - 2 &&
                    box.top < o.bottom + 1 && box.bottom > o.top - 1;
            });
            if (clash) {
                el.classList.add("district-label--hidden");
            } else {
                placed.push(box);
            }
        });
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
        layer.on("add", function () {
            var el = layer.getElement && layer.getElement();
            if (el) {
                el.setAttribute("role", "img");
                el.setAttribute("aria-label", (props.name || "") + ": " + (props.status || ""));
            }
            var tip = layer.getTooltip && layer.getTooltip();
            var tipEl = tip && tip.getElement();
            if (tipEl && layer.getBounds) {
                var b = layer.getBounds();
                tipEl.dataset.priority = Math.abs((b.getNorth() - b.getSouth()) * (b.getEast() - b.getWest()));
            }
            scheduleDeclutter(layer._map);
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
