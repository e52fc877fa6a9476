"""The typed keys under which the simulator's application keeps its parts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from contactcenter.clock import Clock
from simulator.cloud import SimulatedCloud
from simulator.config import SimulatorConfig
from simulator.connector import ActivityDelivery, Conversations
from simulator.directory import Directory
from simulator.faults import FaultPlan
from simulator.signing import SigningKey

if TYPE_CHECKING:
    from simulator.installations import Installations
    from simulator.service_principals import ServicePrincipals

CONFIG_KEY = web.AppKey("simulator_config", SimulatorConfig)
CLOCK_KEY = web.AppKey("simulator_clock", Clock)
DIRECTORY_KEY = web.AppKey("simulator_directory", Directory)
FAULTS_KEY = web.AppKey("simulator_faults", FaultPlan)
CONVERSATIONS_KEY = web.AppKey("simulator_conversations", Conversations)
# Set while the application runs: they need the key file and an HTTP client session.
SIGNING_KEY_KEY = web.AppKey("simulator_signing_key", SigningKey)
CLOUD_KEY = web.AppKey("simulator_cloud", SimulatedCloud)
# Teams app installations per user (fake Graph's installedApps).
INSTALLATIONS_KEY: web.AppKey[Installations] = web.AppKey("simulator_installations")
# The bot's and Microsoft Graph's service principals, and the app roles granted.
SERVICE_PRINCIPALS_KEY: web.AppKey[ServicePrincipals] = web.AppKey("simulator_service_principals")
# Set while the application runs: delivers signed activities to the bot.
DELIVERY_KEY = web.AppKey("simulator_delivery", ActivityDelivery)
