// The chat view: the branch being viewed, streamed replies, stop, regenerate, edit-and-branch, branch
// navigation, the model picker and export.

import { el, saveFile } from "./dom.js";
import { t } from "./i18n.js";
import { copyButton, renderMarkdown } from "./markdown.js";
import { prefs } from "./settings.js";
import { MessageTree } from "./tree.js";

const STOP_GRACE_MS = 5000;
const ROLE_KEYS = { user: "message.role_user", assistant: "message.role_assistant", system: "message.role_system" };

export class ChatView {
  // hooks: {created(conversation), updated(conversation), error(err), announce(text), restoreDraft(text)}
  constructor(root, api, hooks) {
    this.api = api;
    this.hooks = hooks;
    this.messages = root.querySelector("#messages");
    this.title = root.querySelector("#chat-title");
    this.modelSelect = root.querySelector("#model-select");
    this.stopButton = root.querySelector("#stop-button");
    this.sendButton = root.querySelector("#send-button");
    this.exportMenu = root.querySelector("#export-menu");
    this.conversation = null;
    this.tree = new MessageTree([]);
    this.busy = null; // {conversationId, controller, stopTimer}
    this.following = true;
    this.messages.addEventListener("scroll", () => (this.following = this.atEnd()), { passive: true });

    this.stopButton.addEventListener("click", () => this.stop());
    this.modelSelect.addEventListener("change", () => this.chooseModel(this.modelSelect.value));
    for (const button of this.exportMenu.querySelectorAll("button[data-format]")) {
      button.addEventListener("click", () => this.export(button.dataset.format));
    }
    this.render();
  }

  get id() {
    return this.conversation?.id ?? null;
  }

  // ---- loading and rendering -------------------------------------------------------------------

  async open(id) {
    const { messages, ...conversation } = await this.api.getConversation(id);
    this.conversation = conversation;
    this.tree = new MessageTree(messages);
    this.render();
    this.scrollToEnd(true);
  }

  clear() {
    this.conversation = null;
    this.tree = new MessageTree([]);
    this.render();
  }

  // The picker lists the served models; without a choice it shows the server's default.
  setModels(models, defaultModel) {
    this.defaultModel = defaultModel;
    this.modelSelect.replaceChildren(...models.map((model) => el("option", { value: model.id }, model.id)));
    this.syncModel();
  }

  model() {
    return this.modelSelect.value || undefined;
  }

  syncModel() {
    const ids = [...this.modelSelect.options].map((option) => option.value);
    const wanted = [this.conversation?.model, prefs.model(), this.defaultModel].find((id) => id && ids.includes(id));
    if (wanted) this.modelSelect.value = wanted;
  }

  renderHeader() {
    this.title.textContent = this.conversation ? this.conversation.title || t("sidebar.untitled") : t("chat.new_chat");
    this.exportMenu.hidden = !this.conversation;
    this.syncModel();
    this.updateBusy();
  }

  render() {
    this.renderHeader();
    const path = this.tree.path(this.conversation?.current_message_id ?? null);
    if (!path.length) {
      this.messages.replaceChildren(
        el("div", { className: "empty-state" }, el("p", { className: "empty-title" }, t("chat.empty_title")), el("p", {}, t("chat.empty_hint")))
      );
      return;
    }
    this.messages.replaceChildren(...path.map((message) => this.messageView(message)));
  }

  // <article class="message ROLE"><h3>Role</h3>BODY</article>: the frame of every message.
  frame(role, body, attributes = {}) {
    const { className = "", ...rest } = attributes;
    const heading = el("h3", { className: "message-role" }, t(ROLE_KEYS[role]));
    return el("article", { className: `message ${role} ${className}`.trim(), ...rest }, heading, body);
  }

