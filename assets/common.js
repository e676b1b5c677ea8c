/* Helpers the other CityLens scripts share (Dash loads assets in alphabetical order, so
 * this one comes before domain.js and map.js): window.citylens.esc / .hideoutOf. */
(function () {
    "use strict";

    /* Text made safe to put into HTML (tooltips and labels are HTML strings). */
    function esc(value) {
        return String(value === null || value === undefined ? "" : value)
            .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
            .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
    }

    /* The `hideout` prop dash-leaflet passes as the last argument (`context`). */
    function hideoutOf(context) {
        return (context && context.hideout) || {};
    }

    window.citylens = Object.assign({}, window.citylens, {esc: esc, hideoutOf: hideoutOf});
})();
