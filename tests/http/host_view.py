"""What the HTTP tests read off a running demo host: its store, engine, tenant and lines."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient

from bot import keys
from bot.demo import LINES
from bot.settings import DEMO_TENANT_ID
from contactcenter.engine import RoutingEngine
from contactcenter.repository import Repository


class DemoHostView:
    """Mixed into the test stacks: the host's repository, engine, tenant and lines."""

    host: TestClient[web.Request, web.Application]

    @property
    def repository(self) -> Repository:
        return self.host.app[keys.REPOSITORY]

    @property
    def engine(self) -> RoutingEngine:
        return self.host.app[keys.ENGINE]

    @property
    def tenant_id(self) -> str:
        return DEMO_TENANT_ID

    @property
    def sales_line(self) -> str:
        return LINES[0].application_instance_id

    @property
    def support_line(self) -> str:
        return LINES[1].application_instance_id
