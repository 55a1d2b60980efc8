// Entry point: wires the sidebar, the chat view, the tools view, the composer, settings and the language
// switch. The address names what is shown (#/c/<id>: a conversation, #/tools/<tool>: a tool), so a reload
// finds it again.

import { attachAdmin } from "./admin.js";
import { Api } from "./api.js";
import { ChatView } from "./chat.js";
import { attachComposer } from "./composer.js";
import { savedChoice, setLanguage, t } from "./i18n.js";
import { placeIcons } from "./icons.js";
import { attachSettings, prefs } from "./settings.js";
import { signInIfNeeded } from "./signin.js";
import { Sidebar } from "./sidebar.js";
import { ToolsView } from "./tools.js";

const $ = (selector) => document.querySelector(selector);
const api = new Api(prefs.apiKey);
const phone = window.matchMedia("(max-width: 768px)");

function announce(text) {
  $("#live-status").textContent = text;
}

// The banner of the view on screen (chat or tools).
function banner() {
  return $("#tools").hidden ? $("#error-banner") : $("#tools-error");
}

function showError(error) {
  if (error.code === "session_expired") {
    location.reload(); // back to the sign-in page
    return;
  }
  const message = error.status === 401 ? t("errors.auth") : error.message || t("errors.generic");
  banner().querySelector(".error-text").textContent = message;
  banner().hidden = false;
}

function clearError() {
  banner().hidden = true;
}

const sidebarToggles = document.querySelectorAll("#toggle-sidebar, .toggle-sidebar");

function setSidebarOpen(open) {
  document.body.classList.toggle("sidebar-open", open);
  for (const toggle of sidebarToggles) toggle.setAttribute("aria-expanded", String(open));
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
let tools = null; // built once the catalog is loaded (its language pickers name languages in it)

// Chat or tools on screen; the sidebar's Tools link says which.
function showView(name) {
  $("#chat").hidden = name !== "chat";
  $("#tools").hidden = name !== "tools";
  if (name === "tools") $("#open-tools").setAttribute("aria-current", "page");
  else $("#open-tools").removeAttribute("aria-current");
}

async function route() {
  if (phone.matches) setSidebarOpen(false);
  const tool = /^#\/tools(?:\/(\w+))?$/.exec(location.hash);
  if (tool) {
    sidebar.setActive(null);
    showView("tools");
    tools.show(tool[1]);
    tools.focus();
    return;
  }
  showView("chat");
  const match = /^#\/c\/(.+)$/.exec(location.hash);
  const id = match ? decodeURIComponent(match[1]) : null;
  sidebar.setActive(id);
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
    const chatModels = models.data.filter((model) => model.capability !== "embedding"); // embedders cannot chat
    chat.setModels(chatModels, health?.default_model);
  } catch (error) {
    showError(error);
  }
}

async function start() {
  placeIcons();
  const languageSelect = $("#language-select");
  try {
    await setLanguage(savedChoice());
  } catch (error) {
    document.documentElement.dataset.translated = "false"; // show the page (in its English markup) and say why
    showError(error);
  }
  languageSelect.value = savedChoice();
  const session = await signInIfNeeded(api, await api.health().catch(() => null), Boolean(prefs.apiKey()));
  if (session && ["owner", "admin"].includes(session.role)) attachAdmin($("#admin-dialog"), $("#open-admin"), api);
  $(".layout").hidden = false; // not before: its conversation list would ask for it without credentials
  languageSelect.addEventListener("change", () => setLanguage(languageSelect.value));
  tools = new ToolsView($("#tools"), api, { error: showError, clearError });
  document.addEventListener("causerie:language", () => {
    if (!chat.busy) chat.render();
    tools.relabel();
    sidebar.reload();
  });

  for (const button of [$("#new-chat"), $("#new-chat-header")]) {
    button.addEventListener("click", () => {
      history.pushState(null, "", location.pathname);
      route();
    });
  }
  for (const toggle of sidebarToggles) {
    toggle.addEventListener("click", () => setSidebarOpen(!document.body.classList.contains("sidebar-open")));
  }
  $("#sidebar-backdrop").addEventListener("click", () => setSidebarOpen(false));
  for (const close of document.querySelectorAll(".error-banner .close")) {
    close.addEventListener("click", () => (close.closest(".error-banner").hidden = true));
  }
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && phone.matches) setSidebarOpen(false);
  });
  attachSettings($("#settings-dialog"), $("#open-settings"), api, {
    saved: () => {
      clearError();
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
