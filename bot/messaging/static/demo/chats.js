// The demo's Teams chats: the simulator's conversations with the bot, its cards rendered by
// Microsoft's Adaptive Cards library, and its buttons pressed through the real invoke path.

const POLL_MS = 2000;
const API = "/demo/api";

// Close to the Teams light theme (the same host config the card rendering tests use).
const HOST_CONFIG = {
  fontFamily: "'Segoe UI', system-ui, sans-serif",
  spacing: { small: 4, default: 8, medium: 16, large: 20, padding: 16 },
  containerStyles: {
    default: {
      backgroundColor: "#FFFFFF",
      foregroundColors: {
        default: { default: "#242424", subtle: "#616161" },
        accent: { default: "#5B5FC7", subtle: "#444791" },
        good: { default: "#237B4B", subtle: "#1B5E3A" },
        warning: { default: "#835B00", subtle: "#6A4A00" },
        attention: { default: "#C4314B", subtle: "#A72037" },
      },
    },
    emphasis: { backgroundColor: "#F5F5F5" },
    attention: { backgroundColor: "#FDF3F4" },
  },
  actions: { actionsOrientation: "horizontal", buttonSpacing: 8, maxActions: 6 },
};

const Cards = window.AdaptiveCards;
const hostConfig = Cards ? new Cards.HostConfig(HOST_CONFIG) : null;

const state = {
  conversations: [],
  people: [],
  selected: null,
  // Who writes in each channel (a 1:1 chat has only its own user).
  actingAs: new Map(),
  // A pressed card shows the bot's answer until the bot updates the card itself:
  // activity id -> {card, statusCode, version (the card's version when pressed)}.
  answers: new Map(),
  notes: new Map(),
  pending: new Set(),
  rendered: new Map(),
  timer: null,
  running: null,
};

// The conversation on screen, as last fetched.
let currentConversation = null;

const $ = (id) => document.getElementById(id);

function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") element.className = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

function initials(name) {
  const parts = String(name || "?").split(/\s+/).filter(Boolean);
  return parts.slice(0, 2).map((part) => part[0].toUpperCase()).join("") || "?";
}

