// The admin dialog of an organization's owners and admins (#admin-dialog): its API keys, listed, created
// (the new key is shown this once, and leaves the page when the dialog closes) and revoked, through the
// admin API.

import { el } from "./dom.js";
import { language, t } from "./i18n.js";

function keyStatus(key) {
  if (key.revoked_at) return t("admin.key_revoked");
  if (key.expires_at && key.expires_at * 1000 <= Date.now()) return t("admin.key_expired");
  return t("admin.key_active");
}

export function attachAdmin(dialog, openButton, api) {
  const rows = dialog.querySelector("#admin-keys");
  const nameInput = dialog.querySelector("#admin-key-name");
  const newKey = dialog.querySelector("#admin-new-key");
  const newKeyValue = dialog.querySelector("#admin-new-key-value");
  const status = dialog.querySelector("#admin-status");

  const fail = (error) => (status.textContent = error.message || t("errors.generic"));

  function row(key) {
    const revoke = key.revoked_at
      ? null
      : el("button", { type: "button", className: "secondary revoke-key", onclick: () => revokeKey(key.id) }, t("admin.revoke"));
    const created = new Date(key.created_at * 1000).toLocaleDateString(language());
    return el(
      "tr",
      { dataset: { id: key.id } },
      el("td", { className: "key-name" }, key.name || t("admin.unnamed")),
      el("td", {}, el("code", {}, key.prefix)),
      el("td", {}, created),
      el("td", { className: "key-status" }, keyStatus(key)),
      el("td", {}, revoke),
    );
  }

  async function load() {
    const keys = await api.adminKeys();
    rows.replaceChildren(...keys.data.map(row));
  }

  async function revokeKey(id) {
    try {
      await api.revokeKey(id);
      await load();
    } catch (error) {
      fail(error);
    }
  }

  function forgetNewKey() {
    newKeyValue.textContent = "";
    newKey.hidden = true;
  }

  dialog.querySelector("#admin-create-key").addEventListener("click", async () => {
    status.textContent = "";
    try {
      const name = nameInput.value.trim();
      const created = await api.createKey(name ? { name } : {});
      newKeyValue.textContent = created.key;
      newKey.hidden = false;
      nameInput.value = "";
      await load();
    } catch (error) {
      fail(error);
    }
  });
  openButton.addEventListener("click", () => {
    forgetNewKey();
    status.textContent = "";
    dialog.showModal();
    load().catch(fail);
  });
  dialog.addEventListener("close", forgetNewKey);
  document.addEventListener("causerie:language", () => dialog.open && load().catch(fail));
  openButton.hidden = false;
}
