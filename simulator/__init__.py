"""The local Teams simulator: a fake Microsoft Graph and Bot Connector on loopback.

It places calls, signs and delivers ``commsNotifications`` like Graph, accepts the bot's
call actions, records what the bot did for tests, and injects faults on request.
"""

from simulator.app import create_simulator_app
from simulator.client import PlacedCall, SimulatorClient, SimulatorRequestError
from simulator.config import MediaMode, SilentPoints, SimulatorConfig
from simulator.directory import (
    ApplicationInstanceEntry,
    ChannelEntry,
    GroupEntry,
    TenantEntry,
    UserEntry,
)
from simulator.discovery import JWKS_PATH, OPENID_CONFIGURATION_PATH
from simulator.people import InviteeBehaviour, PresenceSetting
from simulator.runner import SimulatorThread, serve
from simulator.signing import SigningKey, TokenMinter, load_or_create_signing_key

__all__ = [
    "JWKS_PATH",
    "OPENID_CONFIGURATION_PATH",
    "ApplicationInstanceEntry",
    "ChannelEntry",
    "GroupEntry",
    "InviteeBehaviour",
    "MediaMode",
    "PlacedCall",
    "PresenceSetting",
    "SigningKey",
    "SilentPoints",
    "SimulatorClient",
    "SimulatorConfig",
    "SimulatorRequestError",
    "SimulatorThread",
    "TenantEntry",
    "TokenMinter",
    "UserEntry",
    "create_simulator_app",
    "load_or_create_signing_key",
    "serve",
]
