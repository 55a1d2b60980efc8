// What the tool forms share: language pickers (common languages + any code), and one run at a time with
// its progress line, a stop button and errors sent to the banner.

import { el } from "./dom.js";
import { language, t } from "./i18n.js";

// The languages offered first; any other ISO 639-1 code or name can be typed after choosing "Other".
export const COMMON_LANGUAGES = ["en", "fr", "ja", "es", "de", "it", "pt", "nl", "zh", "ko", "ru", "ar", "hi", "pl", "tr", "uk", "vi"];
const FIRST_OPTION = { auto: "tools.language_auto", document: "tools.language_document" };
const OTHER = "other";

// A language's name in the interface's language ("fr" → "French" / "français" / "フランス語").
export function languageName(code) {
  try {
    return new Intl.DisplayNames([language()], { type: "language" }).of(code) || code;
  } catch {
    return code;
  }
}

function otherInput(select) {
  return document.getElementById(select.dataset.other);
}

// Fill a <select class="language-options"> (again after a language switch), keeping its choice.
// data-first="auto|document" adds that first option; data-other names the free-code input.
export function fillLanguages(select, initial) {
  const chosen = select.value || initial;
  const options = [];
  if (select.dataset.first) options.push(el("option", { value: "" }, t(FIRST_OPTION[select.dataset.first])));
  for (const code of COMMON_LANGUAGES) options.push(el("option", { value: code, lang: code }, languageName(code)));
  options.push(el("option", { value: OTHER }, t("tools.language_other")));
  select.replaceChildren(...options);
  select.value = chosen && [...select.options].some((option) => option.value === chosen) ? chosen : select.options[0].value;
  syncOther(select);
}

function syncOther(select) {
  const input = otherInput(select);
  input.hidden = select.value !== OTHER;
  input.required = !input.hidden;
}

export function attachLanguagePicker(select, initial) {
  fillLanguages(select, initial);
  select.addEventListener("change", () => {
    syncOther(select);
    if (select.value === OTHER) otherInput(select).focus();
  });
}

// The chosen code, or undefined for the first option (detect / same as the text).
export function chosenLanguage(select) {
  if (select.value === OTHER) return otherInput(select).value.trim() || undefined;
  return select.value || undefined;
}

// Show a result section; the first time in a run, bring it into view (on a phone it is below the form).
export function reveal(section) {
  if (!section.hidden) return;
  section.hidden = false;
  section.scrollIntoView({ block: "start" });
}

// One run at a time per form: disables its submit button, shows its stop button (if any) and progress line.
export class ToolRun {
  // hooks: {error(err), clearError()}
  constructor(form, hooks) {
    this.hooks = hooks;
    this.submitButton = form.querySelector("button[type=submit]");
    this.stopButton = form.querySelector(".stop-tool");
    this.status = form.querySelector(".tool-progress");
    this.controller = null;
    this.stopButton?.addEventListener("click", () => this.controller?.abort());
  }

  get busy() {
    return this.controller !== null;
  }

  progress(text) {
    this.status.textContent = text;
  }

  // task(signal) does the work; errors go to the banner, a stop is reported on the progress line.
  async start(task) {
    if (this.busy) return;
    this.controller = new AbortController();
    this.submitButton.disabled = true;
    if (this.stopButton) this.stopButton.hidden = false;
    this.hooks.clearError();
    try {
      await task(this.controller.signal);
    } catch (error) {
      if (error.name === "AbortError") {
        this.progress(t("tools.stopped"));
      } else {
        this.progress("");
        this.hooks.error(error);
      }
    } finally {
      this.controller = null;
      this.submitButton.disabled = false;
      if (this.stopButton) this.stopButton.hidden = true;
    }
  }
}
