"""Gmail API provider over httpx: refresh token -> access token, then send raw MIME.

The endpoints belong to the deployment (:class:`GmailEndpoints`), not to the
plugin's config, so tests point them at a local server and a plugin cannot
send credentials elsewhere. The access token is kept until it expires; a 401
from the send endpoint refreshes it once and sends again.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from capgate.adapters.email.config import GmailConfig
from capgate.adapters.email.gmail_errors import (
    GMAIL_STATUSES,
    TOKEN_STATUSES,
    error_for_response,
    translate_httpx_errors,
)
from capgate.adapters.email.message import OutgoingEmail, SentEmail
from capgate.contracts.errors import PluginServiceError

__all__ = ["GmailEndpoints", "GmailSender"]


@dataclass(frozen=True, slots=True)
class GmailEndpoints:
    """Where the OAuth2 token and Gmail send endpoints are."""

    token_url: str = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL
    send_url: str = "https://gmail.googleapis.com/gmail/v1/users/me/messages/send"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class GmailSender:
    """Sends as the account whose refresh token is in the :class:`GmailConfig`."""

    def __init__(
        self,
        config: GmailConfig,
        *,
        endpoints: GmailEndpoints | None = None,
        client: httpx.Client | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        """``client`` is shared and closed by its owner; without one, each send opens one."""
        self._config = config
        self._endpoints = endpoints or GmailEndpoints()
        self._client = client
        self._clock = clock
        self._token: str | None = None
        self._token_expires = datetime.min.replace(tzinfo=UTC)

    def __repr__(self) -> str:
        return f"GmailSender(sender={self._config.sender!r})"

    def send(self, message: OutgoingEmail) -> SentEmail:
        """Deliver ``message``; raise ``PluginServiceError`` on failure."""
        raw = base64.urlsafe_b64encode(message.to_mime().as_bytes()).decode("ascii")
        with translate_httpx_errors(), self._open() as client:
            response = self._post_message(client, raw, refresh=False)
            if response.status_code == 401:
                response = self._post_message(client, raw, refresh=True)
            if not response.is_success:
                raise error_for_response(response, GMAIL_STATUSES, self._clock)
            return SentEmail(message.message_id, provider_message_id=_field(response, "id"))

    def _open(self) -> AbstractContextManager[httpx.Client]:
        if self._client is not None:
            # Entering a shared client would close it on exit.
            return nullcontext(self._client)
        return httpx.Client(timeout=self._config.timeout_seconds)

    def _post_message(self, client: httpx.Client, raw: str, *, refresh: bool) -> httpx.Response:
        token = self._access_token(client, refresh=refresh)
        return client.post(
            self._endpoints.send_url,
            json={"raw": raw},
            headers={"Authorization": f"Bearer {token}"},
            timeout=self._config.timeout_seconds,
        )

    def _access_token(self, client: httpx.Client, *, refresh: bool) -> str:
        if self._token and not refresh and self._clock() < self._token_expires:
            return self._token
        response = client.post(
            self._endpoints.token_url,
            data={
                "grant_type": "refresh_token",
                "client_id": self._config.client_id,
                "client_secret": self._config.client_secret.get_secret_value(),
                "refresh_token": self._config.refresh_token.get_secret_value(),
            },
            timeout=self._config.timeout_seconds,
        )
        if not response.is_success:
            raise error_for_response(response, TOKEN_STATUSES, self._clock)
        self._token = _field(response, "access_token")
        lifetime = _expires_in(response)
        # Renew a minute early so a token does not expire in flight.
        self._token_expires = self._clock() + timedelta(seconds=max(0, lifetime - 60))
        return self._token


def _field(response: httpx.Response, name: str) -> str:
    try:
        value = response.json()[name]
    except (ValueError, KeyError, TypeError):
        value = None
    if not isinstance(value, str) or not value:
        raise PluginServiceError.retryable(
            "gmail_bad_response", f"Gmail answered HTTP {response.status_code} without '{name}'"
        )
    return value


def _expires_in(response: httpx.Response) -> int:
    value = response.json().get("expires_in", 3600)
    return value if isinstance(value, int) else 3600
