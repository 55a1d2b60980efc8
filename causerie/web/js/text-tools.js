// The Translate and Summarize tools: forms over POST /v1/translate and /v1/summarize, streamed progress,
// the translation side by side (source | translation per segment) and the summary rendered (sanitized).

import { el } from "./dom.js";
import { language, t } from "./i18n.js";
import { copyButton, renderMarkdown } from "./markdown.js";
import { attachLanguagePicker, chosenLanguage, fillLanguages, languageName, reveal, ToolRun } from "./tool-form.js";

// "TERM=TRANSLATION" lines → {term: translation}; a line without both sides is refused by name.
export function parseGlossary(text) {
  const glossary = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    const split = line.indexOf("=");
    const term = split > 0 ? line.slice(0, split).trim() : "";
    const translation = split > 0 ? line.slice(split + 1).trim() : "";
    if (!term || !translation) throw new Error(t("tools.glossary_invalid", { line }));
    glossary[term] = translation;
  }
  return glossary;
}

// What went wrong in one segment: glossary terms not used, protected pieces (code, URLs, tags) dropped.
function segmentWarnings(segment) {
  const warnings = segment.glossary
    .filter((check) => !check.found)
    .map((check) => t("tools.glossary_missing", { source: check.source, target: check.target }));
  for (const piece of segment.missing) warnings.push(t("tools.placeholder_missing", { piece }));
  return warnings;
}

export class TranslateTool {
  // hooks: {error(err), clearError()}
  constructor(panel, api, hooks) {
    this.api = api;
    this.form = panel.querySelector("#translate-form");
    this.text = panel.querySelector("#translate-text");
    this.target = panel.querySelector("#translate-target");
    this.source = panel.querySelector("#translate-source");
    this.formality = panel.querySelector("#translate-formality");
    this.glossary = panel.querySelector("#translate-glossary");
    this.result = panel.querySelector("#translate-result");
    this.segments = this.result.querySelector(".segments");
    this.run = new ToolRun(this.form, hooks);
    this.hooks = hooks;
    this.shown = null; // {source_language, target_language, text, segments}: what the result shows
    attachLanguagePicker(this.target, language());
    attachLanguagePicker(this.source);
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
  }

  relabel() {
    fillLanguages(this.target);
    fillLanguages(this.source);
    if (this.shown) this.render();
  }

  fields() {
    return {
      text: this.text.value,
      target_language: chosenLanguage(this.target),
      source_language: chosenLanguage(this.source),
      formality: this.formality.value || undefined,
      glossary: parseGlossary(this.glossary.value),
    };
  }

  submit() {
    let fields;
    try {
      fields = this.fields();
    } catch (error) {
      this.hooks.error(error);
      this.glossary.focus();
      return;
    }
    this.run.start(async (signal) => {
      const done = new Map(); // segment index → segment, as they arrive
      this.shown = null;
      this.result.hidden = true;
      this.run.progress(t("tools.translating"));
      await this.api.translate(fields, (event) => {
        if (event.object === "translation.progress") {
          done.set(event.segment.index, event.segment);
          this.run.progress(t("tools.segments_progress", { done: event.done, total: event.total }));
          const segments = [...done.values()].sort((a, b) => a.index - b.index);
          this.shown = { source_language: fields.source_language, target_language: fields.target_language, text: null, segments };
          this.render();
        } else if (event.object === "translation") {
          this.shown = event;
          this.render();
          const count = event.segments.filter((segment) => segment.translated).length;
          this.run.progress(t("tools.translation_done", { count }));
        }
      }, signal);
    });
  }

  render() {
    const { source_language: source, target_language: target, text, segments } = this.shown;
    const meta = this.result.querySelector(".result-meta");
    meta.textContent = source
      ? t("tools.translation_meta", { source: languageName(source), target: languageName(target) })
      : languageName(target);
    const copy = this.result.querySelector(".result-copy");
    copy.replaceChildren(...(text === null ? [] : [copyButton(() => text, "tools.copy_translation")]));
    this.segments.replaceChildren(
      ...segments.filter((segment) => segment.source.trim()).map((segment) => this.segmentView(segment, source, target))
    );
    reveal(this.result);
  }

  segmentView(segment, source, target) {
    const warnings = segmentWarnings(segment);
    return el(
      "li",
      { className: segment.translated ? "segment" : "segment kept", dataset: { index: segment.index } },
      el("div", { className: "segment-source", lang: source, "aria-label": t("tools.original") }, segment.source),
      el("div", { className: "segment-translation", lang: target, "aria-label": t("tools.translation") }, segment.translation),
      warnings.length ? el("ul", { className: "segment-warnings" }, ...warnings.map((warning) => el("li", {}, warning))) : null
    );
  }
}

const STAGE_KEYS = { map: "tools.summary_reading", reduce: "tools.summary_combining", final: "tools.summary_writing" };

export class SummarizeTool {
  // hooks: {error(err), clearError()}
  constructor(panel, api, hooks) {
    this.api = api;
    this.form = panel.querySelector("#summarize-form");
    this.text = panel.querySelector("#summarize-text");
    this.length = panel.querySelector("#summarize-length");
    this.language = panel.querySelector("#summarize-language");
    this.result = panel.querySelector("#summarize-result");
    this.summary = this.result.querySelector(".summary");
    this.run = new ToolRun(this.form, hooks);
    this.shown = null; // the Summary shown
    attachLanguagePicker(this.language);
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
  }

  relabel() {
    fillLanguages(this.language);
    if (this.shown) this.render();
  }

  submit() {
    const fields = { text: this.text.value, length: this.length.value, language: chosenLanguage(this.language) };
    this.run.start(async (signal) => {
      this.shown = null;
      this.result.hidden = true;
      this.run.progress(t("tools.summarizing"));
      await this.api.summarize(fields, (event) => {
        if (event.object === "summary.progress") {
          this.run.progress(t(STAGE_KEYS[event.stage], { done: event.done, total: event.total }));
        } else if (event.object === "summary") {
          this.shown = event;
          this.render();
          this.run.progress(t("tools.summary_done"));
        }
      }, signal);
    });
  }

  render() {
    const { summary, language: written, chunks } = this.shown;
    renderMarkdown(this.summary, summary);
    if (written) this.summary.lang = written;
    const meta = this.result.querySelector(".result-meta");
    meta.textContent = [written && languageName(written), t("tools.summary_chunks", { chunks })].filter(Boolean).join(" · ");
    this.result.querySelector(".result-copy").replaceChildren(copyButton(() => summary, "message.copy"));
    reveal(this.result);
  }
}
