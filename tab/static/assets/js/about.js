// The about page: only the theme (it needs no sign-in).

import { followTeamsTheme, inMicrosoftHost, loadTeams, useBrowserTheme } from "./host.js";

if (inMicrosoftHost()) {
  loadTeams()
    .then(followTeamsTheme)
    .catch(() => useBrowserTheme());
} else {
  useBrowserTheme();
}
