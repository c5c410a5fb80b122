// The signed-in session: the API key (kept in the tab's session storage), the calls made with
// it (a 401 signs out), the policy read once per sign-in, and the live stream read from
// /v1/stream with fetch (EventSource cannot send the key).

import { h, onCleanup } from "./dom.js";

const KEY_STORE = "stepwise.key";
// ---------------------------------------------------------------------------------------------
// The key and the API

class ApiError extends Error {
  constructor(status, body) {
    const err = (body && (body.error || body)) || {};
    super(err.message || `HTTP ${status}`);
    this.status = status;
    this.code = err.code || "http_" + status;
    this.field = err.field || null;
  }
}

function errorText(e) {
  if (e instanceof ApiError) {
    return `Refused (${e.status} ${e.code}): ${e.message}` + (e.field ? ` [field: ${e.field}]` : "");
  }
  return `Error: ${e && e.message ? e.message : e}`;
}

const getKey = () => sessionStorage.getItem(KEY_STORE);

/** The signed-in key (GET /v1/whoami), or null. */
let me = null;
function setMe(whoami) {
  me = whoami;
}

/** Announces `signed-out` (with the message to show) when the key is dropped or refused. */
const session = new EventTarget();

function signOut(message) {
  sessionStorage.removeItem(KEY_STORE);
  me = null;
  policyPromise = null;
  stopStream();
  session.dispatchEvent(new CustomEvent("signed-out", { detail: message }));
}

/** A `#key=…` fragment signs in and is removed from the address at once. */
function takeKeyFromFragment() {
  const m = /^#key=([^&]+)/.exec(location.hash);
  if (!m) return;
  sessionStorage.setItem(KEY_STORE, decodeURIComponent(m[1]));
  history.replaceState(history.state, "", location.pathname + location.search);
}

/** Calls the API with the key; a 401 signs out and asks for a key again. */
async function api(path, { method = "GET", body, text = false, signal } = {}) {
  const headers = { Authorization: `Bearer ${getKey()}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  if (!res.ok) {
    let parsed = null;
    try {
      parsed = await res.json();
    } catch {
      parsed = null;
    }
    const e = new ApiError(res.status, parsed);
    if (res.status === 401) signOut(`The key was refused: ${e.message}`);
    throw e;
  }
  return text ? res.text() : res.json();
}

const enc = encodeURIComponent;

// The policy changes only when the server restarts: read it once per sign-in.
let policyPromise = null;
function getPolicy() {
  if (!policyPromise) {
    policyPromise = api("/v1/policy");
    policyPromise.catch(() => (policyPromise = null));
  }
  return policyPromise;
}

function errorBox(e) {
  return h("p", { class: "error", role: "alert" }, errorText(e));
}

// ---------------------------------------------------------------------------------------------
// Live updates: /v1/stream read with fetch (EventSource cannot send the key)

const live = new EventTarget();
let streamCtl = null;

function setLive(state) {
  const el = document.getElementById("live");
  el.dataset.live = state;
  el.textContent = `live: ${state}`;
}

function stopStream() {
  if (streamCtl) streamCtl.abort();
  streamCtl = null;
  setLive("off");
}

function startStream() {
  if (streamCtl) return;
  const ctl = new AbortController();
  streamCtl = ctl;
  (async () => {
    let delay = 1000;
    while (!ctl.signal.aborted) {
      try {
        const res = await fetch("/v1/stream", {
          headers: { Authorization: `Bearer ${getKey()}`, Accept: "text/event-stream" },
          signal: ctl.signal,
        });
        if (res.status === 401) return signOut("The key was refused by the live stream.");
        if (!res.ok || !res.body) throw new Error(`stream answered ${res.status}`);
        setLive("on");
        delay = 1000;
        await readEvents(res.body.getReader(), ctl.signal);
      } catch {
        // a dropped or refused stream: try again below, after a pause
      }
      if (ctl.signal.aborted) return;
      setLive("reconnecting");
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 30000);
    }
  })();
}

/** Reads server-sent events (event:/data: lines, a blank line ends one) and dispatches them. */
async function readEvents(reader, signal) {
  const decoder = new TextDecoder();
  let buffer = "";
  let type = "message";
  let data = [];
  while (!signal.aborted) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let nl;
    while ((nl = buffer.search(/\r?\n/)) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(buffer[nl] === "\r" ? nl + 2 : nl + 1);
      if (line === "") {
        if (data.length) {
          let detail = data.join("\n");
          try {
            detail = JSON.parse(detail);
          } catch {
            // not JSON: pass the text on
          }
          live.dispatchEvent(new CustomEvent(type, { detail }));
        }
        type = "message";
        data = [];
      } else if (line.startsWith(":")) {
        // a comment (keep-alive)
      } else {
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const val = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") type = val;
        else if (field === "data") data.push(val);
      }
    }
  }
}

/** Calls fn (at most every `ms`) when the log grows, until the view changes. */
function onLogGrowth(fn, ms = 1000) {
  let timer = null;
  let last = 0;
  const handler = () => {
    if (timer) return;
    const wait = Math.max(0, last + ms - Date.now());
    timer = setTimeout(() => {
      timer = null;
      last = Date.now();
      fn();
    }, wait);
  };
  // `lagged`: the server dropped announcements for this stream; read everything again too.
  live.addEventListener("log", handler);
  live.addEventListener("lagged", handler);
  onCleanup(() => {
    live.removeEventListener("log", handler);
    live.removeEventListener("lagged", handler);
    if (timer) clearTimeout(timer);
  });
}

export { ApiError, KEY_STORE, api, enc, errorBox, errorText, getKey, getPolicy, me, onLogGrowth, session, setMe, signOut, startStream, takeKeyFromFragment };
