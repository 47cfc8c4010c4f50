// Shared helpers of the upload page and the admin console: the stored API key, calls to the
// API with the key as a Bearer header, DOM building without innerHTML, copying, formatting.

export const KEY_STORAGE = "imghost.key";

export function loadKey() {
  try {
    return localStorage.getItem(KEY_STORAGE) || "";
  } catch {
    return "";
  }
}

export function saveKey(key) {
  try {
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
  } catch {
    // Storage may be disabled (private mode, policy): the key then lives in the field only.
  }
}

// Wire a key <input> and a "Forget key" button to localStorage; `onChange(key)` runs after
// every change (typing, forgetting), and once at start when a key was stored.
export function bindKeyField(input, forgetButton, onChange = () => {}) {
  input.value = loadKey();
  input.addEventListener("input", () => {
    saveKey(input.value.trim());
    onChange(input.value.trim());
  });
  forgetButton.addEventListener("click", () => {
    input.value = "";
    saveKey("");
    onChange("");
    input.focus();
  });
  return () => input.value.trim();
}

// Build an element: h("a", {href, class: "x", dataset: {id}}, "text", child…).
// Text is always set as text nodes, so nothing a server or a user sends is parsed as HTML.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name === "text") el.textContent = value;
    else if (name.startsWith("on")) throw new Error("use addEventListener, not on* attributes");
    else if (name in el && typeof value !== "string") el[name] = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el) {
  el.replaceChildren();
}

// An API failure: `message` is the server's own words.
export class ApiFailure extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// The message of an error body in either envelope: /v1's {"error": {"message", "code"}} or
// /api's {"success": false, "message", "code"}.
export function errorOf(body, status) {
  if (body && typeof body === "object") {
    if (body.error && typeof body.error === "object" && body.error.message) {
      return { message: String(body.error.message), code: body.error.code || "" };
    }
    if (typeof body.message === "string" && body.message) {
      return { message: body.message, code: body.code || "" };
    }
  }
  return { message: status ? `The server answered HTTP ${status}.` : "The server did not answer.", code: "" };
}

// Call the API with the key; resolve to the JSON body, reject with an ApiFailure.
export async function api(key, method, path, { json, query } = {}) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { Accept: "application/json" };
  if (key) headers.Authorization = `Bearer ${key}`;
  const init = { method, headers, credentials: "omit", cache: "no-store" };
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch {
    throw new ApiFailure(0, "Could not reach the server. Check your connection and try again.", "network");
  }
  let body = null;
  const text = await response.text();
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }
  if (!response.ok) {
    const { message, code } = errorOf(body, response.status);
    throw new ApiFailure(response.status, message, code);
  }
  return body;
}

// Copy text; resolves true when it worked. Falls back to a hidden textarea for browsers
// without the async clipboard (or without permission to use it).
export async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // fall through
  }
  const area = h("textarea", { class: "offscreen", readonly: true, "aria-hidden": "true" });
  area.value = text;
  document.body.append(area);
  area.select();
  let done = false;
  try {
    done = document.execCommand("copy");
  } catch {
    done = false;
  }
  area.remove();
  return done;
}

// A button that copies `getText()` and says so for a moment.
export function copyButton(label, getText, extra = {}) {
  const button = h("button", { type: "button", class: "button small", ...extra }, label);
  button.addEventListener("click", async () => {
    const ok = await copyText(getText());
    button.textContent = ok ? "Copied" : "Copy failed";
    button.classList.toggle("copied", ok);
    setTimeout(() => {
      button.textContent = label;
      button.classList.remove("copied");
    }, 1500);
  });
  return button;
}

const UNITS = ["B", "KB", "MB", "GB", "TB"];

export function formatBytes(n) {
  if (n === null || n === undefined) return "—";
  let value = Number(n);
  let unit = 0;
  while (Math.abs(value) >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

export function formatNumber(n) {
  return Number(n || 0).toLocaleString();
}

// A date and time; `short` leaves out the year when it is this year's.
export function formatTime(epochSeconds, { short = false } = {}) {
  if (epochSeconds === null || epochSeconds === undefined) return "never";
  const date = new Date(Number(epochSeconds) * 1000);
  const sameYear = date.getFullYear() === new Date().getFullYear();
  return date.toLocaleString(undefined, {
    year: short && sameYear ? undefined : "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
}

// "in 3 h", "2 d ago": a short relative time for expiries.
export function relativeTime(epochSeconds) {
  if (epochSeconds === null || epochSeconds === undefined) return "";
  const delta = Number(epochSeconds) - Date.now() / 1000;
  const abs = Math.abs(delta);
  const [amount, unit] =
    abs < 90 ? [Math.round(abs), "s"]
    : abs < 5400 ? [Math.round(abs / 60), "min"]
    : abs < 129600 ? [Math.round(abs / 3600), "h"]
    : [Math.round(abs / 86400), "d"];
  return delta >= 0 ? `in ${amount} ${unit}` : `${amount} ${unit} ago`;
}

// Show a message in a status element: kind is "error", "success" or "" (neutral).
export function say(el, text, kind = "") {
  el.textContent = text;
  el.classList.toggle("error", kind === "error");
  el.classList.toggle("success", kind === "success");
  el.hidden = !text;
}
