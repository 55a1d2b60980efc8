// Entry point: wires the sidebar, the chat view, the composer, settings and the language switch.
// The address (#/c/<id>) names the open conversation, so a reload finds it again.

import { Api } from "./api.js";
import { ChatView } from "./chat.js";
import { attachComposer } from "./composer.js";
import { savedChoice, setLanguage, t } from "./i18n.js";
import { placeIcons } from "./icons.js";
import { attachSettings, prefs } from "./settings.js";
import { Sidebar } from "./sidebar.js";

const $ = (selector) => document.querySelector(selector);
const api = new Api(prefs.apiKey);
const phone = window.matchMedia("(max-width: 768px)");

function announce(text) {
  $("#live-status").textContent = text;
}

function showError(error) {
  const message = error.status === 401 ? t("errors.auth") : error.message || t("errors.generic");
  const banner = $("#error-banner");
  banner.querySelector(".error-text").textContent = message;
  banner.hidden = false;
}

function setSidebarOpen(open) {
  document.body.classList.toggle("sidebar-open", open);
  $("#toggle-sidebar").setAttribute("aria-expanded", String(open));
  if (open && phone.matches) $("#sidebar").querySelector("button, input, a")?.focus();
}

const prompt = $("#prompt");
const sidebar = new Sidebar($("#sidebar"), api, {
  error: showError,
  renamed: (conversation) => {
    if (chat.id === conversation.id) {
      chat.conversation = { ...chat.conversation, title: conversation.title };
      chat.renderHeader();
    }
  },
  deleted: (id) => {
    if (chat.id === id) location.hash = "";
  },
});
const chat = new ChatView($("#chat"), api, {
  error: showError,
  announce,
  created: (conversation) => {
    history.replaceState(null, "", `#/c/${conversation.id}`);
    sidebar.setActive(conversation.id);
    sidebar.upsert(conversation);
  },
  updated: (conversation) => sidebar.upsert(conversation),
  restoreDraft: (text) => {
    if (!prompt.value) prompt.value = text;
  },
});
const composer = attachComposer($("#composer"), prompt, (text) => chat.send(text));

async function route() {
  const match = /^#\/c\/(.+)$/.exec(location.hash);
  const id = match ? decodeURIComponent(match[1]) : null;
  sidebar.setActive(id);
  if (phone.matches) setSidebarOpen(false);
  if (!id) {
    chat.clear();
  } else if (id !== chat.id) {
    try {
      await chat.open(id);
    } catch (error) {
      showError(error);
      chat.clear();
    }
  }
  prompt.focus();
}

async function loadModels() {
  try {
    const [models, health] = await Promise.all([api.models(), api.health().catch(() => null)]);
    chat.setModels(models.data, health?.default_model);
  } catch (error) {
    showError(error);
  }
}

async function start() {
  placeIcons();
  const languageSelect = $("#language-select");
  await setLanguage(savedChoice());
  languageSelect.value = savedChoice();
  languageSelect.addEventListener("change", () => setLanguage(languageSelect.value));
  document.addEventListener("causerie:language", () => {
    if (!chat.busy) chat.render();
    sidebar.reload();
  });

  for (const button of [$("#new-chat"), $("#new-chat-header")]) {
    button.addEventListener("click", () => {
      history.pushState(null, "", location.pathname);
      route();
    });
  }
  $("#toggle-sidebar").addEventListener("click", () => setSidebarOpen(!document.body.classList.contains("sidebar-open")));
  $("#sidebar-backdrop").addEventListener("click", () => setSidebarOpen(false));
  $("#error-banner .close").addEventListener("click", () => ($("#error-banner").hidden = true));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && phone.matches) setSidebarOpen(false);
  });
  attachSettings($("#settings-dialog"), $("#open-settings"), api, {
    saved: () => {
      $("#error-banner").hidden = true;
      loadModels();
      sidebar.reload();
      if (chat.id) chat.open(chat.id).catch(showError);
    },
    imported: () => sidebar.reload(),
  });
  window.addEventListener("hashchange", route);
  setSidebarOpen(!phone.matches);
  composer.autosize();
  await Promise.all([loadModels(), sidebar.reload(), route()]);
  document.body.dataset.ready = "true";
}

start();