  messageView(message) {
    const body = el("div", { className: "message-body" });
    if (message.role === "assistant") {
      body.classList.add("markdown");
      renderMarkdown(body, message.content);
    } else {
      body.textContent = message.content;
    }
    const article = this.frame(message.role, body, { dataset: { id: message.id, status: message.status } });
    if (message.status !== "complete") {
      const key = message.status === "error" ? "message.status_error" : "message.status_incomplete";
      article.append(el("p", { className: `message-status ${message.status}` }, t(key)));
    }
    article.append(this.actions(message));
    return article;
  }

  actions(message) {
    const bar = el("div", { className: "message-actions" });
    const siblings = this.tree.siblings(message);
    if (siblings.length > 1) bar.append(this.branchNav(siblings, siblings.indexOf(message.id)));
    if (message.role === "user") {
      bar.append(el("button", { type: "button", className: "text-button edit-button", onclick: () => this.startEdit(message) }, t("message.edit")));
    } else if (message.role === "assistant") {
      bar.append(copyButton(() => message.content, "message.copy"));
      bar.append(
        el("button", { type: "button", className: "text-button regenerate-button", onclick: () => this.regenerate(message) }, t("message.regenerate"))
      );
    }
    return bar;
  }

  branchNav(siblings, index) {
    const go = (target) => this.switchBranch(siblings[target]);
    return el(
      "nav",
      { className: "branch-nav", "aria-label": t("message.versions") },
      el("button", { type: "button", className: "icon-button branch-prev", "aria-label": t("message.previous_version"), disabled: index === 0, onclick: () => go(index - 1) }, "‹"),
      el("span", { className: "branch-position" }, t("message.version_position", { index: index + 1, count: siblings.length })),
      el("button", { type: "button", className: "icon-button branch-next", "aria-label": t("message.next_version"), disabled: index === siblings.length - 1, onclick: () => go(index + 1) }, "›")
    );
  }

  // The view follows a growing reply until the reader scrolls up, and again once they scroll back down.
  atEnd() {
    const box = this.messages;
    return box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  }

  scrollToEnd(force = false) {
    if (force) this.following = true;
    if (this.following) this.messages.scrollTop = this.messages.scrollHeight;
  }

  // ---- actions -----------------------------------------------------------------------------------

  async switchBranch(messageId) {
    if (this.busy) return;
    try {
      const leaf = this.tree.leafFrom(messageId);
      this.conversation = await this.api.updateConversation(this.id, { current_message_id: leaf });
      this.render();
    } catch (error) {
      this.hooks.error(error);
    }
  }

  async chooseModel(model) {
    prefs.setModel(model);
    if (!this.conversation || this.conversation.model === model) return;
    try {
      this.conversation = await this.api.updateConversation(this.id, { model });
    } catch (error) {
      this.hooks.error(error);
    }
  }

  // Send text after the viewed branch or, for an edit, as a new branch beside the `edited` message.
  // False when a reply is still streaming.
  send(text, edited = null) {
    if (this.busy) return false;
    const fields = { content: text, model: this.model() };
    if (edited) fields.parent_id = edited.parent_id; // null: a new first message
    const path = this.tree.path(edited ? edited.parent_id : (this.conversation?.current_message_id ?? null));
    this.generate({ path, userText: text, request: (id, ...rest) => this.api.postMessage(id, fields, ...rest) });
    return true;
  }

