// The Code tool: generate, fix or optimize over POST /v1/code/<mode>. Shows the final code highlighted,
// every attempt with what its sandboxed run printed and its exit status (as text, never as HTML), and for
// optimize the measured speedup.

import { el } from "./dom.js";
import { language, t } from "./i18n.js";
import { renderCode } from "./markdown.js";
import { reveal, ToolRun } from "./tool-form.js";

const LANGUAGE = "python";

// How one sandboxed run ended, in words: exit status, signal, or the limit that stopped it.
function runStatus(run) {
  if (run.stopped) return t("tools.run_stopped", { limit: run.stopped });
  if (run.exit_code === null) return t("tools.run_signal", { signal: run.signal ?? "" });
  return t("tools.exit_status", { code: run.exit_code });
}

// A duration in the interface's language, in µs, ms or s as fits ("12 µs", "3.4 ms", "1.2 s").
function duration(seconds) {
  const [unit, value] = seconds < 1e-3 ? ["microsecond", seconds * 1e6] : seconds < 1 ? ["millisecond", seconds * 1e3] : ["second", seconds];
  return new Intl.NumberFormat(language(), { style: "unit", unit, maximumSignificantDigits: 3 }).format(value);
}

function output(labelKey, text) {
  if (!text) return null;
  return el("div", { className: "run-output" }, el("span", { className: "muted" }, t(labelKey)), el("pre", {}, text));
}

function lines(text) {
  return text.split("\n").map((line) => line.trim()).filter(Boolean);
}

export class CodeTool {
  // hooks: {error(err), clearError()}
  constructor(panel, api, hooks) {
    this.api = api;
    this.panel = panel;
    this.form = panel.querySelector("#code-form");
    this.result = panel.querySelector("#code-result");
    this.run = new ToolRun(this.form, hooks);
    this.hooks = hooks;
    this.shown = null; // {mode, result}
    for (const radio of this.form.querySelectorAll("input[name=code-mode]")) radio.addEventListener("change", () => this.syncMode());
    this.syncMode();
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
  }

  mode() {
    return this.form.querySelector("input[name=code-mode]:checked").value;
  }

  // Show the fields of the chosen mode; the description (generate) or the code (fix, optimize) is required.
  syncMode() {
    const mode = this.mode();
    for (const group of this.form.querySelectorAll("[data-modes]")) group.hidden = !group.dataset.modes.split(" ").includes(mode);
    this.form.querySelector("#code-description").required = mode === "generate";
    this.form.querySelector("#code-source").required = mode !== "generate";
  }

  relabel() {
    if (this.shown) this.render();
  }

  fields(mode) {
    const value = (id) => this.form.querySelector(id).value;
    const optional = (id) => value(id).trim() || undefined;
    const fields = { language: LANGUAGE, tests: optional("#code-tests") };
    if (mode === "generate") return { ...fields, description: value("#code-description") };
    if (mode === "fix") return { ...fields, code: value("#code-source"), error: optional("#code-error") };
    return { ...fields, code: value("#code-source"), inputs: lines(value("#code-inputs")) };
  }

  submit() {
    const mode = this.mode();
    const fields = this.fields(mode);
    this.run.start(async (signal) => {
      this.shown = null;
      this.result.hidden = true;
      this.run.progress(t("tools.code_running"));
      try {
        this.shown = { mode, result: await this.api.code(mode, fields, signal) };
      } catch (error) {
        if (error.code === "sandbox_unavailable") throw new Error(t("tools.sandbox_unavailable", { detail: error.message }));
        throw error;
      }
      this.run.progress("");
      this.render();
    });
  }

  render() {
    const { mode, result } = this.shown;
    const verdict = this.result.querySelector(".code-verdict");
    const ok = mode === "optimize" ? result.accepted : result.passed;
    verdict.className = `code-verdict ${ok ? "passed" : "failed"}`;
    verdict.textContent = mode === "optimize" ? this.optimizeVerdict(result) : this.verdict(result);
    renderCode(this.result.querySelector(".final-code"), result.code, result.language);
    const attempts = mode === "optimize" ? this.optimizeAttempts(result) : this.attempts(result);
    this.result.querySelector(".attempts").replaceChildren(...attempts);
    reveal(this.result);
  }

  verdict(result) {
    if (result.passed) return t(result.checked_by === "tests" ? "tools.passed_tests" : "tools.passed_run");
    return t("tools.not_passed", { count: result.attempts.length });
  }

  optimizeVerdict(result) {
    if (!result.accepted) return t("tools.optimize_rejected");
    if (result.speedup === null || result.speedup === undefined) return t("tools.optimize_accepted");
    const figures = { ratio: result.speedup.toFixed(2), before: duration(result.original.seconds), after: duration(result.optimized.seconds) };
    return t(result.speedup >= 1 ? "tools.speedup" : "tools.not_faster", figures);
  }

  // generate / fix: the code as given (fix), then each of the model's attempts.
  attempts(result) {
    const all = [...(result.original ? [result.original] : []), ...result.attempts];
    return all.map((attempt, position) =>
      this.attemptView({
        title: attempt.attempt === 0 ? t("tools.attempt_original") : t("tools.attempt", { number: attempt.attempt }),
        ok: attempt.passed,
        code: attempt.code,
        problem: attempt.syntax_error ? t("tools.syntax_error", { detail: attempt.syntax_error }) : null,
        run: attempt.run,
        stdout: attempt.run?.stdout,
        open: position === all.length - 1,
      })
    );
  }

  optimizeAttempts(result) {
    // A measurement's stdout is the harness's report: its results (repr of each input) are shown instead.
    const measured = (measurement) => ({
      code: measurement.code,
      run: measurement.run,
      stdout: measurement.outputs.join("\n"),
      stdoutKey: "tools.results",
      seconds: measurement.seconds,
    });
    const original = { title: t("tools.attempt_original"), ok: result.original.tests_passed !== false,
                       problem: result.original.error, ...measured(result.original), open: false };
    const attempts = result.attempts.map((attempt, position) => ({
      title: t("tools.attempt", { number: attempt.attempt }),
      ok: attempt.accepted,
      problem: attempt.syntax_error ? t("tools.syntax_error", { detail: attempt.syntax_error }) : attempt.reason,
      ...(attempt.measurement ? measured(attempt.measurement) : {}),
      open: position === result.attempts.length - 1,
    }));
    return [original, ...attempts].map((attempt) => this.attemptView(attempt));
  }

  // One attempt: a summary line (title, verdict, exit status) that opens onto its code and its output.
  attemptView({ title, ok, code, problem, run, stdout, stdoutKey = "tools.stdout", seconds, open }) {
    const facts = [run ? runStatus(run) : t("tools.not_run")];
    if (seconds !== null && seconds !== undefined) facts.push(duration(seconds));
    const summary = el(
      "summary",
      {},
      el("span", { className: "attempt-title" }, title),
      el("span", { className: `attempt-verdict ${ok ? "passed" : "failed"}` }, t(ok ? "tools.ok" : "tools.failed")),
      el("span", { className: "attempt-status" }, facts.join(" · "))
    );
    return el(
      "li",
      { className: "attempt", dataset: run ? { exitCode: run.exit_code ?? "" } : {} },
      el(
        "details",
        { open },
        summary,
        problem ? el("p", { className: "attempt-problem" }, problem) : null,
        code ? output("tools.attempt_code", code) : null,
        output(stdoutKey, stdout),
        run ? output("tools.stderr", run.stderr) : null,
        run?.truncated ? el("p", { className: "muted" }, t("tools.truncated")) : null
      )
    );
  }
}
