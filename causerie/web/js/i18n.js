// Message catalogs (web/i18n/<lang>.json): the language choice, t(), and translation of the static DOM.
//
// Nothing is painted before the first catalog is in (css: html:not([data-translated])), so no one sees catalog
// keys or the wrong language for a moment; setLanguage marks the page translated.
//
// Markup declares its strings: data-i18n="key" sets the text; data-i18n-placeholder, data-i18n-aria-label
// and data-i18n-title set those attributes.

export const LANGUAGES = ["en", "fr", "ja"];
const STORAGE_KEY = "causerie.language";
const ATTRIBUTES = ["placeholder", "aria-label", "title"];

let catalog = {};
let fallback = {};
let current = "en";

// The first supported language among the browser's preferences ("fr-CA" → "fr"), else English.
export function browserLanguage(preferences = navigator.languages || [navigator.language]) {
  for (const tag of preferences) {
    const base = String(tag || "").toLowerCase().split("-")[0];
    if (LANGUAGES.includes(base)) return base;
  }
  return "en";
}

// "auto" (follow the browser) or a language code the user picked.
export function savedChoice() {
  const choice = localStorage.getItem(STORAGE_KEY);
  return LANGUAGES.includes(choice) ? choice : "auto";
}

async function loadCatalog(lang) {
  const response = await fetch(new URL(`../i18n/${lang}.json`, import.meta.url));
  if (!response.ok) throw new Error(`cannot load the ${lang} catalog (HTTP ${response.status})`);
  return response.json();
}

export function language() {
  return current;
}

// t("sidebar.rename_named", {title}) → the current catalog's string with {placeholders} filled in.
export function t(key, vars = {}) {
  const text = catalog[key] ?? fallback[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (match, name) => (name in vars ? String(vars[name]) : match));
}

export function translateTree(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const attribute of ATTRIBUTES) {
    const dataName = `data-i18n-${attribute}`;
    for (const node of root.querySelectorAll(`[${dataName}]`)) node.setAttribute(attribute, t(node.getAttribute(dataName)));
  }
}

// Apply a choice ("auto" or a code): load the catalog, remember it, update <html lang> and the page,
// then tell the dynamic views through a "causerie:language" event on document.
export async function setLanguage(choice) {
  const lang = choice === "auto" ? browserLanguage() : choice;
  if (!Object.keys(fallback).length) fallback = await loadCatalog("en");
  catalog = lang === "en" ? fallback : await loadCatalog(lang);
  current = lang;
  if (choice === "auto") localStorage.removeItem(STORAGE_KEY);
  else localStorage.setItem(STORAGE_KEY, choice);
  document.documentElement.lang = lang;
  document.title = t("app.title");
  translateTree();
  document.documentElement.dataset.translated = "true";
  document.dispatchEvent(new CustomEvent("causerie:language", { detail: { language: lang } }));
}
