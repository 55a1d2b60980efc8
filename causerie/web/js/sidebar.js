// The conversation list: newest first, loaded page by page as it scrolls, searchable; rename and delete.

import { askText, confirmAction } from "./dialogs.js";
import { el } from "./dom.js";
import { t } from "./i18n.js";
import { icon } from "./icons.js";

const SEARCH_DELAY_MS = 250;

export class Sidebar {
  // hooks: {renamed(conversation), deleted(id), error(err)}
  constructor(root, api, hooks) {
    this.api = api;
    this.hooks = hooks;
    this.list = root.querySelector("#conversations");
    this.results = root.querySelector("#search-results");
    this.searchInput = root.querySelector("#search-input");
    this.sentinel = root.querySelector("#list-sentinel");
    this.empty = root.querySelector("#list-empty");
    this.activeId = null;
    this.cursor = null;
    this.hasMore = true;
    this.loading = null;
    this.searchTimer = null;
    this.searchSeq = 0;

    new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) this.loadMore();
    }, { root: this.list.parentElement }).observe(this.sentinel);
    this.searchInput.addEventListener("input", () => {
      clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => this.search(this.searchInput.value.trim()), SEARCH_DELAY_MS);
    });
    root.querySelector("#search-form").addEventListener("submit", (event) => {
      event.preventDefault();
      clearTimeout(this.searchTimer);
      this.search(this.searchInput.value.trim());
    });
  }

  // Start over from the newest conversation (after a send, a rename, a new key…).
  async reload() {
    await this.loading;
    this.cursor = null;
    this.hasMore = true;
    this.list.replaceChildren();
    await this.loadMore();
  }

  loadMore() {
    if (this.loading || !this.hasMore) return this.loading;
    this.loading = this.api
      .listConversations(this.cursor)
      .then((page) => {
        for (const conversation of page.data) {
          if (!this.itemOf(conversation.id)) this.list.append(this.item(conversation));
        }
        this.hasMore = page.has_more;
        if (page.data.length) this.cursor = page.data[page.data.length - 1].id;
        this.empty.hidden = this.list.children.length > 0;
      })
      .catch((error) => {
        this.hasMore = false;
        this.hooks.error(error);
      })
      .finally(() => {
        this.loading = null;
        if (this.hasMore && this.sentinelInView()) requestAnimationFrame(() => this.loadMore());
      });
    return this.loading;
  }

  // A page that does not fill the list leaves the sentinel in view: the observer will not fire again.
  sentinelInView() {
    const nav = this.list.parentElement.getBoundingClientRect();
    const sentinel = this.sentinel.getBoundingClientRect();
    return !this.list.parentElement.hidden && sentinel.top <= nav.bottom;
  }

  itemOf(id) {
    return this.list.querySelector(`li[data-id="${CSS.escape(id)}"]`);
  }

  item(conversation) {
    const title = conversation.title || t("sidebar.untitled");
    const link = el("a", { href: `#/c/${conversation.id}`, className: "conversation-link" }, title);
    if (conversation.id === this.activeId) link.setAttribute("aria-current", "page");
    const rename = el(
      "button",
      { type: "button", className: "icon-button rename-button", title: t("sidebar.rename"), "aria-label": t("sidebar.rename_named", { title }) },
      icon("edit")
    );
    rename.addEventListener("click", () => this.rename(conversation));
    const remove = el(
      "button",
      { type: "button", className: "icon-button delete-button", title: t("sidebar.delete"), "aria-label": t("sidebar.delete_named", { title }) },
      icon("trash")
    );
    remove.addEventListener("click", () => this.remove(conversation));
    return el("li", { dataset: { id: conversation.id } }, link, el("span", { className: "item-actions" }, rename, remove));
  }

  setActive(id) {
    this.activeId = id;
    for (const link of this.list.querySelectorAll(".conversation-link")) {
      if (link.closest("li").dataset.id === id) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }

  // Show a conversation at the top (new or just updated) without refetching the whole list.
  upsert(conversation) {
    this.itemOf(conversation.id)?.remove();
    this.list.prepend(this.item(conversation));
    this.empty.hidden = true;
  }

  async rename(conversation) {
    const title = await askText(t("sidebar.rename"), t("sidebar.title_label"), conversation.title || "");
    if (!title || title === conversation.title) return;
    try {
      const updated = await this.api.updateConversation(conversation.id, { title });
      this.itemOf(updated.id)?.replaceWith(this.item(updated));
      this.hooks.renamed(updated);
    } catch (error) {
      this.hooks.error(error);
    }
  }

  async remove(conversation) {
    const title = conversation.title || t("sidebar.untitled");
    if (!(await confirmAction(t("sidebar.delete"), t("sidebar.delete_confirm", { title }), "sidebar.delete"))) return;
    try {
      await this.api.deleteConversation(conversation.id);
      this.itemOf(conversation.id)?.remove();
      this.empty.hidden = this.list.children.length > 0;
      this.hooks.deleted(conversation.id);
    } catch (error) {
      this.hooks.error(error);
    }
  }

  async search(query) {
    const seq = ++this.searchSeq;
    if (!query) {
      this.results.hidden = true;
      this.results.replaceChildren();
      this.list.parentElement.hidden = false;
      return;
    }
    try {
      const found = await this.api.search(query);
      if (seq !== this.searchSeq) return;
      const items = found.data.map((hit) =>
        el(
          "li",
          {},
          el(
            "a",
            { href: `#/c/${hit.conversation_id}`, className: "search-hit" },
            el("span", { className: "hit-title" }, hit.conversation_title || t("sidebar.untitled")),
            el("span", { className: "hit-snippet" }, hit.snippet)
          )
        )
      );
      if (!items.length) items.push(el("li", { className: "muted" }, t("sidebar.no_results")));
      this.results.replaceChildren(...items);
      this.results.hidden = false;
      this.list.parentElement.hidden = true;
    } catch (error) {
      this.hooks.error(error);
    }
  }
}
