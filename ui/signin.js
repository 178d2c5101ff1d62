// Signing in: asks `/access` what the tab's key may do. Without keys in force the console opens
// at once; with keys, a missing or refused key shows the sign-in box (a refused one with a
// sentence saying so), and an accepted one is described in words: its name, scopes and topics.

import { ApiError, forgetKey, getJson, keepKey, storedKey } from "./api.js";

/**
 * Resolves to what the key may do (the `/access` document) once it is accepted; until then
 * the sign-in box is shown and every typed key is checked.
 */
export async function signIn() {
  const form = document.getElementById("signin");
  const input = document.getElementById("signin-key");
  const message = document.getElementById("signin-message");
  for (;;) {
    const hadKey = storedKey() !== null;
    try {
      const access = await getJson("/access");
      describeAccess(access);
      form.hidden = true;
      return access;
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 401) {
        message.textContent = error.message;
      } else if (hadKey) {
        message.textContent =
          "That key was not accepted (401): check that it was copied whole, or ask for a new one.";
      } else {
        message.textContent = "";
      }
      forgetKey();
    }
    document.body.dataset.state = "signin";
    document.getElementById("loading").hidden = true;
    form.hidden = false;
    input.value = "";
    input.focus();
    await new Promise((resolve) => {
      form.addEventListener(
        "submit",
        (event) => {
          event.preventDefault();
          keepKey(input.value.trim());
          resolve();
        },
        { once: true },
      );
    });
  }
}

/** Says in `#access` what the key may see; offers to sign out when keys are in force. */
function describeAccess(access) {
  const text = document.getElementById("access");
  const signout = document.getElementById("signout");
  if (!access.keys_in_force) {
    text.textContent = "No API keys in force: this console sees every topic.";
    signout.hidden = true;
    return;
  }
  const topics = access.every_topic
    ? "every topic"
    : `only topics starting with ${access.topic_prefixes.map((prefix) => `“${prefix}”`).join(" or ")}`;
  const reads = access.scopes.includes("read")
    ? `may read ${topics}`
    : `cannot read events (scopes: ${access.scopes.join(", ")}); ask for a key with the read scope`;
  text.textContent = `Signed in with the key “${access.key}”: ${reads}.`;
  signout.hidden = false;
  signout.onclick = () => {
    forgetKey();
    window.location.reload();
  };
}
