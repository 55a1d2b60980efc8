// The Tools view (#/tools/<tool>): Translate, Summarize and Code as tabs, each a form over its endpoint.

import { CodeTool } from "./code-tool.js";
import { SummarizeTool, TranslateTool } from "./text-tools.js";

export const TOOL_NAMES = ["translate", "summarize", "code"];

export class ToolsView {
  // hooks: {error(err), clearError()}
  constructor(root, api, hooks) {
    this.root = root;
    this.current = TOOL_NAMES[0];
    this.tools = {
      translate: new TranslateTool(root.querySelector("#panel-translate"), api, hooks),
      summarize: new SummarizeTool(root.querySelector("#panel-summarize"), api, hooks),
      code: new CodeTool(root.querySelector("#panel-code"), api, hooks),
    };
  }

  // Show one tool (the last one shown when `name` is not a tool).
  show(name) {
    if (TOOL_NAMES.includes(name)) this.current = name;
    for (const tool of TOOL_NAMES) {
      const selected = tool === this.current;
      this.root.querySelector(`#tab-${tool}`).setAttribute("aria-selected", String(selected));
      this.root.querySelector(`#panel-${tool}`).hidden = !selected;
    }
  }

  // After a language switch: language names and result labels come from the new catalog.
  relabel() {
    for (const tool of Object.values(this.tools)) tool.relabel();
  }

  focus() {
    this.root.querySelector(`#panel-${this.current} textarea`)?.focus();
  }
}
