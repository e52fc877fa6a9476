// Where the page runs: inside Teams (or another Microsoft 365 host) or in a plain browser,
// and the theme that goes with it.

const THEME_KEY = "contact-center-theme";
const TEAMS_THEMES = { default: "light", dark: "dark", contrast: "contrast" };

/** Tell whether a Microsoft 365 host can be talking to this page. */
export function inMicrosoftHost() {
  // Teams desktop and web frame the tab; Teams mobile injects a native interface.
  return window.parent !== window.self || Boolean(window.nativeInterface);
}

let teamsPromise = null;

/** Load and initialize the Teams JavaScript client library (only inside a host). */
export function loadTeams() {
  teamsPromise ??= new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = "/tab/vendor/teams-js.js";
    script.onload = () => resolve(window.microsoftTeams);
    script.onerror = () => reject(new Error("the Teams library could not be loaded"));
    document.head.append(script);
  }).then(async (teams) => {
    await teams.app.initialize();
    return teams;
  });
  return teamsPromise;
}

/** Apply one of "light", "dark", "contrast". */
export function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
}

/** Follow the Teams theme: now, and whenever the user changes it. */
export async function followTeamsTheme(teams) {
  const context = await teams.app.getContext();
  applyTheme(TEAMS_THEMES[context.app?.theme] || "light");
  teams.app.registerOnThemeChangeHandler((theme) => applyTheme(TEAMS_THEMES[theme] || "light"));
  return context;
}

/** The theme chosen in a plain browser: "system", "light", "dark" or "contrast". */
export function chosenTheme() {
  try {
    return localStorage.getItem(THEME_KEY) || "system";
  } catch {
    return "system";
  }
}

/** Apply (and remember) the browser theme choice; "system" follows the OS setting. */
export function useBrowserTheme(choice = chosenTheme()) {
  try {
    localStorage.setItem(THEME_KEY, choice);
  } catch {
    // Storage may be off (private windows): the choice lasts for this page only.
  }
  const dark = window.matchMedia("(prefers-color-scheme: dark)");
  const contrast = window.matchMedia("(forced-colors: active)");
  const resolve = () => {
    if (choice !== "system") return choice;
    if (contrast.matches) return "contrast";
    return dark.matches ? "dark" : "light";
  };
  applyTheme(resolve());
  dark.onchange = contrast.onchange = () => applyTheme(resolve());
}
