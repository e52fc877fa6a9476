// The configurable tab's setup page: adds the queues wallboard to a team's channel.

import { followTeamsTheme, inMicrosoftHost, loadTeams, useBrowserTheme } from "./host.js";

const status = document.getElementById("configure-status");

async function configure() {
  const teams = await loadTeams();
  await followTeamsTheme(teams);
  const contentUrl = `${location.origin}/tab/?view=wallboard`;
  teams.pages.config.registerOnSaveHandler(async (saveEvent) => {
    try {
      await teams.pages.config.setConfig({
        entityId: "wallboard",
        contentUrl,
        websiteUrl: contentUrl,
        suggestedDisplayName: "Queues",
      });
      saveEvent.notifySuccess();
    } catch (error) {
      saveEvent.notifyFailure(String(error?.message || error));
    }
  });
  teams.pages.config.setValidityState(true);
  teams.app.notifySuccess();
}

if (inMicrosoftHost()) {
  configure().catch((error) => {
    status.textContent = `The tab could not be set up: ${error.message}`;
  });
} else {
  useBrowserTheme();
  status.textContent = "Open this page from Microsoft Teams to add the tab to a channel.";
}
