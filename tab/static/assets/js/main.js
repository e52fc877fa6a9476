// The tab's entry point: sign in (Teams SSO, or the demo picker), then show the view.

import { renderAdmin } from "./admin.js";
import { renderAgent } from "./agent.js";
import { Api, ApiError } from "./api.js";
import { h, replaceChildren, ROLE_LABELS } from "./dom.js";
import { setTenantTimeZone } from "./format.js";
import { chosenTheme, followTeamsTheme, inMicrosoftHost, loadTeams, useBrowserTheme } from "./host.js";
import { LiveFeed } from "./live.js";
import { DemoSession, demoSignIn, TeamsSession } from "./session.js";
import { renderReports } from "./reports.js";
import { renderStaffing } from "./staffing.js";
import { renderSupervise } from "./supervise.js";
import { renderWallboard } from "./wallboard.js";

const main = document.getElementById("main");

function problem(title, text) {
  replaceChildren(main, h("section", { class: "card sign-in", role: "alert" }, h("h1", {}, title), h("p", {}, text)));
}

function allowedViews(roles) {
  const views = [];
  const supervises = roles.includes("supervisor") || roles.includes("admin");
  if (roles.includes("agent")) views.push("agent");
  if (roles.length) views.push("wallboard");
  if (roles.length) views.push("reports");
  if (supervises) views.push("supervise", "staffing");
  if (roles.includes("admin")) views.push("admin");
  return views;
}

function chooseView(me) {
  const wanted = new URLSearchParams(location.search).get("view");
  const allowed = allowedViews(me.user.roles);
  if (wanted && allowed.includes(wanted)) return wanted;
  if (wanted === "admin") return "not-admin";
  return allowed[0] || "none";
}

function renderHeader(me, view, session, inHost) {
  document.getElementById("tenant-name").textContent = me.tenant.name;
  const roles = me.user.roles.map((r) => ROLE_LABELS[r] || r).join(", ");
  document.getElementById("who").textContent = `${me.user.displayName}${roles ? ` (${roles})` : ""}`;
  const nav = document.getElementById("app-nav");
  const allowed = allowedViews(me.user.roles);
  for (const link of nav.querySelectorAll("a")) {
    link.parentElement.hidden = !allowed.includes(link.dataset.view);
    if (link.dataset.view === view) link.setAttribute("aria-current", "page");
  }
  // Inside Teams each view is its own tab: the app's own navigation would repeat it.
  nav.hidden = inHost || allowed.length < 2;
  if (session.demo) {
    const signOut = document.getElementById("sign-out");
    signOut.hidden = false;
    signOut.addEventListener("click", () => DemoSession.signOut());
  }
}

async function signIn(inHost) {
  if (inHost) {
    const teams = await loadTeams();
    await followTeamsTheme(teams);
    return new TeamsSession(teams);
  }
  const picker = document.getElementById("theme-picker");
  const select = document.getElementById("theme-select");
  picker.hidden = false;
  select.value = chosenTheme();
  useBrowserTheme(select.value);
  select.addEventListener("change", () => useBrowserTheme(select.value));
  return DemoSession.restore() || (await demoSignIn(main));
}

async function start() {
  const inHost = inMicrosoftHost();
  let session;
  try {
    session = await signIn(inHost);
  } catch (error) {
    problem("Could not sign in", error.message);
    return;
  }
  if (!session) {
    problem("Open this app in Microsoft Teams", "The contact center signs you in through Teams. Add the app in Teams, or ask your administrator for it.");
    return;
  }
  const api = new Api(session);
  let me;
  try {
    me = await api.get("/api/tab/me");
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) {
      problem("No access yet", error.message);
    } else {
      problem("Something went wrong", error.message);
    }
    if (inHost) (await loadTeams()).app.notifyFailure?.({ reason: "AuthFailed", message: error.message });
    return;
  }
  if (inHost) (await loadTeams()).app.notifySuccess();
  setTenantTimeZone(me.tenant.timeZone);
  const view = chooseView(me);
  renderHeader(me, view, session, inHost);
  const listeners = new Set();
  const ctx = { api, me, session, onLive: (listener) => listeners.add(listener) };
  replaceChildren(main);
  if (view === "agent") renderAgent(main, ctx);
  else if (view === "admin") renderAdmin(main, ctx);
  else if (view === "wallboard") renderWallboard(main, ctx);
  else if (view === "reports") renderReports(main, ctx);
  else if (view === "supervise") renderSupervise(main, ctx);
  else if (view === "staffing") renderStaffing(main, ctx);
  else if (view === "not-admin") {
    problem("Admins only", "The admin console needs the admin role. Ask an admin of your organization.");
    return;
  } else {
    problem("No role yet", "You have no role in the contact center yet. Ask an admin of your organization.");
    return;
  }
  const live = new LiveFeed(session, (event, data) => {
    for (const listener of listeners) listener(event, data);
  });
  live.start();
  document.body.dataset.ready = view;
}

start();