function time(at) {
  if (!at) return "";
  const date = new Date(at);
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

async function api(path, options = {}) {
  const init = { ...options, headers: { Accept: "application/json" } };
  if (options.body !== undefined) {
    init.method = init.method || "POST";
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(options.body);
  }
  const response = await fetch(`${API}${path}`, init);
  const body = response.headers.get("Content-Type")?.includes("application/json")
    ? await response.json()
    : null;
  if (!response.ok) {
    const error = new Error(body?.error?.message || `the host answered ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

const conversationPath = (id) => `/conversations/${encodeURIComponent(id)}`;

function setLive(live, text) {
  const badge = $("live");
  badge.dataset.state = live ? "live" : "offline";
  badge.textContent = text;
}

function showBanner(text) {
  const banner = $("banner");
  banner.hidden = !text;
  banner.textContent = text || "";
}

// ------------------------------------------------------------------- the chat list
function renderList() {
  const list = $("conversations");
  const hadFocus = list.contains(document.activeElement)
    ? document.activeElement.dataset.conversationId
    : null;
  list.replaceChildren(
    ...state.conversations.map((conversation) => {
      const channel = conversation.kind !== "personal";
      const button = h(
        "button",
        {
          type: "button",
          dataset: { conversationId: conversation.id },
          "aria-current": conversation.id === state.selected ? "true" : null,
        },
        h("span", { class: `avatar${channel ? " channel" : ""}`, "aria-hidden": "true" },
          channel ? "#" : initials(conversation.title)),
        h("span", {},
          h("span", { class: "chat-name" }, conversation.title),
          h("span", { class: "chat-meta" }, conversation.subtitle)),
        conversation.cards
          ? h("span", { class: "badge", title: "Cards in this chat" }, conversation.cards)
          : null,
      );
      button.addEventListener("click", () => select(conversation.id));
      return h("li", {}, button);
    }),
  );
  if (hadFocus) list.querySelector(`[data-conversation-id="${CSS.escape(hadFocus)}"]`)?.focus();
  $("no-chats").hidden = state.conversations.length > 0;

  const without = state.people.filter((person) => !person.hasChat);
  $("add-app").hidden = without.length === 0;
  $("people").replaceChildren(
    ...without.map((person) => {
      const button = h(
        "button",
        { type: "button", dataset: { userId: person.id } },
        h("span", { class: "avatar", "aria-hidden": "true" }, initials(person.displayName)),
        h("span", {},
          h("span", { class: "chat-name" }, person.displayName),
          h("span", { class: "chat-meta" }, "Add the Contact Center app")),
      );
      button.addEventListener("click", () => install(person, button));
      return h("li", {}, button);
    }),
  );
}

async function install(person, button) {
  button.disabled = true;
  try {
    const { conversationId } = await api(`/people/${encodeURIComponent(person.id)}/install`, {
      body: {},
    });
    setSelected(conversationId);
  } catch (error) {
    showBanner(`The app could not be added for ${person.displayName}: ${error.message}`);
    button.disabled = false;
  }
  await refreshNow();
}

function setSelected(id) {
  if (id === state.selected) return;
  state.selected = id;
  currentConversation = null;
  history.replaceState(null, "", id ? `#${encodeURIComponent(id)}` : location.pathname);
  for (const element of state.rendered.values()) element.remove();
  state.rendered.clear();
  showBanner("");
}

function select(id) {
  if (id === state.selected) return;
  setSelected(id);
  renderList();
  refreshNow();
}

// ------------------------------------------------------------------- a conversation
function renderHeader(conversation) {
  $("chat-title").textContent = conversation.title;
  $("chat-subtitle").textContent = conversation.subtitle;
  document.title = `${conversation.title} · Teams chats · Contact Center demo`;
  const picker = $("acting-as");
  const people = conversation.userId
    ? state.people.filter((person) => person.id === conversation.userId)
    : state.people;
  const current =
    conversation.userId ||
    state.actingAs.get(conversation.id) ||
    lastWriter(conversation) ||
    people[0]?.id;
  const options = people.map((person) => [person.id, person.displayName]);
  const signature = JSON.stringify([options, current]);
  if (picker.dataset.signature !== signature) {
    picker.replaceChildren(
      ...options.map(([id, name]) => h("option", { value: id, selected: id === current }, name)),
    );
    picker.dataset.signature = signature;
  }
  picker.disabled = Boolean(conversation.userId);
  $("composer").hidden = people.length === 0;
}

function lastWriter(conversation) {
  const written = conversation.messages.filter((message) => message.from === "user");
  return written.length ? written[written.length - 1].userId : null;
}

function actingAs() {
  return $("acting-as").value;
}

function renderMessages(conversation) {
  const list = $("messages");
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  const seen = new Set();
  let added = false;
  conversation.messages.forEach((message, index) => {
    seen.add(message.id);
    const answer = state.answers.get(message.id);
    if (answer && answer.version !== message.version) state.answers.delete(message.id);
    const signature = JSON.stringify([
      message,
      state.answers.get(message.id) || null,
      state.notes.get(message.id) || null,
      state.pending.has(message.id),
    ]);
    let element = state.rendered.get(message.id);
    if (!element || element.dataset.signature !== signature) {
      const fresh = messageElement(conversation, message);
      fresh.dataset.signature = signature;
      if (element) element.replaceWith(fresh);
      else added = true;
      element = fresh;
      state.rendered.set(message.id, element);
    }
    if (list.children[index] !== element) list.insertBefore(element, list.children[index] || null);
  });
  for (const [id, element] of state.rendered) {
    if (!seen.has(id)) {
      element.remove();
      state.rendered.delete(id);
    }
  }
  if (added && (nearBottom || list.dataset.conversationId !== conversation.id)) {
    list.scrollTop = list.scrollHeight;
  }
  list.dataset.conversationId = conversation.id;
  list.setAttribute("aria-busy", "false");
}

function messageElement(conversation, message) {
  if (message.from === "system") {
    return h("li", { class: "message from-system", dataset: { messageId: message.id } },
      `${message.text} ${time(message.at)}`);
  }
  const answer = state.answers.get(message.id);
  const card = answer?.card || message.card;
  const updated = message.updated || Boolean(answer);
  const head = h(
    "div",
    { class: "message-head" },
    h("span", { class: "author" }, message.author),
    h("time", { datetime: message.at || "" }, time(message.at)),
    updated
      ? h("span", { class: "badge brand", title: updatedTitle(message, answer) }, "Updated")
      : null,
  );
  const body = h("div", { class: "message-body" }, head);
  if (message.text && !card) body.append(h("div", { class: "bubble" }, message.text));
  if (card) body.append(cardElement(conversation, message, card));
  const note = state.notes.get(message.id);
  if (note) {
    const kind = `card-note${note.error ? " error" : ""}`;
    body.append(h("p", { class: kind, role: "status" }, note.text));
  }
  return h(
    "li",
    {
      class: `message from-${message.from}`,
      dataset: { messageId: message.id, version: message.version || 1 },
      "aria-busy": state.pending.has(message.id) ? "true" : null,
    },
    h("span", { class: "avatar", "aria-hidden": "true" },
      message.from === "bot" ? "CC" : initials(message.author)),
    body,
  );
}

function updatedTitle(message, answer) {
  if (answer) return "The bot answered the button you pressed with this card";
  if (!message.updatedAt) return "Updated by the bot";
  return `Updated by the bot at ${time(message.updatedAt)}`;
}

function cardElement(conversation, message, json) {
  const holder = h("div", { class: "adaptive-card" });
  if (!Cards) {
    holder.append(h("div", { class: "bubble" }, json.fallbackText || "(an Adaptive Card)"));
    return holder;
  }
  const card = new Cards.AdaptiveCard();
  card.hostConfig = hostConfig;
  card.onExecuteAction = (action) => execute(conversation, message, action);
  try {
    card.parse(json);
    const rendered = card.render();
    if (rendered) holder.append(rendered);
  } catch (error) {
    holder.append(h("div", { class: "bubble" }, `This card could not be shown: ${error.message}`));
  }
  if (state.pending.has(message.id)) {
    for (const button of holder.querySelectorAll("button")) button.disabled = true;
  }
  return holder;
}

async function execute(conversation, message, action) {
  if (action instanceof Cards.OpenUrlAction) {
    window.open(action.url, "_blank", "noopener,noreferrer");
    return;
  }
  if (!(action instanceof Cards.ExecuteAction)) {
    const text = `${action.getJsonTypeName()} is not used by this bot.`;
    state.notes.set(message.id, { error: true, text });
    refreshNow();
    return;
  }
  if (state.pending.has(message.id)) return;
  state.pending.add(message.id);
  state.notes.set(message.id, { error: false, text: "Sending…" });
  if (currentConversation) renderMessages(currentConversation);
  try {
    const answer = await api(`${conversationPath(conversation.id)}/invoke`, {
      body: {
        verb: action.verb,
        data: action.data || {},
        conversationId: conversation.id,
        userId: actingAs(),
        activityId: message.id,
      },
    });
    if (answer.card) {
      state.answers.set(message.id, {
        card: answer.card,
        statusCode: answer.statusCode,
        version: message.version,
      });
    }
    if (answer.statusCode && answer.statusCode !== 200) {
      state.notes.set(message.id, { error: true, text: `The bot answered ${answer.statusCode}.` });
    } else {
      state.notes.delete(message.id);
    }
  } catch (error) {
    state.notes.set(message.id, { error: true, text: `Not sent: ${error.message}` });
  } finally {
    state.pending.delete(message.id);
  }
  await refreshNow();
}

async function sendMessage(text) {
  const conversation = currentConversation;
  if (!conversation || !text.trim()) return;
  const input = $("message-text");
  input.disabled = true;
  try {
    await api(`${conversationPath(conversation.id)}/messages`, {
      body: { text, userId: actingAs() },
    });
    input.value = "";
    showBanner("");
  } catch (error) {
    showBanner(`The message was not sent: ${error.message}`);
  } finally {
    input.disabled = false;
    input.focus();
  }
  await refreshNow();
}

// ------------------------------------------------------------------- polling
async function refresh() {
  try {
    const listing = await api("/conversations");
    state.conversations = listing.conversations;
    state.people = listing.people;
    if (!state.conversations.some((c) => c.id === state.selected)) {
      setSelected(state.conversations[0]?.id || null);
    }
    renderList();
    if (state.selected) {
      const conversation = await api(conversationPath(state.selected));
      if (conversation.id === state.selected) {
        currentConversation = conversation;
        renderHeader(conversation);
        renderMessages(conversation);
      }
    }
    setLive(true, "Live");
  } catch (error) {
    setLive(false, `Offline: ${error.message}`);
  }
}

function refreshNow() {
  clearTimeout(state.timer);
  // One refresh at a time; a request meanwhile runs once the current one is done.
  state.running = (state.running || Promise.resolve()).then(refresh).finally(() => {
    clearTimeout(state.timer);
    state.timer = setTimeout(refreshNow, POLL_MS);
  });
  return state.running;
}

function start() {
  if (!Cards) {
    showBanner(
      "The Adaptive Cards library is not installed on this host (run npm ci): " +
        "cards show only their fallback text.",
    );
  }
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    sendMessage($("message-text").value);
  });
  for (const button of document.querySelectorAll("[data-command]")) {
    button.addEventListener("click", () => sendMessage(button.dataset.command));
  }
  $("acting-as").addEventListener("change", () => {
    if (currentConversation) state.actingAs.set(currentConversation.id, actingAs());
  });
  // A chat named in the address (#<conversation id>) opens first.
  state.selected = decodeURIComponent(location.hash.slice(1)) || null;
  refreshNow();
}

start();