  startEdit(message) {
    if (this.busy) return;
    const article = this.messages.querySelector(`article[data-id="${CSS.escape(message.id)}"]`);
    const area = el("textarea", { className: "edit-area", "aria-label": t("message.edit_label"), rows: "3" });
    area.value = message.content;
    const cancel = el("button", { type: "button", className: "secondary", onclick: () => this.render() }, t("dialog.cancel"));
    const save = el("button", { type: "submit", className: "primary" }, t("message.save_and_send"));
    const form = el("form", { className: "edit-form" }, area, el("div", { className: "dialog-actions" }, cancel, save));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = area.value.trim();
      if (text) this.send(text, message);
    });
    article.querySelector(".message-body").replaceWith(form);
    article.querySelector(".message-actions").hidden = true;
    area.focus();
  }

  regenerate(message) {
    if (this.busy) return;
    const fields = { model: this.model() };
    const path = this.tree.path(message.parent_id);
    this.generate({ path, userText: null, request: (id, ...rest) => this.api.regenerate(id, message.id, fields, ...rest) });
  }

  async stop() {
    if (!this.busy) return;
    const busy = this.busy;
    if (!busy.conversationId) return busy.controller.abort(); // nothing is generating yet
    busy.stopTimer = setTimeout(() => busy.controller.abort(), STOP_GRACE_MS);
    try {
      await this.api.stop(busy.conversationId);
    } catch (error) {
      busy.controller.abort();
      this.hooks.error(error);
    }
  }

  updateBusy() {
    const here = Boolean(this.busy && this.busy.conversationId === this.id);
    this.stopButton.hidden = !here;
    this.sendButton.hidden = here;
    this.sendButton.disabled = Boolean(this.busy);
  }

  async export(format) {
    this.exportMenu.open = false;
    try {
      saveFile(await this.api.exportConversations(this.id, format));
    } catch (error) {
      this.hooks.error(error);
    }
  }

  // ---- streaming ---------------------------------------------------------------------------------

  // Show `path` (+ the user's text) and a reply that grows as deltas arrive, then reload the tree.
  async generate({ path, userText, request }) {
    const controller = new AbortController();
    this.busy = { conversationId: this.id, controller, stopTimer: null };
    this.updateBusy();
    let userStored = userText === null;
    try {
      if (!this.conversation) {
        const created = await this.api.createConversation({ model: this.model() });
        this.conversation = created;
        this.hooks.created(created);
      }
      const conversationId = this.id;
      this.busy.conversationId = conversationId;
      const views = path.map((message) => this.messageView(message));
      if (userText !== null) {
        views.push(this.frame("user", el("div", { className: "message-body" }, userText), { className: "pending" }));
      }
      const body = el("div", { className: "message-body markdown" }, el("span", { className: "typing", "aria-hidden": "true" }));
      const reply = this.frame("assistant", body, { className: "streaming", "aria-busy": "true" });
      views.push(reply);
      this.messages.replaceChildren(...views);
      this.renderHeader();
      this.scrollToEnd(true);
      this.hooks.announce(t("chat.replying"));

      let content = "";
      let scheduled = 0;
      const paint = () => {
        scheduled = 0;
        renderMarkdown(body, content);
        this.scrollToEnd();
      };
      await request(conversationId, (event) => {
        if (event.type === "user_message") userStored = true;
        else if (event.type === "assistant_message") reply.dataset.id = event.message.id;
        else if (event.type === "delta") {
          content += event.content;
          scheduled ||= requestAnimationFrame(paint);
        } else if (event.type === "done") content = event.message.content;
        else if (event.type === "title" && this.id === conversationId) {
          this.conversation.title = event.title;
          this.title.textContent = event.title;
        } else if (event.type === "error") this.hooks.error(new Error(event.error.message));
      }, controller.signal);
      cancelAnimationFrame(scheduled);
      paint();
      this.hooks.announce(t("chat.reply_done"));
    } catch (error) {
      if (error.name !== "AbortError") this.hooks.error(error);
      if (!userStored) this.hooks.restoreDraft(userText);
    } finally {
      const { conversationId, stopTimer } = this.busy;
      clearTimeout(stopTimer);
      this.busy = null;
      this.updateBusy();
      if (conversationId) await this.refresh(conversationId);
    }
  }

  // Reload the conversation after a change; re-render only if it is still the one shown.
  async refresh(conversationId) {
    try {
      const { messages, ...conversation } = await this.api.getConversation(conversationId);
      this.hooks.updated(conversation);
      if (this.id !== conversationId) return;
      this.conversation = conversation;
      this.tree = new MessageTree(messages);
      this.render();
      this.scrollToEnd();
    } catch (error) {
      if (error.status !== 404) this.hooks.error(error); // 404: deleted meanwhile, nothing to show
    }
  }
}
