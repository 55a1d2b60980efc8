// Preferences kept in this browser (localStorage): the API key and the last model used.

const KEY = "causerie.apiKey";
const MODEL = "causerie.model";

export const prefs = {
  apiKey: () => localStorage.getItem(KEY) || "",
  setApiKey(value) {
    if (value) localStorage.setItem(KEY, value);
    else localStorage.removeItem(KEY);
  },
  model: () => localStorage.getItem(MODEL) || "",
  setModel: (value) => localStorage.setItem(MODEL, value),
};

// The settings dialog of index.html (#settings-dialog): shows the saved key, saves on confirm.
// onSaved() runs after a change so the views can reload with the new key.
export function attachSettings(dialog, openButton, onSaved) {
  const input = dialog.querySelector("#api-key");
  openButton.addEventListener("click", () => {
    input.value = prefs.apiKey();
    dialog.showModal();
  });
  dialog.addEventListener("close", () => {
    if (dialog.returnValue !== "save") return;
    prefs.setApiKey(input.value.trim());
    onSaved();
  });
}
