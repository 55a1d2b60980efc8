// Organization mode: the sign-in page (#sign-in) shown instead of the app until the browser has a session,
// and the "signed in as … / Sign out" line of the sidebar. Personal mode (or a saved API key) skips both.

import { t } from "./i18n.js";

const $ = (selector) => document.querySelector(selector);

function failure(error) {
  if (error.status === 401) return t("signin.incorrect");
  if (error.status === 429) return t("signin.too_many", { minutes: Math.max(1, Math.ceil((error.retryAfter || 60) / 60)) });
  return t("signin.failed");
}

// Resolves to the session once signed in (at once when the cookie's session is still live).
function askToSignIn(api) {
  const page = $("#sign-in");
  const form = $("#sign-in-form");
  const error = $("#sign-in-error");
  page.hidden = false;
  document.body.dataset.ready = "true"; // the page is ready for its user: the form
  $("#sign-in-email").focus();
  return new Promise((resolve) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.hidden = true;
      try {
        const session = await api.signIn($("#sign-in-email").value, $("#sign-in-password").value);
        document.body.dataset.ready = "false"; // until the app has loaded for this user
        page.hidden = true;
        $("#sign-in-password").value = "";
        resolve(session);
      } catch (failed) {
        error.textContent = failure(failed);
        error.hidden = false;
      }
    });
  });
}

// Before the app loads: in organization mode without an API key, a session (asking for one if needed);
// the API client then sends its CSRF token, and the sidebar offers to sign out. Resolves to the session,
// or null when there is none to have.
export async function signInIfNeeded(api, health, hasKey) {
  if (!health?.sign_in || hasKey) return null;
  const session = (await api.session().catch(() => null)) || (await askToSignIn(api));
  api.csrf = session.csrf_token;
  $("#signed-in-email").textContent = session.email;
  $("#signed-in").hidden = false;
  $("#sign-out").addEventListener("click", async () => {
    await api.signOut().catch(() => null);
    location.reload();
  });
  return session;
}
