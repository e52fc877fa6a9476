// The admin console's prompt library: upload WAV prompts, play them, delete unused ones.

import { ApiError, segment } from "./api.js";
import { confirmTwice, errorSummary, showErrors } from "./admin_form.js";
import { duration, h, replaceChildren, toast, when } from "./dom.js";

const PROMPTS = "/api/tab/admin/prompts";

/** Send a request whose body or answer is not JSON, with the bearer token (fresh once on 401). */
async function requestRaw(api, path, init, fresh = false) {
  const token = await api.session.token(fresh);
  const response = await fetch(path, { ...init, headers: { ...(init.headers || {}), Authorization: `Bearer ${token}` } });
  if (response.status === 401 && !fresh) return requestRaw(api, path, init, true);
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
  return response;
}

function size(bytes) {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1024))} KB`;
}

function usedBy(prompt) {
  if (!prompt.usedBy.length) return h("span", { class: "muted" }, "Not used");
  return prompt.usedBy.map((use) => `${use.kind === "ivr" ? "IVR" : "Queue"} ${use.name} (${use.usage})`).join(", ");
}

/** Render the prompt library into ``card`` (a section element). */
export async function showPromptLibrary(card, ctx) {
  const { prompts, maxBytes } = await ctx.api.get(PROMPTS);
  const limit = `A PCM WAV file (8-32-bit, mono or stereo, 8-48 kHz), at most ${size(maxBytes)}; stored as 16 kHz mono.`;
  const summary = errorSummary();
  const form = h(
    "form",
    { id: "prompt-upload-form", novalidate: true, "aria-label": "Upload a prompt" },
    summary,
    h(
      "div",
      { class: "form-grid" },
      h(
        "div",
        { class: "field" },
        h("label", { for: "prompt-file" }, "WAV file"),
        h("input", { id: "prompt-file", name: "file", type: "file", accept: ".wav,audio/wav,audio/x-wav", required: true, "data-field": "file", "aria-describedby": "prompt-file-hint" }),
        h("span", { class: "hint", id: "prompt-file-hint" }, limit),
      ),
      h("div", { class: "field" }, h("label", { for: "prompt-name" }, "Name"), h("input", { id: "prompt-name", name: "name", required: true, maxlength: 100, autocomplete: "off", "data-field": "name" })),
      h(
        "div",
        { class: "field" },
        h("label", { for: "prompt-language" }, "Language"),
        h("input", { id: "prompt-language", name: "language", value: "en-US", maxlength: 6, autocomplete: "off", "data-field": "language", "aria-describedby": "prompt-language-hint" }),
        h("span", { class: "hint", id: "prompt-language-hint" }, "A language tag such as en-US."),
      ),
    ),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "primary", id: "prompt-upload" }, "Upload")),
  );
  const fileInput = form.querySelector("#prompt-file");
  const nameInput = form.querySelector("#prompt-name");
  fileInput.addEventListener("change", () => {
    const file = fileInput.files[0];
    if (file && !nameInput.value.trim()) nameInput.value = file.name.replace(/\.wav$/i, "");
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = fileInput.files[0];
    if (!file) {
      showErrors(form, summary, new ApiError(422, { error: { message: "choose a file", details: [{ field: "file", message: "choose a WAV file" }] } }));
      return;
    }
    const button = form.querySelector("#prompt-upload");
    button.disabled = true;
    try {
      const query = new URLSearchParams({ name: nameInput.value.trim(), language: form.elements.language.value.trim() });
      const response = await requestRaw(ctx.api, `${PROMPTS}?${query}`, { method: "POST", body: file, headers: { "Content-Type": file.type || "application/octet-stream" } });
      const created = await response.json();
      toast(`Uploaded ${created.name}`);
      await showPromptLibrary(card, ctx);
    } catch (error) {
      button.disabled = false;
      showErrors(form, summary, error);
    }
  });

  const player = h("audio", { id: "prompt-player", controls: true, preload: "none", hidden: true, "aria-label": "Prompt player" });
  let playing = null;
  const play = async (prompt, button) => {
    button.disabled = true;
    try {
      const response = await requestRaw(ctx.api, `${PROMPTS}/${segment(prompt.id)}/audio`, { method: "GET" });
      const url = URL.createObjectURL(await response.blob());
      if (playing) URL.revokeObjectURL(playing);
      playing = url;
      player.src = url;
      player.hidden = false;
      player.setAttribute("aria-label", `Playing ${prompt.name}`);
      await player.play().catch(() => undefined);
    } catch (error) {
      toast(error.message, { error: true });
    } finally {
      button.disabled = false;
    }
  };

  const rows = prompts.map((prompt) => {
    const playButton = h("button", { type: "button", class: "small", "aria-label": `Play ${prompt.name}` }, "Play");
    playButton.addEventListener("click", () => play(prompt, playButton));
    const remove = h("button", { type: "button", class: "small danger", "aria-label": `Delete ${prompt.name}`, disabled: prompt.usedBy.length > 0, title: prompt.usedBy.length ? "In use: change the queues and IVRs that play it first" : null }, "Delete");
    confirmTwice(remove, "Select again to delete", async () => {
      try {
        await ctx.api.delete(`${PROMPTS}/${segment(prompt.id)}`);
        toast(`Deleted ${prompt.name}`);
        await showPromptLibrary(card, ctx);
      } catch (error) {
        const details = error.details.map((d) => d.message).join("; ");
        toast(details ? `${error.message}: ${details}` : error.message, { error: true });
      }
    });
    return h(
      "tr",
      { dataset: { promptId: prompt.id } },
      h("th", { scope: "row" }, prompt.name),
      h("td", {}, prompt.language),
      h("td", { class: "num" }, duration(prompt.durationS)),
      h("td", { class: "num" }, size(prompt.sizeBytes)),
      h("td", {}, `${when(prompt.uploadedAt)} · ${prompt.uploadedByName}`),
      h("td", {}, usedBy(prompt)),
      h("td", {}, playButton, " ", remove),
    );
  });

  replaceChildren(
    card,
    h("header", {}, h("h2", { id: "prompt-library-title" }, "Prompt library")),
    h("p", { class: "muted" }, "Greetings, music and messages queues and IVRs play. Graph fetches them from this host."),
    rows.length
      ? h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { id: "prompts-table" },
            h("caption", { class: "visually-hidden" }, "Uploaded prompts"),
            h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Language"), h("th", { scope: "col", class: "num" }, "Length"), h("th", { scope: "col", class: "num" }, "Size"), h("th", { scope: "col" }, "Uploaded"), h("th", { scope: "col" }, "Used by"), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
            h("tbody", {}, rows),
          ),
        )
      : h("p", { id: "prompts-empty" }, "No prompts uploaded yet: queues play the standard set."),
    player,
    h("h3", {}, "Upload a prompt"),
    form,
  );
}
