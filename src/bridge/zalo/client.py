"""Send messages through the Zalo OA Open API over an injected ``httpx.AsyncClient``."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, Protocol

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

__all__ = ["SendReceipt", "StaticToken", "TokenSource", "ZaloClient"]

CS_MESSAGE_PATH = "/v3.0/oa/message/cs"
CONVERSATION_PATH = "/v2.0/oa/conversation"


class TokenSource(Protocol):
    """Where the OA access token comes from, and how a refused one is replaced."""

    async def token(self) -> str | None:
        """The access token to use now, or None when there is none."""
        ...

    async def refresh(self, rejected: str) -> bool:
        """Replace ``rejected`` (refused by Zalo); True when a different token is now available."""
        ...


class StaticToken:
    """A token from the settings: it cannot be refreshed, so a refused one blocks delivery."""

    def __init__(self, token: str | None) -> None:
        self._token = token

    async def token(self) -> str | None:
        """The configured token."""
        return self._token

    async def refresh(self, rejected: str) -> bool:  # noqa: ARG002 - part of the protocol
        """A static token has no successor."""
        return False


@dataclass(frozen=True, slots=True)
class SendReceipt:
    """Zalo's acknowledgement of one message: ``message_id`` identifies it in webhooks."""

    message_id: str
    user_id: str | None
    sent_time: str | None


class ZaloClient:
    """The OA API as bridge uses it.

    A refused token (``-216``, ``-220``) is refreshed once through ``tokens`` and the call is
    retried once; if that fails too, ``TokenError`` tells the caller to stop and alert.

    Args:
        http: A client whose ``base_url`` is the OA API host; tests pass one built on
            ``httpx.MockTransport``. The caller owns it and closes it.
        tokens: The access token, sent as the bare ``access_token`` header (not ``Authorization``).
        max_concurrent: Requests in flight at once; at most the client's connection limit.
    """

    def __init__(
        self, http: httpx.AsyncClient, tokens: TokenSource, *, max_concurrent: int = 200
    ) -> None:
        self._http = http
        self._tokens = tokens
        self._urls: dict[str, httpx.URL] = {}
        # Requests wait here, not in the connection pool: a request that times out waiting for a
        # pooled connection was never sent, yet httpx reports it like a lost answer (in doubt).
        self._slots = asyncio.Semaphore(max_concurrent)

    def _url(self, path: str) -> httpx.URL:
        """The absolute URL of ``path``, parsed once (httpx would merge it on every request)."""
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = self._http.build_request("GET", path).url
        return url

    async def send_text(self, user_id: str, text: str) -> SendReceipt:
        """Send a consultation (CS) text message to a follower.

        Returns:
            Zalo's receipt.

        Raises:
            TokenError: No token is configured, or Zalo refused it even after a refresh.
            DeliveryInDoubtError: The request left, but no answer came back.
            RetryableDeliveryError: Nothing was sent (connection refused, HTTP 5xx, -32, …).
            RecipientUnreachableError, MessageRejectedError, AccountError: per the error code.
        """
        body = {"recipient": {"user_id": user_id}, "message": {"text": text}}
        data = await self._call("POST", CS_MESSAGE_PATH, json_body=body)
        if not isinstance(data, dict):
            data = {}
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

    async def find_sent(
        self, user_id: str, text: str, *, since: float, max_pages: int = 10
    ) -> str | None:
        """Look ``text`` up among the OA's messages to ``user_id`` (for an in-doubt send).

        Reads ``GET /v2.0/oa/conversation`` page by page (10 messages a page, newest first) until
        it finds the text, reaches messages older than ``since``, the conversation ends, or
        ``max_pages`` were read: the citizen may have received other messages since. The shape of
        the answer is not documented by Zalo (UNCERTAIN): an item matches when its ``message``
        equals ``text``, it went to ``user_id`` (``to_id``, when present) and its ``time`` (epoch
        ms, when present) is not before ``since`` (epoch seconds).

        Returns:
            The message id, or None when the message is not there.
        """
        page_size = 10
        for page in range(max_pages):
            query = {"user_id": user_id, "offset": page * page_size, "count": page_size}
            data = await self._call("GET", CONVERSATION_PATH, params={"data": json.dumps(query)})
            items = (
                [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []
            )
            for item in items:
                if item.get("message") != text or str(item.get("to_id", user_id)) != user_id:
                    continue
                sent_ms = item.get("time")
                if isinstance(sent_ms, int | float) and sent_ms / 1000 < since:
                    continue
                message_id = item.get("message_id")
                if isinstance(message_id, str) and message_id:
                    return message_id
            times = [i["time"] for i in items if isinstance(i.get("time"), int | float)]
            if len(items) < page_size or (times and min(times) / 1000 < since):
                return None
        return None

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        token = await self._tokens.token()
        if not token:
            raise TokenError("no Zalo access token is configured")
        try:
            return await self._request(method, path, token, json_body, params)
        except TokenError:
            if not await self._tokens.refresh(token):
                raise
            fresh = await self._tokens.token()
            if not fresh:
                raise
            return await self._request(method, path, fresh, json_body, params)

    async def _request(
        self,
        method: str,
        path: str,
        token: str,
        json_body: dict[str, Any] | None,
        params: dict[str, str] | None,
    ) -> Any:
        headers = {"access_token": token}
        try:
            async with self._slots:
                response = await self._http.request(
                    method, self._url(path), json=json_body, params=params, headers=headers
                )
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
        return envelope.get("data")


def _http_error(status: int) -> DeliveryError:
    """Zalo reports its errors inside HTTP 200; another status means something is misconfigured."""
    message = f"Zalo answered HTTP {status}"
    if status == 401:  # noqa: PLR2004
        return TokenError(message)
    if status in {403, 404, 405}:
        return AccountError(message + " (wrong base URL or path?)")
    return MessageRejectedError(message)
