/* Map functions of the domain pages (layouts/domain_parts.py), referenced from Python as
 * {"variable": "dashExtensions.default.<name>"}. Colours come from the layer's hideout
 * ({colors: {state: colour}}); the state is always written in the tooltip too, so colour
 * is never the only cue. No images: markers are SVG circles, clusters CSS div icons.
 */
(function () {
    "use strict";

    var esc = window.citylens.esc;  // assets/common.js
    var hideoutOf = window.citylens.hideoutOf;

    var RADIUS = {"alert": 8, "fault": 7, "no data": 5.5, "ok": 6};

    function domainDistrictStyle(feature, context) {
        var selected = hideoutOf(context).selected;
        var id = (feature.properties || {}).id;  // selected: a district, or a municipality's
        var mine = Array.isArray(selected) ? selected.indexOf(id) >= 0 : selected && id === selected;
        return {
            fillColor: mine ? "#d7dee8" : "#e9edf2",
            fillOpacity: selected && !mine ? 0.55 : 0.9,
            color: "#ffffff",
            weight: 1.5,
            opacity: 1,
        };
    }

    function domainDistrictTip(feature, layer) {
        var props = feature.properties || {};
        layer.bindTooltip(esc(props.name || props.id), {sticky: true, className: "asset-tip"});
    }

    var STATE_WORDS = {"alert": "alert", "fault": "fault", "no data": "no data", "ok": "OK"};

    /* A cluster the server made (properties: point_count, point_count_abbreviated, states
     * {state: n}, state = the most urgent one): a numbered circle edged in that state's
     * colour; its title lists the states in words. */
    function clusterMarker(feature, latlng, context) {
        var p = feature.properties;
        var count = p.point_count;
        var colors = hideoutOf(context).colors || {};
        var size = count < 10 ? 30 : count < 100 ? 36 : count < 1000 ? 42 : 48;
        var parts = Object.keys(p.states || {}).filter(function (s) { return p.states[s]; })
            .map(function (s) { return p.states[s] + " " + (STATE_WORDS[s] || s); });
        var icon = L.divIcon({
            html: '<div style="background:#27496d;border-color:' +
                esc(colors[p.state] || "#6b7785") + '"><span>' +
                esc(p.point_count_abbreviated) + "</span></div>",
            className: "asset-cluster asset-cluster--" + esc(String(p.state).replace(" ", "-")),
            iconSize: L.point(size, size),
        });
        return L.marker(latlng, {
            icon: icon, keyboard: false,
            title: count + " assets: " + parts.join(", ") + " (click to zoom in)",
        });
    }

    function domainAssetPoint(feature, latlng, context) {
        if ((feature.properties || {}).cluster) {
            return clusterMarker(feature, latlng, context);
        }
        var state = (feature.properties || {}).state || "no data";
        var colors = hideoutOf(context).colors || {};
        var urgent = state === "alert" || state === "fault";
        return L.circleMarker(latlng, {
            radius: RADIUS[state] || 6,
            fillColor: colors[state] || "#6b7785",
            fillOpacity: 0.95,
            color: urgent ? "#111111" : "#ffffff",
            weight: urgent ? 2 : 1.5,
            opacity: 1,
        });
    }

    function domainAssetTooltip(feature, layer) {
        var p = feature.properties || {};
        if (p.cluster) {
            return;
        }
        var value = (p.value === null || p.value === undefined) ? "no value" :
            esc(p.value) + (p.unit ? " " + esc(p.unit) : "");
        layer.bindTooltip(
            "<strong>" + esc(p.name || p.id) + "</strong><br>" +
            "State: " + esc(p.state_label || p.state) + "<br>" +
            esc(p.measure || "Latest value") + ": " + value + "<br>" +
            "<span class=\"domain-tip__more\">Click to open the asset</span>",
            {className: "asset-tip", direction: "top", offset: [0, -6]}
        );
    }

    window.dashExtensions = Object.assign({}, window.dashExtensions, {
        default: Object.assign({}, (window.dashExtensions || {}).default, {
            domainDistrictStyle: domainDistrictStyle,
            domainDistrictTip: domainDistrictTip,
            domainAssetPoint: domainAssetPoint,
            domainAssetTooltip: domainAssetTooltip,
        }),
    });
})();

/* The domain map's features arrive for the view they were asked for; an answer for a view
 * the map has since left (answers can overtake each other) is not drawn. */
(function () {
    "use strict";
    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        citylens: Object.assign({}, (window.dash_clientside || {}).citylens, {
            drawMapView: function (view, bounds, zoom) {
                var keep = window.dash_clientside.no_update;
                if (!view || JSON.stringify(view.bounds) !== JSON.stringify(bounds) ||
                        view.zoom !== zoom) {
                    return [keep, keep];
                }
                return [view.data, view.note];
            },
        }),
    });
})();

