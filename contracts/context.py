"""Who is calling and why: the context every operation receives first."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from capgate.contracts.types import Identifier, Name, UtcDatetime

__all__ = ["ExecutionKind", "PluginServiceContext"]


class ExecutionKind(StrEnum):
    """What the plugin was doing when it made the call."""

    ACTION = "action"
    TRIGGER = "trigger"
    REGISTER = "register"
    LIFECYCLE = "lifecycle"


class PluginServiceContext(BaseModel):
    """Plugin identity, capability and invocation metadata for one call.

    The worker never trusts these claims for authorization: the signing key
    must belong to ``plugin_id`` and scopes are looked up server-side.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    plugin_name: Name = Field(description="The plugin's registered name.")
    plugin_id: Identifier = Field(description="The plugin's id, issued at registration.")
    capability_id: Identifier = Field(description="Id of the capability making the call.")
    capability_key: Identifier = Field(description="Key of the capability, e.g. 'digest'.")
    execution_kind: ExecutionKind
    definition_id: Identifier | None = Field(
        default=None, description="Action/trigger definition being executed, if any."
    )
    invocation_id: Identifier | None = Field(default=None, description="This invocation.")
    trigger_event_id: Identifier | None = Field(
        default=None, description="The trigger event that caused the invocation, if any."
    )
    manual_invoker_id: Identifier | None = Field(
        default=None, description="User who started the invocation by hand, if any."
    )
    correlation_id: Identifier | None = Field(
        default=None, description="Ties together every command of one flow."
    )
    timestamp: UtcDatetime = Field(description="When the plugin built the context (UTC).")
