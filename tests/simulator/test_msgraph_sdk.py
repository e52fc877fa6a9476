"""The real msgraph-sdk client, pointed at the simulator, drives a call through it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from kiota_abstractions.authentication import (
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.communications.calls.item.answer.answer_post_request_body import (
    AnswerPostRequestBody,
)
from msgraph.generated.models.media_info import MediaInfo
from msgraph.generated.models.modality import Modality
from msgraph.generated.models.service_hosted_media_config import ServiceHostedMediaConfig
from msgraph_core import GraphClientFactory

from tests.simulator.support import (
    BOT_TOKEN,
    CALLER_NUMBER,
    SALES_ID,
    TENANT_ID,
    BotReceiver,
    Simulator,
)

# msgraph-sdk's generated request builders and kiota warn about their own deprecated classes
# as they are lazily imported.
pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:msgraph.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:kiota_abstractions.*"),
]


class StaticTokenProvider:
    """Hand the SDK a fixed token: fake Graph takes any bearer token."""

    async def get_authorization_token(
        self, uri: str, additional_authentication_context: dict[str, Any] | None = None
    ) -> str:
        return BOT_TOKEN

    def get_allowed_hosts_validator(self) -> Any:
        return AllowedHostsValidator([])


async def test_msgraph_sdk_answers_and_hangs_up_with_retry_after_honoured(
    simulator: Simulator, receiver: BotReceiver
) -> None:
    placed = await simulator.control.place_call(
        TENANT_ID, application_instance_id=SALES_ID, caller_phone=CALLER_NUMBER
    )
    await simulator.control.add_fault(r"/answer$", status=429, retry_after=1, count=1)
    # msgraph-core wraps the client's transport in one without aclose(), so closing the
    # client would leave the connection pool open: close the real transport ourselves.
    # (kiota treats "Retry-After: 0" as absent and backs off for seconds, hence 1 above.)
    transport = httpx.AsyncHTTPTransport()
    http = httpx.AsyncClient(transport=transport, trust_env=False)
    try:
        adapter = GraphRequestAdapter(
            BaseBearerTokenAuthenticationProvider(StaticTokenProvider()),
            client=GraphClientFactory.create_with_default_middleware(client=http),
        )
        # The adapter's base URL must be set before the client is built: the client copies it.
        adapter.base_url = simulator.url("/v1.0")
        graph = GraphServiceClient(request_adapter=adapter)
        call = graph.communications.calls.by_call_id(placed.id)

        await call.answer.post(
            AnswerPostRequestBody(
                callback_uri=receiver.callback_url,
                accepted_modalities=[Modality.Audio],
                media_config=ServiceHostedMediaConfig(
                    pre_fetch_media=[MediaInfo(uri="https://bot.example/a.wav", resource_id="a")]
                ),
            )
        )
        await call.delete()
    finally:
        await http.aclose()
        await transport.aclose()

    received = await receiver.wait_for(5)
    assert [note.state for note in received] == [
        "incoming",
        "establishing",
        "established",
        "terminating",
        "terminated",
    ]
    [fault] = await simulator.control.list_faults()
    assert fault["fired"] == 1
