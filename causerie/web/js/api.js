// The HTTP client of the web UI: the public Causerie API (conversations + models), Bearer key when set;
// otherwise the session cookie of a signed-in browser, with its CSRF token (csrf) in X-CSRF-Token.

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || null;
    this.param = error.param || null;
    this.retryAfter = null;
  }
}

async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const error = new ApiError(response.status, body);
  error.retryAfter = Number(response.headers.get("retry-after")) || null;
  return error;
}

// Server-sent events over a fetch() body (EventSource cannot POST): yields each `data:` payload, parsed.
async function* readEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replace(/\r\n/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block
        .split("\n")
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).replace(/^ /, ""))
        .join("\n");
      if (!data) continue;
      if (data === "[DONE]") return;
      yield JSON.parse(data);
    }
  }
}

function inBandErrors(onEvent) {
  return (event) => {
    if (event.error) throw new ApiError(500, event);
    onEvent(event);
  };
}

function filenameFrom(response, fallback) {
  const header = response.headers.get("content-disposition") || "";
  const star = /filename\*=UTF-8''([^;]+)/i.exec(header);
  if (star) return decodeURIComponent(star[1]);
  const plain = /filename="?([^";]+)"?/i.exec(header);
  return plain ? plain[1] : fallback;
}

export class Api {
  // getKey() returns the API key the user saved, or "".
  constructor(getKey) {
    this.getKey = getKey;
    this.csrf = "";
  }

  headers(json) {
    const headers = {};
    if (json) headers["Content-Type"] = "application/json";
    const key = this.getKey();
    if (key) headers.Authorization = `Bearer ${key}`;
    else if (this.csrf) headers["X-CSRF-Token"] = this.csrf;
    return headers;
  }

  async fetch(method, path, body, signal) {
    const form = body instanceof FormData;
    const response = await fetch(path, {
      method,
      headers: this.headers(body !== undefined && !form),
      body: body === undefined || form ? body : JSON.stringify(body),
      signal,
    });
    if (!response.ok) throw await errorFrom(response);
    return response;
  }

  async json(method, path, body) {
    return (await this.fetch(method, path, body)).json();
  }

  // POST a streaming request; calls onEvent(event) for each SSE event until [DONE].
  async stream(path, body, onEvent, signal) {
    const response = await this.fetch("POST", path, { ...body, stream: true }, signal);
    for await (const event of readEvents(response)) onEvent(event);
  }

  // Organization mode: {email, role, csrf_token, …} of the browser's session (an ApiError 401 without one).
  session() {
    return this.json("GET", "/v1/auth/session");
  }

  signIn(email, password) {
    return this.json("POST", "/v1/auth/sign-in", { email, password });
  }

  signOut() {
    return this.fetch("POST", "/v1/auth/sign-out");
  }

  // The admin API (an organization's owners and admins): its API keys.
  adminKeys() {
    return this.json("GET", "/v1/admin/keys");
  }

  // fields: {name?, user?, expires?} → the new key, whose secret (key) is in this answer only.
  createKey(fields) {
    return this.json("POST", "/v1/admin/keys", fields);
  }

  revokeKey(id) {
    return this.json("DELETE", `/v1/admin/keys/${encodeURIComponent(id)}`);
  }

  models() {
    return this.json("GET", "/v1/models");
  }

  // {status, default_model, loaded_models}: the model a request without one gets.
  health() {
    return this.json("GET", "/health");
  }

  listConversations(after, limit = 30) {
    const query = new URLSearchParams({ limit: String(limit) });
    if (after) query.set("after", after);
    return this.json("GET", `/v1/conversations?${query}`);
  }

  search(q, limit = 20) {
    return this.json("GET", `/v1/conversations/search?${new URLSearchParams({ q, limit: String(limit) })}`);
  }

  createConversation(fields) {
    return this.json("POST", "/v1/conversations", fields);
  }

  getConversation(id) {
    return this.json("GET", `/v1/conversations/${encodeURIComponent(id)}`);
  }

  updateConversation(id, fields) {
    return this.json("PATCH", `/v1/conversations/${encodeURIComponent(id)}`, fields);
  }

  deleteConversation(id) {
    return this.json("DELETE", `/v1/conversations/${encodeURIComponent(id)}`);
  }

  stop(id) {
    return this.json("POST", `/v1/conversations/${encodeURIComponent(id)}/stop`, {});
  }

  // fields: {content, parent_id?, model?}
  postMessage(id, fields, onEvent, signal) {
    return this.stream(`/v1/conversations/${encodeURIComponent(id)}/messages`, fields, onEvent, signal);
  }

  regenerate(id, messageId, fields, onEvent, signal) {
    const path = `/v1/conversations/${encodeURIComponent(id)}/messages/${encodeURIComponent(messageId)}/regenerate`;
    return this.stream(path, fields, onEvent, signal);
  }

  // id = a conversation, or null for all of them; resolves to {blob, filename}.
  async exportConversations(id, format) {
    const base = id ? `/v1/conversations/${encodeURIComponent(id)}` : "/v1/conversations";
    const response = await this.fetch("GET", `${base}/export?format=${encodeURIComponent(format)}`);
    const extension = format === "json" ? "json" : "md";
    return { blob: await response.blob(), filename: filenameFrom(response, `${id || "conversations"}.${extension}`) };
  }

  // Text tools, streamed: onEvent gets each progress object, then the result object; an in-band
  // {error} event (a failure after the work started) is thrown as an ApiError.
  translate(fields, onEvent, signal) {
    return this.stream("/v1/translate", fields, inBandErrors(onEvent), signal);
  }

  summarize(fields, onEvent, signal) {
    return this.stream("/v1/summarize", fields, inBandErrors(onEvent), signal);
  }

  // mode: "generate" | "fix" | "optimize"; resolves to the checked result.
  code(mode, fields, signal) {
    return this.fetch("POST", `/v1/code/${encodeURIComponent(mode)}`, fields, signal).then((response) => response.json());
  }

  // A ChatGPT data export (conversations.json) → {imported, conversations}.
  importChatGPT(file) {
    const form = new FormData();
    form.append("file", file);
    return this.json("POST", "/v1/conversations/import", form);
  }
}
