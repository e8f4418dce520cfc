"""Send messages through the Zalo OA Open API over an injected ``httpx.AsyncClient``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from bridge.errors import (
    AccountError,
    DeliveryError,
    DeliveryInDoubtError,
    MessageRejectedError,
    RetryableDeliveryError,
    TokenError,
)
from bridge.zalo.codes import classify_error

__all__ = ["SendReceipt", "ZaloClient"]

CS_MESSAGE_PATH = "/v3.0/oa/message/cs"


@dataclass(frozen=True, slots=True)
class SendReceipt:
    """Zalo's acknowledgement of one message: ``message_id`` identifies it in webhooks."""

    message_id: str
    user_id: str | None
    sent_time: str | None


class ZaloClient:
    """The OA API as bridge uses it.

    Args:
        http: A client whose ``base_url`` is the OA API host; tests pass one built on
            ``httpx.MockTransport``. The caller owns it and closes it.
        access_token: Sent as the bare ``access_token`` header (not ``Authorization``).
    """

    def __init__(self, http: httpx.AsyncClient, access_token: str | None) -> None:
        self._http = http
        self._access_token = access_token

    async def send_text(self, user_id: str, text: str) -> SendReceipt:
        """Send a consultation (CS) text message to a follower.

        Returns:
            Zalo's receipt.

        Raises:
            TokenError: No token is configured, or Zalo refused it.
            DeliveryInDoubtError: The request left, but no answer came back.
            RetryableDeliveryError: Nothing was sent (connection refused, HTTP 5xx, -32, …).
            RecipientUnreachableError, MessageRejectedError, AccountError: per the error code.
        """
        if not self._access_token:
            raise TokenError("no Zalo access token is configured")
        body = {"recipient": {"user_id": user_id}, "message": {"text": text}}
        data = await self._post(CS_MESSAGE_PATH, body)
        message_id = data.get("message_id")
        if not isinstance(message_id, str) or not message_id:
            raise DeliveryInDoubtError("Zalo reported success without a message_id")
        user = data.get("user_id")
        sent = data.get("sent_time")
        return SendReceipt(
            message_id=message_id,
            user_id=str(user) if user is not None else None,
            sent_time=str(sent) if sent is not None else None,
        )

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"access_token": self._access_token or ""}
        try:
            response = await self._http.post(path, json=body, headers=headers)
        except httpx.ConnectError as exc:
            raise RetryableDeliveryError(f"cannot connect to Zalo: {exc!r}") from exc
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            # Apart from a refused connection we cannot tell whether Zalo got the request.
            raise DeliveryInDoubtError(f"no answer from Zalo: {exc!r}") from exc
        if response.status_code >= 500 or response.status_code == 429:  # noqa: PLR2004
            raise RetryableDeliveryError(f"Zalo answered HTTP {response.status_code}")
        if response.status_code != 200:  # noqa: PLR2004
            raise _http_error(response.status_code)
        try:
            envelope = response.json()
        except ValueError as exc:
            raise DeliveryInDoubtError(
                "Zalo answered HTTP 200 with a body that is not JSON"
            ) from exc
        if not isinstance(envelope, dict):
            raise DeliveryInDoubtError("Zalo answered HTTP 200 with an unexpected body")
        code = envelope.get("error", 0)
        if not isinstance(code, int):
            raise DeliveryInDoubtError(f"Zalo answered with a non-numeric error {code!r}")
        if code != 0:
            raise classify_error(code, str(envelope.get("message", "")))
        data = envelope.get("data")
        return data if isinstance(data, dict) else {}


def _http_error(status: int) -> DeliveryError:
    """Zalo reports its errors inside HTTP 200; another status means something is misconfigured."""
    message = f"Zalo answered HTTP {status}"
    if status == 401:  # noqa: PLR2004
        return TokenError(message)
    if status in {403, 404, 405}:
        return AccountError(message + " (wrong base URL or path?)")
    return MessageRejectedError(message)
