// Model output → safe HTML: Markdown (marked), ALWAYS sanitized (DOMPurify), code highlighted (highlight.js),
// each code block with a copy button.

import { Marked } from "../vendor/marked.esm.js";
import DOMPurify from "../vendor/purify.es.mjs";
import hljs from "../vendor/highlight.min.js";
import { t } from "./i18n.js";

const marked = new Marked({ gfm: true, breaks: false });

// Links in replies open in a new tab and never get access to this window.
DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A" && node.hasAttribute("href")) {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer nofollow");
  }
});

export function toSafeHtml(markdown) {
  return DOMPurify.sanitize(marked.parse(markdown), { FORBID_TAGS: ["style", "form"], ADD_ATTR: ["target"] });
}

async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "visually-hidden";
  document.body.append(area);
  area.select();
  document.execCommand("copy");
  area.remove();
}

export function copyButton(getText, labelKey = "message.copy_code") {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "copy-button";
  button.textContent = t(labelKey);
  button.addEventListener("click", async () => {
    try {
      await copyText(getText());
      button.textContent = t("message.copied");
    } catch {
      button.textContent = t("message.copy_failed");
    }
    setTimeout(() => (button.textContent = t(labelKey)), 1500);
  });
  return button;
}

function decorateCode(container) {
  for (const code of container.querySelectorAll("pre > code")) {
    const language = [...code.classList].find((name) => name.startsWith("language-"))?.slice(9);
    if (!language || !hljs.getLanguage(language)) code.classList.add("nohighlight");
    else hljs.highlightElement(code);
    const pre = code.parentElement;
    const bar = document.createElement("div");
    bar.className = "code-bar";
    const name = document.createElement("span");
    name.className = "code-language";
    name.textContent = language || "";
    bar.append(name, copyButton(() => code.textContent));
    pre.before(bar);
    const block = document.createElement("div");
    block.className = "code-block";
    bar.before(block);
    block.append(bar, pre);
  }
}

// Replace the element's content by the rendered, sanitized Markdown.
export function renderMarkdown(element, markdown) {
  element.innerHTML = toSafeHtml(markdown);
  decorateCode(element);
}

// Replace the element's content by source code shown as text (never parsed as HTML), highlighted, with a
// copy button: the same block as a fenced block in a reply.
export function renderCode(element, code, language) {
  const node = document.createElement("code");
  node.className = `language-${language}`;
  node.textContent = code;
  const pre = document.createElement("pre");
  pre.append(node);
  element.replaceChildren(pre);
  decorateCode(element);
}
