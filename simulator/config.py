"""What the simulator needs to know: where it keeps its key, whom it calls, who it claims to be."""

from __future__ import annotations

import ipaddress
import itertools
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from yarl import URL

from simulator.directory import CamelModel, TenantEntry
from simulator.people import MANUAL, InviteeBehaviour

GRAPH_ISSUER = "https://graph.microsoft.com"
DEFAULT_BOT_URL = "http://127.0.0.1:3978/api/calling"


def is_loopback_host(host: str | None) -> bool:
    """Return whether ``host`` names this machine, without a DNS lookup."""
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class MediaMode(StrEnum):
    """How long prompts and recordings take in the simulated cloud."""

    # Each prompt plays for ``prompt_duration_s``, a caller speaks for ``record_duration_s``.
    TIMED = "timed"
    # Every media operation completes as soon as its prompts were fetched.
    INSTANT = "instant"
    # Media operations run until the control API completes them.
    MANUAL = "manual"


class SilentPoints(CamelModel):
    """How the simulated cloud behaves where Graph's documentation says nothing.

    Each switch is a question the invite and participant pages leave open; the defaults
    are the lenient answers. A bot that works whatever the answers are assumes none of them
    (``docs/decisions/0020-graph-silent-points.md``).
    """

    # The ``participantId`` a bot gives an invitee in ``participants/invite`` becomes the
    # participant's id; False: Graph names the participant itself, and the bot learns the id
    # from the invitation's answer (``participants[].id``) or from the roster.
    bot_participant_ids: bool = True
    # Several single-person invitations may ring at once on a peer-to-peer call; False: a
    # second one while the first rings is refused (409, the call is not a group call yet).
    parallel_invites: bool = True
    # Roster updates (and ``GET .../participants``) list invitees still ringing, exactly as
    # they list those who joined; False: only who is in the call.
    ringing_in_roster: bool = False

    @classmethod
    def every(cls) -> tuple[SilentPoints, ...]:
        """Return every combination of the switches, the defaults first."""
        return tuple(
            cls(bot_participant_ids=ids, parallel_invites=parallel, ringing_in_roster=listed)
            for ids, parallel, listed in itertools.product(
                (True, False), (True, False), (False, True)
            )
        )

    @property
    def label(self) -> str:
        """Return a short name for the combination, e.g. ``bot-ids,parallel,unlisted``."""
        return ",".join(
            (
                "bot-ids" if self.bot_participant_ids else "graph-ids",
                "parallel" if self.parallel_invites else "one-at-a-time",
                "listed" if self.ringing_in_roster else "unlisted",
            )
        )


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Settings of one simulated Teams cloud.

    ``data_dir`` is the host's data directory; the signing key lives in
    ``<data_dir>/simulator/signing-key.pem`` and survives restarts, because a bot's key cache
    refuses an unknown ``kid`` for up to an hour.
    """

    data_dir: Path
    # The bot's calling webhook: where incoming-call notifications go.
    bot_url: str = DEFAULT_BOT_URL
    # More hosts of the same bot behind one load balancer, with ``bot_url`` the first: a
    # notification for any of these webhooks goes to one of them picked per notification
    # (round robin, skipping hosts that refuse connections). Empty: ``bot_url`` alone.
    bot_urls: tuple[str, ...] = ()
    # The bot's messaging endpoint, where Teams activities go; empty: ``/api/messages``
    # on the calling webhook's origin.
    bot_messages_url: str = ""
    # The bot's Microsoft App ID: the audience of every token the simulator signs.
    app_id: str = "00000000-0000-0000-0000-000000000000"
    # The bot's client secret, which the Entra token endpoint takes with ``app_id``
    # (simulator/entra.py); empty: it refuses every secret.
    client_secret: str = field(default="", repr=False)
    host: str = "127.0.0.1"
    # 0 picks a free port; the runner reports the one it got.
    port: int = 0
    issuer: str = GRAPH_ISSUER
    token_lifetime_s: int = 3600
    # Re-mint this long before expiry so a token never expires in flight.
    token_refresh_margin_s: int = 300
    # Graph ends an incoming call the bot has not answered, rejected or redirected in time.
    answer_timeout_s: float = 15.0
    delivery_timeout_s: float = 10.0
    # Ended calls kept for inspection; older ones are forgotten first.
    max_ended_calls: int = 10_000
    # Notifications go to loopback only unless this is set, so a simulator never reaches
    # beyond the machine, whatever callbackUri a bot hands it.
    allow_remote_delivery: bool = False
    seed_tenants: tuple[TenantEntry, ...] = ()
    # Teams stops ringing an invitee (or a transfer or callback target) after this long.
    invite_timeout_s: float = 60.0
    # Graph ends a call that has had no keepAlive for 45 minutes.
    keep_alive_timeout_s: float = 45 * 60.0
    media_mode: MediaMode = MediaMode.TIMED
    prompt_duration_s: float = 3.0
    # How long a simulated caller speaks into a recordResponse (capped by its maximum).
    record_duration_s: float = 5.0
    # GET every prompt URI on a loopback host (any host with allow_remote_delivery) when it
    # is played, as Graph fetches it: a prompt that is missing or not a WAV file fails.
    fetch_prompts: bool = True
    # How users and phone numbers respond to being rung until the control API says otherwise.
    default_user_behaviour: InviteeBehaviour = MANUAL
    default_phone_behaviour: InviteeBehaviour = MANUAL
    # The Microsoft Graph application permissions (app role names) an admin has granted
    # the bot's app; None: every one the simulator knows (as after a full admin consent).
    granted_app_roles: tuple[str, ...] | None = None
    # Where Graph's documentation is silent, which way the simulator goes (the control API
    # changes it at run time: ``PUT /sim/silent-points``).
    silent_points: SilentPoints = field(default_factory=SilentPoints)

    def __post_init__(self) -> None:
        for url in (self.bot_url, *self.bot_urls):
            bot = URL(url)
            if bot.scheme not in {"http", "https"} or not bot.host:
                raise ValueError(f"bot_url must be an absolute http(s) URL, got {url!r}")
        if self.bot_messages_url:
            messages = URL(self.bot_messages_url)
            if messages.scheme not in {"http", "https"} or not messages.host:
                raise ValueError(
                    f"bot_messages_url must be an absolute http(s) URL, got {self.bot_messages_url!r}"
                )
        if not self.app_id:
            raise ValueError("app_id must not be empty: it is the audience of every token")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be in 0..65535, got {self.port}")
        if not 0 < self.token_refresh_margin_s < self.token_lifetime_s:
            raise ValueError("token_refresh_margin_s must be positive and below the lifetime")
        if min(self.answer_timeout_s, self.delivery_timeout_s, self.invite_timeout_s) <= 0:
            raise ValueError("timeouts must be positive")
        if self.keep_alive_timeout_s <= 0:
            raise ValueError("keep_alive_timeout_s must be positive")
        if self.prompt_duration_s < 0 or self.record_duration_s <= 0:
            raise ValueError("prompt_duration_s must be >= 0 and record_duration_s > 0")

    @property
    def messages_url(self) -> str:
        """Return where activities for the bot go."""
        if self.bot_messages_url:
            return self.bot_messages_url
        return str(URL(self.bot_url).with_path("/api/messages").with_query(None))

    @property
    def webhook_pool(self) -> tuple[str, ...]:
        """Return the calling webhooks behind the load balancer, ``bot_url`` first."""
        return tuple(dict.fromkeys((self.bot_url, *self.bot_urls)))

    @property
    def signing_key_path(self) -> Path:
        """Return where the signing key is kept."""
        return self.data_dir / "simulator" / "signing-key.pem"
