"""Links from cards into the tab: a Teams deep link, or the tab's web address.

In Teams, ``Action.OpenUrl`` with a deep link to the personal tab
(``https://teams.microsoft.com/l/entity/<app id>/<entity id>?webUrl=...&context=...``)
opens the Workspace tab inside Teams and hands it ``subEntityId`` (``page.subPageId`` in
the Teams JavaScript library). Without a Teams app id (demo mode, the simulator's chats)
the card links to the tab's web page with the same target in its query.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote, urlencode

TEAMS_DEEP_LINK = "https://teams.microsoft.com/l/entity"
# The agent workspace's static tab (appPackage/manifest.template.json).
WORKSPACE_ENTITY_ID = "workspace"
WORKSPACE_LABEL = "Workspace"
VOICEMAIL_TARGET = "voicemail"


@dataclass(frozen=True, slots=True)
class TabLinks:
    """Build links to the agent workspace, optionally opened on one item."""

    # The tab's web address, ending in "/tab/".
    web_url: str
    # The app's id in its manifest; empty: link to the web page, not into Teams.
    teams_app_id: str = ""

    def workspace(self, sub_entity: str = "") -> str:
        """Return a link to the agent workspace, opened on ``sub_entity`` if given."""
        query = {"view": "agent"}
        if sub_entity:
            kind, _, item = sub_entity.partition(":")
            query[kind] = item
        web = f"{self.web_url}?{urlencode(query)}"
        if not self.teams_app_id:
            return web
        deep = {"webUrl": web, "label": WORKSPACE_LABEL}
        if sub_entity:
            deep["context"] = json.dumps({"subEntityId": sub_entity}, separators=(",", ":"))
        return (
            f"{TEAMS_DEEP_LINK}/{quote(self.teams_app_id, safe='')}/{WORKSPACE_ENTITY_ID}"
            f"?{urlencode(deep, quote_via=quote)}"
        )

    def voicemail(self, voicemail_id: str) -> str:
        """Return a link that opens the workspace's voicemail panel on one message."""
        return self.workspace(f"{VOICEMAIL_TARGET}:{voicemail_id}")
