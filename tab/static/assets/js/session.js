// Sign-in: Teams single sign-on inside Teams, the demo sign-in picker in a plain browser.

import { h, initials, replaceChildren, ROLE_LABELS } from "./dom.js";

const DEMO_TOKEN_KEY = "contact-center-demo-token";

/** Tokens from Teams: `authentication.getAuthToken()` caches and renews them itself. */
export class TeamsSession {
  constructor(teams) {
    this.teams = teams;
    this.demo = false;
  }

  token() {
    return this.teams.authentication.getAuthToken();
  }

  onSignedOut() {
    // Teams owns the sign-in; a refused token means this user may not use the app.
  }
}

/** A token from the demo issuer, kept for this browser tab (sessionStorage). */
export class DemoSession {
  constructor(stored) {
    this.stored = stored;
    this.demo = true;
  }

  static restore() {
    try {
      const stored = JSON.parse(sessionStorage.getItem(DEMO_TOKEN_KEY) || "null");
      if (stored?.accessToken && stored.expiresOn * 1000 > Date.now() + 60000) {
        return new DemoSession(stored);
      }
    } catch {
      // Unreadable storage: sign in again.
    }
    return null;
  }

  static save(token) {
    try {
      sessionStorage.setItem(DEMO_TOKEN_KEY, JSON.stringify(token));
    } catch {
      // Storage off: the sign-in lasts until the page reloads.
    }
    return new DemoSession(token);
  }

  async token() {
    return this.stored.accessToken;
  }

  onSignedOut() {
    DemoSession.signOut();
  }

  static signOut() {
    try {
      sessionStorage.removeItem(DEMO_TOKEN_KEY);
    } catch {
      // Nothing stored.
    }
    window.location.reload();
  }
}

/**
 * Show the demo sign-in picker; resolve with a session once a user is picked, or null
 * when this host is not in demo mode.
 */
export async function demoSignIn(container) {
  const response = await fetch("/api/tab/demo/users");
  if (response.status === 404) return null;
  if (!response.ok) throw new Error(`the demo users could not be loaded (${response.status})`);
  const { users } = await response.json();
  return new Promise((resolve) => {
    const status = h("p", { class: "muted", role: "status" });
    const pick = async (user, button) => {
      button.disabled = true;
      status.textContent = `Signing in as ${user.displayName}…`;
      const answer = await fetch("/api/tab/demo/token", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ userId: user.id }),
      });
      if (!answer.ok) {
        button.disabled = false;
        status.textContent = "Sign-in failed: try again.";
        return;
      }
      resolve(DemoSession.save(await answer.json()));
    };
    const list = h(
      "ul",
      { class: "people", "aria-labelledby": "picker-title" },
      users.map((user) => {
        const role = user.roles[0];
        const button = h(
          "button",
          { type: "button", class: "person", dataset: { userId: user.id } },
          h("span", { class: "avatar", "aria-hidden": "true" }, initials(user.displayName)),
          h(
            "span",
            {},
            h("span", { class: "person-name" }, user.displayName),
            h("span", { class: "person-upn" }, user.upn),
          ),
          role ? h("span", { class: "badge brand" }, ROLE_LABELS[role] || role) : null,
        );
        button.addEventListener("click", () => pick(user, button));
        return h("li", {}, button);
      }),
    );
    replaceChildren(
      container,
      h(
        "section",
        { class: "card sign-in", "aria-labelledby": "picker-title" },
        h("h1", { id: "picker-title" }, "Sign in to the demo"),
        h(
          "p",
          { class: "muted" },
          "This host runs in demo mode: pick one of the demo tenant's people. In Teams, " +
            "you are signed in with your work account instead.",
        ),
        list,
        status,
      ),
    );
    list.querySelector("button")?.focus();
  });
}
