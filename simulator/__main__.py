"""Run the local Teams simulator as its own process: ``python -m simulator --help``."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from simulator.config import (
    DEFAULT_BOT_URL,
    GRAPH_ISSUER,
    MediaMode,
    SilentPoints,
    SimulatorConfig,
)
from simulator.directory import TenantEntry
from simulator.people import InviteeBehaviour
from simulator.runner import serve

_LOGGER = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulator",
        description=(
            "The local Teams simulator: a fake Microsoft Graph (calling) and Bot Connector on "
            "loopback. Prints 'listening on <base URL>' on stdout once it serves."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path("data"),
        help="data directory; the signing key is kept in <data-dir>/simulator/",
    )
    parser.add_argument(
        "--bot-url",
        action="append",
        dest="bot_urls",
        metavar="URL",
        help="the bot's calling webhook URL; repeat it for several hosts behind one load "
        f"balancer, each notification going to one of them (default {DEFAULT_BOT_URL})",
    )
    parser.add_argument(
        "--app-id", required=True, help="the bot's Microsoft App ID (token audience)"
    )
    parser.add_argument("--issuer", default=GRAPH_ISSUER, help="issuer of the signed tokens")
    parser.add_argument(
        "--directory",
        type=Path,
        help='JSON file {"tenants": [...]} to seed the tenant directory with',
    )
    parser.add_argument(
        "--allow-remote-delivery",
        action="store_true",
        help="also deliver notifications to non-loopback hosts (off: loopback only)",
    )
    parser.add_argument(
        "--media-mode",
        choices=[mode.value for mode in MediaMode],
        default=MediaMode.TIMED.value,
        help="timed: prompts take --prompt-duration-s each; instant: they complete at once; "
        "manual: the control API completes them",
    )
    parser.add_argument(
        "--prompt-duration-s", type=float, default=3.0, help="seconds each prompt plays"
    )
    parser.add_argument(
        "--invite-timeout-s",
        type=float,
        default=60.0,
        help="seconds Teams rings an invitee before the invitation fails with 408",
    )
    parser.add_argument(
        "--on-invite",
        choices=["answer", "decline", "ignore", "manual"],
        default="manual",
        help="how users respond to being rung unless the control API sets otherwise",
    )
    parser.add_argument(
        "--answer-after-s", type=float, default=0.0, help="seconds before they answer or decline"
    )
    parser.add_argument(
        "--hang-up-after-s", type=float, help="seconds after joining that they hang up"
    )
    parser.add_argument(
        "--participant-ids",
        choices=["bot", "graph"],
        default="bot",
        help="who names an invitee's participant: the bot (the participantId it gives) or "
        "Graph (its own id, in the invitation's answer and the roster)",
    )
    parser.add_argument(
        "--one-invite-at-a-time",
        action="store_true",
        help="refuse a second invitation while one rings on a peer-to-peer call (409)",
    )
    parser.add_argument(
        "--ringing-in-roster",
        action="store_true",
        help="list invitees still ringing in roster updates, as if they had joined",
    )
    parser.add_argument("--log-level", default="INFO", help="logging level")
    return parser


def _seed(path: Path | None) -> tuple[TenantEntry, ...]:
    if path is None:
        return ()
    data = json.loads(path.read_text(encoding="utf-8"))
    return tuple(TenantEntry.model_validate(tenant) for tenant in data.get("tenants", []))


async def _serve_until_signalled(config: SimulatorConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    def announce(base_url: str) -> None:
        # A parent process reads this line to learn the port.
        sys.stdout.write(f"listening on {base_url}\n")
        sys.stdout.flush()

    await serve(config, stop, on_ready=announce)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments and serve until SIGINT or SIGTERM."""
    args = _parser().parse_args(argv)
    bot_urls: list[str] = args.bot_urls or [DEFAULT_BOT_URL]
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = SimulatorConfig(
            data_dir=args.data_dir,
            bot_url=bot_urls[0],
            bot_urls=tuple(bot_urls[1:]),
            app_id=args.app_id,
            host=args.host,
            port=args.port,
            issuer=args.issuer,
            allow_remote_delivery=args.allow_remote_delivery,
            seed_tenants=_seed(args.directory),
            media_mode=MediaMode(args.media_mode),
            prompt_duration_s=args.prompt_duration_s,
            invite_timeout_s=args.invite_timeout_s,
            default_user_behaviour=InviteeBehaviour(
                on_invite=args.on_invite,
                answer_after_s=args.answer_after_s,
                hang_up_after_s=args.hang_up_after_s,
            ),
            silent_points=SilentPoints(
                bot_participant_ids=args.participant_ids == "bot",
                parallel_invites=not args.one_invite_at_a_time,
                ringing_in_roster=args.ringing_in_roster,
            ),
        )
    except (OSError, ValueError, ValidationError) as err:
        _LOGGER.error("Cannot start the simulator: %s", err)  # noqa: TRY400 - one clear line
        return 2
    asyncio.run(_serve_until_signalled(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
