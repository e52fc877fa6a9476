"""How the engine is configured, and the terms its layers share about Graph and queues."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from contactcenter.model import CallOutcome
from contactcenter.routing import RoutingPolicy

# Graph's result code for an invitation the invitee declined.
DECLINED_CODE = 603
# Graph's result subcode for media we cancelled (cancelMediaProcessing, a barge-in).
CANCELLED_MEDIA_SUBCODE = 8508


class ActionTrigger(StrEnum):
    """Why a queue's action runs."""

    OVERFLOW = "overflow"
    TIMEOUT = "timeout"
    NO_AGENT = "no-agent"


TRIGGER_OUTCOMES: Mapping[ActionTrigger, CallOutcome] = {
    ActionTrigger.OVERFLOW: CallOutcome.OVERFLOWED,
    ActionTrigger.TIMEOUT: CallOutcome.TIMED_OUT,
    ActionTrigger.NO_AGENT: CallOutcome.NO_AGENT,
}


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """How the engine talks to Graph and how long it waits for things."""

    # Where Graph sends this call's notifications (``/api/calling`` on our public origin).
    callback_uri: str
    # Prompts are fetched by Graph from ``{prompt_base_url}/{tenant id}/{prompt id}.wav``;
    # empty: nothing is prefetched when answering.
    prompt_base_url: str = ""
    # ``established`` must follow our answer within this; otherwise the call is queued anyway.
    answer_timeout_s: float = 30.0
    # After an invitation could not be sent, ring again this much later.
    ring_retry_s: float = 5.0
    # A ringing agent's claim is re-checked against its call this long after the offer
    # expires (releases a claim orphaned by a crash between two writes).
    claim_grace_s: float = 30.0
    # Graph ends a call without a keepAlive for 45 minutes; send one this often.
    keep_alive_s: float = 900.0
    # Who is in a talk is read from Graph at least this often: a lost notification of the
    # agent or the caller leaving is noticed within it.
    reconcile_s: float = 60.0
    # A talk handed to the agent by a transfer ends once their presence leaves the call;
    # until their presence first says they are in it, at most this long after the transfer.
    handover_presence_s: float = 120.0
    # Attendant routing rings at most this many agents at once.
    max_ring_agents: int = 25
    # Notification keys remembered per call (duplicates come within seconds).
    applied_keys_kept: int = 32
    # Waiting calls read per query when an agent looks for their next call (after a
    # first page of two).
    waiting_page_size: int = 16
    # Tenant settings (record retention) are cached this long.
    tenant_cache_s: float = 300.0
    # Queue configuration is read again after this long: a change (members, method)
    # applies to routing within it. Calls of one notification burst share one read.
    queue_cache_s: float = 1.0
    routing: RoutingPolicy = field(default_factory=RoutingPolicy)
    # Music on hold and greeting used when a queue names none (prompt ids); None: the
    # standard set's.
    default_greeting_prompt_id: str | None = None
    default_music_prompt_id: str | None = None
    # Caller lists (blocked, VIP) are cached this long; ``caller_list_changed`` drops it.
    caller_list_cache_s: float = 60.0
    # A prompt whose completion never arrives is taken to have ended after this long.
    prompt_allowance_s: float = 120.0
    # A queue's recent answer rate (for estimated waits) is measured again after this long.
    answer_rate_cache_s: float = 30.0
    # A requested callback waits this long before its first attempt (the caller is still
    # hearing the confirmation on the call they are leaving).
    callback_start_delay_s: float = 15.0
    # A transfer Graph has not settled after this long is given up.
    transfer_timeout_s: float = 120.0
