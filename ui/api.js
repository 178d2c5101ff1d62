// The console's only way to the server: JSON requests to the aggregator's own API, with the
// key the user typed as a Bearer token (never in a URL), and failures turned into sentences.
// Requests carry no cookies and no browser credentials (`credentials: "omit"`), so a refused
// key is answered to the page, never by a browser's password dialog.

const KEY_ITEM = "aggregator.key";

/** The key kept for this tab, or null. */
export function storedKey() {
  return sessionStorage.getItem(KEY_ITEM);
}

export function keepKey(key) {
  sessionStorage.setItem(KEY_ITEM, key);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY_ITEM);
}

/** A refused or failed request, with the status (0 when the server could not be reached). */
export class ApiError extends Error {
  constructor(status, message, details) {
    super(message);
    this.status = status;
    this.details = details || [];
  }
}

/** Headers of every request: JSON, and the key when there is one. */
export function requestHeaders(extra = {}) {
  const headers = { Accept: "application/json", ...extra };
  const key = storedKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  return headers;
}

/** `path` with the non-empty `params` as its query string. */
export function urlOf(path, params = {}) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, String(value));
  }
  const query = search.toString();
  return query ? `${path}?${query}` : path;
}

const MAX_RETRIES = 3;

/**
 * GETs `path` and returns its JSON. A `429` (too many searches at once) is retried after the
 * server's `Retry-After`, a few times; every other failure throws an {@link ApiError}.
 */
export async function getJson(path, params = {}, signal = undefined) {
  for (let attempt = 0; ; attempt += 1) {
    let response;
    try {
      response = await fetch(urlOf(path, params), {
        headers: requestHeaders(),
        credentials: "omit",
        cache: "no-store",
        signal,
      });
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new ApiError(0, "The aggregator cannot be reached. Is it running?");
    }
    if (response.ok) return response.json();
    if (response.status === 429 && attempt < MAX_RETRIES) {
      const seconds = Number(response.headers.get("Retry-After")) || 1;
      await delay(Math.min(seconds, 5) * 1000, signal);
      continue;
    }
    throw await errorOf(response);
  }
}

function delay(millis, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, millis);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(new DOMException("aborted", "AbortError"));
    });
  });
}

/** The failure of `response` in words, with the server's own message and details. */
export async function errorOf(response) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy's page): the status alone says enough.
  }
  const said = body.error ? `: ${body.error}` : "";
  const details = Array.isArray(body.details) ? body.details : [];
  switch (response.status) {
    case 400: {
      const reasons = details.map((issue) => `${issue.field}: ${issue.reason}`).join("; ");
      return new ApiError(400, `The request was refused: ${reasons || body.error || "bad request"}.`, details);
    }
    case 401:
      return new ApiError(401, "The key was not accepted (401): it is missing, mistyped or revoked.");
    case 403:
      return new ApiError(403, `Your key does not allow this (403)${said}.`);
    case 429:
      return new ApiError(429, "The aggregator is busy with other searches (429); try again in a moment.");
    case 503:
      return new ApiError(503, `The aggregator cannot answer right now (503)${said}.`);
    default:
      return new ApiError(response.status, `The aggregator answered ${response.status}${said}.`);
  }
}
