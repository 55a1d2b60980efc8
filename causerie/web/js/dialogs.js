// Modal dialogs built on <dialog>: ask for a text (rename) or a confirmation (delete), translated.

import { el } from "./dom.js";
import { t } from "./i18n.js";

// Confirm is the form's only submit button, so Enter in the text field confirms (not cancels).
function modal(titleText, body, confirmKey) {
  const title = el("h2", { id: "modal-title" }, titleText);
  const cancel = el("button", { type: "button", className: "secondary" }, t("dialog.cancel"));
  const confirm = el("button", { type: "submit", value: "confirm", className: "primary" }, t(confirmKey));
  const form = el("form", { method: "dialog" }, title, body, el("div", { className: "dialog-actions" }, cancel, confirm));
  const dialog = el("dialog", { className: "modal", "aria-labelledby": "modal-title" }, form);
  cancel.addEventListener("click", () => dialog.close("cancel"));
  document.body.append(dialog);
  return dialog;
}

function result(dialog, read) {
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "confirm" ? read() : null);
      dialog.remove();
    });
    dialog.showModal();
  });
}

// Resolves to the entered text, or null when cancelled.
export function askText(titleText, labelText, initial) {
  const input = el("input", { type: "text", id: "modal-input", required: true, maxlength: "200", autocomplete: "off" });
  input.value = initial;
  const body = el("p", {}, el("label", { for: "modal-input" }, labelText), input);
  const dialog = modal(titleText, body, "dialog.save");
  const answer = result(dialog, () => input.value.trim() || null);
  input.select();
  return answer;
}

// Resolves to true when confirmed.
export async function confirmAction(titleText, messageText, confirmKey) {
  const dialog = modal(titleText, el("p", {}, messageText), confirmKey);
  return (await result(dialog, () => true)) === true;
}
