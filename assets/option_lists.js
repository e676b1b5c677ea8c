/* dcc.RadioItems and dcc.Checklist (Dash 4) mark their list "listbox" and each label
 * "option" around a real radio button or checkbox (axe: "nested-interactive", WCAG 4.1.2):
 * the roles go, so that screen readers hear the native inputs, named by their labels and
 * grouped by the fieldset or label around the list. (Dropdowns keep theirs: a listbox of
 * options is what they are.) The lists render late (their
 * component loads on demand) and re-render, hence the observer. */
(function () {
    function repair() {
        document.querySelectorAll(".dash-radioitems[role], .dash-checklist[role], " +
                                  ".dash-radioitems > [role=option], " +
                                  ".dash-checklist > [role=option]")
            .forEach(function (element) {
                element.removeAttribute("role");
                element.removeAttribute("aria-selected");
            });
    }
    new MutationObserver(repair).observe(document.documentElement, {
        childList: true, subtree: true, attributes: true, attributeFilter: ["role"]});
})();
