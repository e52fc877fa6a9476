"""The messaging bot: ``/api/messages``, agents' alert cards and supervisors' queue cards.

Bot Framework stays behind ``adapter.py`` (and the activity handler in ``teams_bot.py``);
the rest of the package works with its own types.
"""

from bot.messaging.host import MESSAGING, add_messaging_routes, running_messaging
from bot.messaging.notifier import TeamsNotifier

__all__ = ["MESSAGING", "TeamsNotifier", "add_messaging_routes", "running_messaging"]
