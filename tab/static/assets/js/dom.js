// Small DOM helpers: build elements node by node, never from HTML strings.

/**
 * Create an element: h("button", {class: "primary", onclick: fn}, "Save").
 * Attributes starting with "on" become listeners; true/false toggle boolean attributes;
 * null and undefined are skipped; children may be strings, nodes, arrays or null.
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else if (name === "value") {
      element.value = value;
    } else if (name === "checked" || name === "selected") {
      element[name] = Boolean(value);
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : String(child));
  }
}

/** Replace an element's children. */
export function replaceChildren(element, ...children) {
  element.replaceChildren();
  append(element, children);
}

/** Format seconds as m:ss (or h:mm:ss). */
export function duration(totalSeconds) {
  const seconds = Math.max(0, Math.round(Number(totalSeconds) || 0));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = String(seconds % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/** Format a timestamp for people: today's as a time, older ones with the date (format.js). */
export { when } from "./format.js";

/** Return the initials of a name, for avatars. */
export function initials(name) {
  const parts = String(name || "?").trim().split(/\s+/);
  return ((parts[0]?.[0] || "") + (parts.length > 1 ? parts[parts.length - 1][0] : "")).toUpperCase();
}

let toastHost = null;

/** Show a short message in the corner (announced politely to screen readers). */
export function toast(message, { error = false } = {}) {
  toastHost ??= document.getElementById("toasts");
  if (!toastHost) return;
  const item = h("div", { class: error ? "toast error" : "toast" }, message);
  toastHost.append(item);
  setTimeout(() => item.remove(), error ? 8000 : 4000);
}

export const STATUS_LABELS = {
  available: "Available",
  away: "Away",
  "do-not-disturb": "Do not disturb",
  offline: "Offline",
};

export const ACTIVITY_LABELS = {
  idle: "Idle",
  ringing: "Ringing",
  "on-call": "On a call",
  "wrap-up": "Wrap-up",
};

export const ROLE_LABELS = { admin: "Admin", supervisor: "Supervisor", agent: "Agent" };
