// Preferences kept in this browser (localStorage): the API key and the last model used; the settings dialog.

import { saveFile } from "./dom.js";
import { t } from "./i18n.js";

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

// The settings dialog of index.html (#settings-dialog): the API key (saved on confirm), export of every
// conversation, import of a ChatGPT export. hooks: {saved(), imported(), error(err)}.
export function attachSettings(dialog, openButton, api, hooks) {
  const input = dialog.querySelector("#api-key");
  const fileInput = dialog.querySelector("#import-file");
  const status = dialog.querySelector("#data-status");
  openButton.addEventListener("click", () => {
    input.value = prefs.apiKey();
    status.textContent = "";
    dialog.returnValue = ""; // Escape keeps the previous returnValue
    dialog.showModal();
  });
  dialog.querySelector("button[value=cancel]").addEventListener("click", () => dialog.close("cancel"));
  dialog.addEventListener("close", () => {
    if (dialog.returnValue !== "save") return;
    prefs.setApiKey(input.value.trim());
    hooks.saved();
  });
  for (const button of dialog.querySelectorAll("button[data-export-all]")) {
    button.addEventListener("click", async () => {
      try {
        saveFile(await api.exportConversations(null, button.dataset.exportAll));
      } catch (error) {
        status.textContent = error.message;
      }
    });
  }
  fileInput.addEventListener("change", async () => {
    const [file] = fileInput.files;
    if (!file) return;
    status.textContent = t("settings.importing");
    try {
      const result = await api.importChatGPT(file);
      status.textContent = t("settings.imported", { count: result.imported });
      hooks.imported();
    } catch (error) {
      status.textContent = error.message;
    } finally {
      fileInput.value = "";
    }
  });
}
