"""Telemetry: traces, logs and metrics to Application Insights when it is configured."""

from __future__ import annotations

import logging

from bot.settings import Settings

_LOGGER = logging.getLogger(__name__)


def configure_telemetry(settings: Settings) -> bool:
    """Send telemetry to Application Insights if a connection string is set; else do nothing.

    Process-wide (OpenTelemetry providers are global), so only the CLI calls it, once.
    """
    if not settings.applicationinsights_connection_string:
        return False
    # Imported here: the OpenTelemetry stack is heavy and most runs do not use it.
    from azure.monitor.opentelemetry import configure_azure_monitor

    configure_azure_monitor(
        connection_string=settings.applicationinsights_connection_string,
        logger_name="",
        enable_live_metrics=False,
    )
    _LOGGER.info("telemetry goes to Application Insights")
    return True
