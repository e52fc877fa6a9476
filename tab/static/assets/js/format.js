// How the tab writes numbers and times. One time rule everywhere: the tenant's time zone,
// labelled ("10:18 AM EST", "Mar 2, 10:18 AM EST"), with the viewer's own time on hover
// where their zone differs. The cards write the very same strings (bot/cards/units.py).

/** A fraction as a percentage ("—" when undefined). */
export function percent(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  return `${(value * 100).toFixed(digits)}%`;
}

/** Seconds as m:ss or h:mm:ss ("—" when undefined). */
export function seconds(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  const total = Math.max(0, Math.round(Number(value)));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/** A count, grouped by thousands. */
export function count(value) {
  return Number(value || 0).toLocaleString();
}

let tenantZone = "UTC";

/** Set the tenant's time zone (from GET /api/tab/me), which times default to. */
export function setTenantTimeZone(timeZone) {
  tenantZone = timeZone || "UTC";
}

/** The tenant's time zone. */
export function tenantTimeZone() {
  return tenantZone;
}

/** The viewer's own time zone (their browser's). */
export function viewerTimeZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

const formatters = new Map();

/** The parts of an instant in a zone, in US English: month, day, year, hour... */
function partsOf(date, timeZone) {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      year: "numeric",
      month: "short",
      day: "numeric",
      hour: "numeric",
      minute: "2-digit",
      hour12: true,
      timeZoneName: "short",
    });
    formatters.set(timeZone, format);
  }
  const parts = {};
  for (const part of format.formatToParts(date)) parts[part.type] = part.value;
  return parts;
}

/** The zone's label at an instant, as US English writes it ("EST", "UTC", "GMT+1"). */
export function zoneLabel(iso, timeZone = tenantZone) {
  return partsOf(new Date(iso), timeZone).timeZoneName;
}

/** A time of day in a time zone, labelled ("10:18 AM EST"). */
export function clock(iso, timeZone = tenantZone) {
  if (!iso) return "";
  const p = partsOf(new Date(iso), timeZone);
  return `${p.hour}:${p.minute} ${p.dayPeriod} ${p.timeZoneName}`;
}

/** A date and time in a time zone, labelled ("Mar 2, 10:18 AM EST"; the year if not this one). */
export function dateTime(iso, timeZone = tenantZone) {
  if (!iso) return "";
  const p = partsOf(new Date(iso), timeZone);
  const thisYear = partsOf(new Date(), timeZone).year;
  const day = p.year === thisYear ? `${p.month} ${p.day}` : `${p.month} ${p.day}, ${p.year}`;
  return `${day}, ${p.hour}:${p.minute} ${p.dayPeriod} ${p.timeZoneName}`;
}

/** Today's times as a time of day, other days' with their date: labelled, in a zone. */
export function when(iso, timeZone = tenantZone) {
  if (!iso) return "";
  const sameDay = today(timeZone) === dayOf(iso, timeZone);
  return sameDay ? clock(iso, timeZone) : dateTime(iso, timeZone);
}

/** The viewer's own time of an instant, when their zone writes it differently; else "". */
export function viewerTime(iso, timeZone = tenantZone) {
  if (!iso) return "";
  const own = viewerTimeZone();
  if (own === timeZone) return "";
  const theirs = dateTime(iso, own);
  return theirs === dateTime(iso, timeZone) ? "" : theirs;
}

/**
 * A <time> element showing an instant in the tenant's zone, labelled; the viewer's own
 * time on hover (title) where their zone differs. ``withDate``: always show the date.
 */
export function timeElement(iso, { withDate = false, timeZone = tenantZone } = {}) {
  const element = document.createElement("time");
  if (!iso) return element;
  element.dateTime = new Date(iso).toISOString();
  element.textContent = withDate ? dateTime(iso, timeZone) : when(iso, timeZone);
  const own = viewerTime(iso, timeZone);
  if (own) element.title = `Your time: ${own}`;
  return element;
}

/** The date (YYYY-MM-DD) of an instant in a time zone. */
function dayOf(iso, timeZone) {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(new Date(iso));
  const get = (type) => parts.find((p) => p.type === type)?.value;
  return `${get("year")}-${get("month")}-${get("day")}`;
}

/** Today's date (YYYY-MM-DD) in a time zone. */
export function today(timeZone = tenantZone) {
  return dayOf(new Date().toISOString(), timeZone);
}

/** The date ``days`` before a YYYY-MM-DD date. */
export function daysBefore(isoDate, days) {
  const date = new Date(`${isoDate}T12:00:00Z`);
  date.setUTCDate(date.getUTCDate() - days);
  return date.toISOString().slice(0, 10);
}

export const OUTCOME_LABELS = {
  answered: "Answered",
  abandoned: "Abandoned",
  overflowed: "Overflowed",
  "timed-out": "Timed out",
  "no-agent": "No agent",
  voicemail: "Voicemail",
  "callback-requested": "Callback requested",
  rejected: "Rejected",
  transferred: "Transferred",
  failed: "Failed",
};

export const ALERT_LABELS = {
  "service-level": "Service level below target",
  "longest-wait": "Longest wait above limit",
  "queue-length": "Too many callers waiting",
};

/** Describe an alert in words ("Sales: 4 callers waiting, more than 3"). */
export function alertText(alert) {
  if (alert.kind === "service-level") {
    return `${alert.queueName}: service level ${percent(alert.value)}, below ${percent(alert.threshold)}`;
  }
  if (alert.kind === "longest-wait") {
    return `${alert.queueName}: a caller has waited ${seconds(alert.value)}, over ${seconds(alert.threshold)}`;
  }
  const callers = alert.value === 1 ? "caller" : "callers";
  return `${alert.queueName}: ${alert.value} ${callers} waiting, more than ${alert.threshold}`;
}
