/* AG Grid cell renderers for CityLens (dash-ag-grid looks them up by name).
 * CityLensLink: the cell's text as a link to the URL in another field of the row,
 * navigating inside the Dash app (no reload), as dcc.Link does. React escapes the text. */
(function () {
    "use strict";
    var funcs = (window.dashAgGridComponentFunctions = window.dashAgGridComponentFunctions || {});

    funcs.CityLensLink = function (props) {
        var field = (props.colDef.cellRendererParams || {}).hrefField || "href";
        var href = props.data ? props.data[field] : null;
        if (!href) {
            return props.value === null || props.value === undefined ? "" : String(props.value);
        }
        return React.createElement("a", {
            href: href,
            className: "grid-link",
            onClick: function (event) {
                if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) {
                    return;  // new tab / window: let the browser do it
                }
                event.preventDefault();
                window.history.pushState({}, "", href);
                window.dispatchEvent(new CustomEvent("_dashprivate_pushstate"));
                window.scrollTo(0, 0);
            },
        }, props.value === null || props.value === undefined ? "" : String(props.value));
    };
})();

/* Clientside callbacks shared by the pages' grids (callbacks/common.py). */
(function () {
    "use strict";
    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        citylens: Object.assign({}, (window.dash_clientside || {}).citylens, {
            quickFilter: function (text, options) {
                return Object.assign({}, options || {}, {quickFilterText: text || ""});
            },
            exportGrid: function (clicks) {
                return Boolean(clicks);
            },
            /* A grid paged from the server (infinite row model) asks again for its rows
             * when its search or filters change, or the data did (the last argument is
             * the grid's id). */
            refreshPagedGrid: function () {
                var gridId = arguments[arguments.length - 1];
                if (window.dash_ag_grid && window.dash_ag_grid.getApiAsync) {
                    window.dash_ag_grid.getApiAsync(gridId).then(function (api) {
                        api.purgeInfiniteCache();
                    }).catch(function () { /* the grid is not on the page */ });
                }
                return window.dash_clientside.no_update;
            },
        }),
    });
})();
