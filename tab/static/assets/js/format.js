// Number and time formats of the analytics views; times in the tenant's time zone.

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

/** A time of day in a time zone ("09:42"). */
export function clock(iso, timeZone) {
  if (!iso) return "";
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", timeZone });
}

/** A date and time in a time zone. */
export function dateTime(iso, timeZone) {
  if (!iso) return "";
  return new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short", timeZone });
}

/** Today's date (YYYY-MM-DD) in a time zone. */
export function today(timeZone) {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(new Date());
  const get = (type) => parts.find((p) => p.type === type)?.value;
  return `${get("year")}-${get("month")}-${get("day")}`;
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
