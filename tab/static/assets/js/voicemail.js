// The agent's voicemail panel: my queues' messages, unhandled first. Play a recording
// (fetched with my token, played from a blob) and mark a message handled; every agent's
// Teams card then says who handled it. A card's "Listen" opens the workspace on one
// message: ?voicemail=<id> in a browser, subEntityId "voicemail:<id>" inside Teams.

import { ApiError, segment } from "./api.js";
import { duration, h, replaceChildren, toast } from "./dom.js";
import { timeElement } from "./format.js";
import { inMicrosoftHost, loadTeams } from "./host.js";

const BASE = "/api/tab/me/voicemails";
const TARGET = "voicemail:";

/** The voicemail a link asked for, if any. */
async function linkedVoicemail() {
  const fromQuery = new URLSearchParams(location.search).get("voicemail");
  if (fromQuery) return fromQuery;
  if (!inMicrosoftHost()) return null;
  try {
    const context = await (await loadTeams()).app.getContext();
    const sub = context.page?.subPageId || "";
    return sub.startsWith(TARGET) ? sub.slice(TARGET.length) : null;
  } catch {
    return null;
  }
}

/** Fetch a recording with the bearer token (an <audio src> cannot send one): a blob. */
async function fetchRecording(session, id) {
  const path = `${BASE}/${segment(id)}/audio`;
  const send = async (fresh) => fetch(path, { headers: { Authorization: `Bearer ${await session.token(fresh)}` } });
  let response = await send(false);
  if (response.status === 401) response = await send(true);
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
  return response.blob();
}

/** Add the voicemail panel to the workspace grid; return a function that removes it. */
export function mountVoicemails(grid, ctx) {
  if (!ctx.me.agent) return () => {};
  const body = h("div", { "aria-live": "polite" });
  const refresh = h("button", { type: "button", "aria-label": "Refresh voicemails" }, "Refresh");
  const section = h(
    "section",
    { class: "card span-all", id: "voicemail-card", "aria-labelledby": "voicemail-card-title" },
    h("header", {}, h("h2", { id: "voicemail-card-title" }, "Voicemail"), refresh),
    body,
  );
  grid.append(section);

  const recordings = new Map();
  let linked = null;
  let items = [];

  async function play(item, slot, button) {
    button.disabled = true;
    try {
      let url = recordings.get(item.id);
      if (!url) {
        url = URL.createObjectURL(await fetchRecording(ctx.session, item.id));
        recordings.set(item.id, url);
      }
      const audio = h("audio", { controls: true, src: url, "aria-label": `Voicemail from ${callerOf(item)}` });
      replaceChildren(slot, audio);
      audio.play().catch(() => {});
      audio.focus();
    } catch (error) {
      toast(`The recording could not be played: ${error.message}`, { error: true });
      button.disabled = false;
    }
  }

  async function markHandled(item, button) {
    button.disabled = true;
    try {
      await ctx.api.post(`${BASE}/${segment(item.id)}/handled`);
      toast("Voicemail marked handled");
    } catch (error) {
      toast(error.message, { error: true });
    }
    await load();
  }

  function callerOf(item) {
    return item.caller.displayName || item.caller.id || "Anonymous caller";
  }

  async function callBack(item, button) {
    button.disabled = true;
    try {
      const asked = await ctx.api.post(`${BASE}/${segment(item.id)}/callback`);
      toast(`Callback asked for: ${asked.queueName} calls ${asked.number.id} back`);
    } catch (error) {
      toast(error.message, { error: true });
      button.disabled = false;
    }
  }

  function row(item) {
    const slot = h("div", { class: "voicemail-player" });
    const actions = [];
    if (item.hasRecording) {
      const listen = h("button", { type: "button", "aria-label": `Play the voicemail from ${callerOf(item)}` }, "Play");
      listen.addEventListener("click", () => play(item, slot, listen));
      actions.push(listen);
    }
    if (item.caller.kind === "phone" && /^\+[1-9]\d{1,14}$/.test(item.caller.id)) {
      const back = h("button", { type: "button", "aria-label": `Call back ${callerOf(item)}` }, "Call back");
      back.addEventListener("click", () => callBack(item, back));
      actions.push(back);
    }
    if (!item.handledBy) {
      const done = h("button", { type: "button", class: "primary", "aria-label": `Mark the voicemail from ${callerOf(item)} handled` }, "Mark handled");
      done.addEventListener("click", () => markHandled(item, done));
      actions.push(done);
    }
    const status = item.handledBy
      ? h("span", { class: "badge success" }, `Handled by ${item.handledBy.displayName} · `, timeElement(item.handledAt))
      : h("span", { class: "badge warning" }, "New");
    return h(
      "li",
      { dataset: { voicemailId: item.id }, "aria-current": item.id === linked ? "true" : null, tabindex: "-1" },
      h(
        "div",
        {},
        h("strong", {}, callerOf(item)),
        " ",
        h("span", { class: "badge brand" }, item.queueName),
        " ",
        status,
        h(
          "div",
          { class: "muted" },
          timeElement(item.recordedAt),
          ` · ${duration(item.durationS)}`,
          item.ivrPath.length ? ` · ${item.ivrPath.join(" › ")}` : "",
          item.hasRecording ? "" : " · no recording",
        ),
        slot,
      ),
      h("div", { class: "form-actions" }, actions),
    );
  }

  function render() {
    if (!items.length) {
      replaceChildren(body, h("p", { class: "muted" }, "No voicemails in your queues."));
      return;
    }
    replaceChildren(body, h("ul", { class: "queue-list voicemail-list" }, items.map(row)));
  }

  async function load() {
    try {
      ({ voicemails: items } = await ctx.api.get(BASE));
      render();
    } catch (error) {
      replaceChildren(body, h("p", { class: "muted" }, `Voicemails could not be loaded: ${error.message}`));
    }
  }

  refresh.addEventListener("click", load);
  const onVisible = () => {
    if (document.visibilityState === "visible") load();
  };
  document.addEventListener("visibilitychange", onVisible);

  (async () => {
    linked = await linkedVoicemail();
    await load();
    if (linked) {
      const target = body.querySelector(`[data-voicemail-id="${CSS.escape(linked)}"]`);
      if (target) {
        target.scrollIntoView({ block: "center" });
        target.focus();
      } else {
        toast("That voicemail is not in your queues.", { error: true });
      }
    }
  })();

  return () => {
    document.removeEventListener("visibilitychange", onVisible);
    for (const url of recordings.values()) URL.revokeObjectURL(url);
    recordings.clear();
    section.remove();
  };
}
