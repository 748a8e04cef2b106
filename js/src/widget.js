// The one bundle both widgets load: it draws the widget the kernel names in config.widget.
// anywidget loads widget.css beside it (the `_css` trait), so no style is inlined here.
import { mount } from "./session.js";
import { annotator } from "./annotate.js";
import { comparer } from "./compare.js";

export const WIDGETS = { annotate: annotator, compare: comparer };

function render({ model, el }) {
  const name = (model.get("config") || {}).widget;
  const define = WIDGETS[name];
  if (!define) {
    el.textContent = `hl_notebook: this front end has no widget ${JSON.stringify(name)}; rebuild it (cd js && npm run build).`;
    return undefined;
  }
  return mount({ model, el }, define);
}

export default { render };
