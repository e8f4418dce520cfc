"""Send messages through the Zalo OA Open API over an injected ``httpx.AsyncClient``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

import httpx

from bridge.errors import (
    AccountError,
    DeliveryError,
    DeliveryInDoubtError,
    MessageRejectedError,
    RetryableDeliveryError,
    TokenError,
)
from bridge.zalo.codes import classify_error, classify_zns_error
from bridge.zalo.read_back import document_candidates, item_time, reaches_before
from bridge.zalo.transport_failures import classify_transport_failure

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable, Mapping, Sequence

    from bridge.zalo.read_back import DocumentQuery

__all__ = [
    "OaProfile",
    "SendReceipt",
    "StaticToken",
    "TokenSource",
    "ZaloClient",
    "normalise_phone",
]

CS_MESSAGE_PATH = "/v3.0/oa/message/cs"
UPLOAD_PATHS = {"file": "/v2.0/oa/upload/file", "image": "/v2.0/oa/upload/image"}
"""The uploads stay on v2.0 (zalo-oa-api-2 §1.1, VERIFIED by the SDKs; v3.0 answered 404)."""
CONVERSATION_PATH = "/v2.0/oa/conversation"
OA_INFO_PATH = "/v2.0/oa/getoa"
"""The OA's own profile: the cheapest call that needs the token (reference §8, VERIFIED)."""
TEMPLATE_UID_PATH = "/v3.0/oa/message/template"
"""ZBS template by user id: UNCERTAIN (reference §1), hence configurable."""
TEMPLATE_PHONE_PATH = "/message/template"
"""ZBS/ZNS template by phone, on the business host."""
BUSINESS_BASE_URL = "https://business.openapi.zalo.me"
MAX_TRACKING_ID = 48

_PHONE = re.compile(r"^(?:\+?84|0)?([1-9][0-9]{8,9})$")


def normalise_phone(phone: str) -> str:
    """The ``84…`` form Zalo's phone endpoints expect (``0912…``, ``+84912…`` → ``84912…``).

    Raises:
        MessageRejectedError: The value is not a Vietnamese phone number.
    """
    match = _PHONE.fullmatch(re.sub(r"[\s.-]", "", phone))
    if match is None:
        raise MessageRejectedError("the phone number is not a Vietnamese number")
    return "84" + match.group(1)


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


@dataclass(frozen=True, slots=True)
class OaProfile:
    """What Zalo says about the OA itself; any field Zalo leaves out is None."""

    oa_id: str | None
    name: str | None
    oa_type: int | None
    """2 for a Business OA, 4 for a Government OA (reference §1.5)."""


class ZaloClient:
    """The OA API as bridge uses it.

    A refused token (``-216``, ``-220``) is refreshed once through ``tokens`` and the call is
    retried once; if that fails too, ``TokenError`` tells the caller to stop and alert.

    Args:
        http: A client whose ``base_url`` is the OA API host; tests pass one built on
            ``httpx.MockTransport``. The caller owns it and closes it.
        tokens: The access token, sent as the bare ``access_token`` header (not ``Authorization``).
        max_concurrent: Requests in flight at once; at most the client's connection limit.
        business_base_url: The ZNS/ZBS host (template messages by phone), reached through
            the same ``http`` client and pool with absolute URLs.
        template_uid_path: Path of the template message by user id (UNCERTAIN).
        classify_zns: Turns the ZNS host's error codes into exceptions (``zns_classifier`` with
            the configured overrides of the UNCERTAIN numbers).
        deadline_seconds: The longest one request may take, whatever its progress (httpx's
            timeouts bound each connect, read or write, not the whole exchange); None: no bound.
            A request cut off by it is in doubt.
        transport: The transport under ``http`` (``zalo_http_transport``): a send (a JSON body,
            no query, no upload) goes to it directly, skipping the client's auth, redirect,
            cookie and hook machinery, which the OA API never uses (≈ 5 % of the CPU per event,
            docs/performance.md). None: everything goes through ``http``.
    """

    def __init__(  # noqa: PLR0913 - the client, its token and the UNCERTAIN endpoint knobs
        self,
        http: httpx.AsyncClient,
        tokens: TokenSource,
        *,
        max_concurrent: int = 200,
        business_base_url: str = BUSINESS_BASE_URL,
        template_uid_path: str = TEMPLATE_UID_PATH,
        classify_zns: Callable[[int, str], DeliveryError] = classify_zns_error,
        deadline_seconds: float | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = http
        self._transport = transport
        self._deadline = deadline_seconds
        self._tokens = tokens
        self._urls: dict[str, httpx.URL] = {}
        self._headers = tuple(http.headers.raw)
        self._timeouts = http.timeout.as_dict()
        self._template_by_phone = str(business_base_url).rstrip("/") + TEMPLATE_PHONE_PATH
        self._template_uid_path = template_uid_path
        self._classify_zns = classify_zns
        # Requests wait here, not in the connection pool: a request that times out waiting for a
        # pooled connection was never sent, yet httpx reports it like a lost answer (in doubt).
        self._slots = asyncio.Semaphore(max_concurrent)

    def _build(  # noqa: PLR0913 - one request's parts
        self,
        method: str,
        path: str,
        token: str,
        json_body: dict[str, Any] | None,
        params: dict[str, str] | None,
        *,
        files: Mapping[str, tuple[str, bytes, str]] | None,
    ) -> httpx.Request:
        """The request, built as ``httpx.AsyncClient.build_request`` would, for less CPU.

        A send (a JSON body, no query) is built directly: the client's headers and timeouts
        taken once, the URL parsed once, the body encoded as httpx encodes it. That skips
        httpx's merging of URL, headers, cookies and query on every call (≈ 4 % of the CPU per
        event, docs/performance.md). The API sets no cookie; anything else (a query, an upload)
        takes httpx's path.
        """
        if params is not None or json_body is None or files is not None:
            return self._http.build_request(
                method,
                self._url(path),
                json=json_body,
                params=params,
                files=None if files is None else dict(files),
                headers={"access_token": token},
            )
        body = json.dumps(
            json_body, ensure_ascii=False, separators=(",", ":"), allow_nan=False
        ).encode()
        headers = [
            *self._headers,
            (b"access_token", token.encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        return httpx.Request(
            method,
            self._url(path),
            content=body,
            headers=headers,
            extensions={"timeout": self._timeouts},
        )

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
            DeliveryInDoubtError: The request may have left, but no answer came back (read
                timeout, reset, malformed answer, any unforeseen transport error).
            RetryableDeliveryError: Nothing was sent (connection refused, DNS, TLS, connect
                timeout), or Zalo asks to retry (HTTP 5xx, 429, -32, …).
            RecipientUnreachableError, MessageRejectedError, AccountError: per the error code.
        """
        body = {"recipient": {"user_id": user_id}, "message": {"text": text}}
        data = await self._call("POST", CS_MESSAGE_PATH, json_body=body)
        return _receipt(data, ("message_id",))

    async def send_text_with_buttons(
        self, user_id: str, text: str, buttons: Sequence[tuple[str, str]]
    ) -> SendReceipt:
        """Send a CS text with ``oa.query.show`` buttons: (title, payload) pairs, at most 5.

        A tap makes the citizen's phone send the payload to the OA as her own text (it arrives
        as ``user_send_text``). The shape is the SDKs' "text + buttons" (zalo-oa-api-2 §6.2);
        whether every Zalo client shows buttons on a CS message is UNCERTAIN, so callers keep a
        typed answer possible. Raises like ``send_text``.
        """
        attachment = {
            "type": "template",
            "payload": {
                "buttons": [
                    {"title": title, "type": "oa.query.show", "payload": payload}
                    for title, payload in buttons
                ]
            },
        }
        body = {
            "recipient": {"user_id": user_id},
            "message": {"text": text, "attachment": attachment},
        }
        data = await self._call("POST", CS_MESSAGE_PATH, json_body=body)
        return _receipt(data, ("message_id",))

    async def upload(
        self, kind: Literal["file", "image"], name: str, content: bytes, content_type: str
    ) -> str:
        """Upload a file (PDF, DOC, DOCX) or an image (JPEG, PNG) for a later message.

        One multipart part named ``file`` (zalo-oa-api-2 §1.1, VERIFIED (SDK)). Zalo answers a
        file with ``data.token`` and an image with ``data.attachment_id`` (§1.3); either key is
        accepted, as GC's fixtures disagree for files (UNCERTAIN).

        Returns:
            The asset's token or attachment id, valid for about 7 days (§1.4, UNCERTAIN).

        Raises:
            RetryableDeliveryError: Nothing came back that can be used: an upload sends the
                citizen nothing, so a lost answer is simply tried again (never in doubt).
            MessageRejectedError: Zalo refuses the file (-201 type, -210 size, §7.2).
            TokenError, AccountError: as for sends.
        """
        files = {"file": (name, content, content_type)}
        try:
            data = await self._call("POST", UPLOAD_PATHS[kind], files=files)
        except DeliveryInDoubtError as exc:
            raise RetryableDeliveryError(f"upload answer lost: {exc}") from exc
        keys = ("token", "attachment_id") if kind == "file" else ("attachment_id", "token")
        if isinstance(data, dict):
            for key in keys:
                value = data.get(key)
                if isinstance(value, str) and value:
                    return value
        raise RetryableDeliveryError(f"Zalo accepted the {kind} upload without an id")

    async def send_file(self, user_id: str, token: str) -> SendReceipt:
        """Send an uploaded file as a CS file message (§1.5: type ``file``, no caption)."""
        body = {
            "recipient": {"user_id": user_id},
            "message": {"attachment": {"type": "file", "payload": {"token": token}}},
        }
        data = await self._call("POST", CS_MESSAGE_PATH, json_body=body)
        return _receipt(data, ("message_id",))

    async def send_image(self, user_id: str, attachment_id: str, caption: str) -> SendReceipt:
        """Send an uploaded image as a CS media message with a caption (§1.5, one element)."""
        element = {"media_type": "image", "attachment_id": attachment_id}
        body = {
            "recipient": {"user_id": user_id},
            "message": {
                "text": caption,
                "attachment": {
                    "type": "template",
                    "payload": {"template_type": "media", "elements": [element]},
                },
            },
        }
        data = await self._call("POST", CS_MESSAGE_PATH, json_body=body)
        return _receipt(data, ("message_id",))

    async def send_template(
        self, user_id: str, template_id: str, template_data: Mapping[str, str]
    ) -> SendReceipt:
        """Send an approved ZBS template message to a Zalo user by user id.

        No interaction window applies; the user must follow the OA (``-213``), and the template
        must allow sending by user id (``-249``). Endpoint UNCERTAIN (``template_uid_path``).

        Returns:
            Zalo's receipt.

        Raises:
            The same errors as ``send_text``.
        """
        body = {
            "user_id": user_id,
            "template_id": template_id,
            "template_data": dict(template_data),
        }
        data = await self._call("POST", self._template_uid_path, json_body=body)
        # The answer's shape is UNCERTAIN (SPEC: data.message_id): take the ZNS name too.
        return _receipt(data, ("message_id", "msg_id"))

    async def send_template_by_phone(
        self,
        phone: str,
        template_id: str,
        template_data: Mapping[str, str],
        tracking_id: str,
    ) -> SendReceipt:
        """Send an approved ZBS/ZNS template message to a phone number (business host).

        The phone goes out in the ``84…`` form, and only in the request. ``tracking_id`` (at most
        48 characters) comes back in Zalo's delivery receipt. Errors follow the ZNS table.

        Returns:
            Zalo's receipt (its ``msg_id`` as ``message_id``).

        Raises:
            The same errors as ``send_text``; ``MessageRejectedError`` for a malformed phone.
        """
        body = {
            "phone": normalise_phone(phone),
            "template_id": template_id,
            "template_data": dict(template_data),
            "tracking_id": tracking_id[:MAX_TRACKING_ID],
        }
        data = await self._call(
            "POST", self._template_by_phone, json_body=body, classify=self._classify_zns
        )
        return _receipt(data, ("msg_id", "message_id"))

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
        pages = self._conversation(user_id, since=since, max_pages=max_pages)
        async with contextlib.aclosing(pages):
            async for items in pages:
                for item in items:
                    if item.get("message") != text or str(item.get("to_id", user_id)) != user_id:
                        continue
                    sent = item_time(item)
                    if sent is not None and sent < since:
                        continue
                    message_id = item.get("message_id")
                    if isinstance(message_id, str) and message_id:
                        return message_id
        return None

    async def find_sent_document(self, query: DocumentQuery, *, max_pages: int = 10) -> str | None:
        """Look a file or image message up among the OA's messages to a user (an in-doubt send).

        Reads ``GET /v2.0/oa/conversation`` page by page, newest first, until a page reaches
        messages older than ``query.since``, the conversation ends, or ``max_pages`` were read.
        Zalo shows no file name (UNCERTAIN), so the match is by type, direction, time, and an
        image's caption (``bridge.zalo.read_back.document_candidates``); of several candidates the
        oldest is taken: this document's first send came before any later message of that kind.

        Returns:
            The message id, or None when no such message is there.
        """
        found: list[tuple[float, str]] = []
        async for items in self._conversation(
            query.user_id, since=query.since, max_pages=max_pages
        ):
            found.extend(document_candidates(items, query))
        return min(found)[1] if found else None

    async def _conversation(
        self, user_id: str, *, since: float, max_pages: int
    ) -> AsyncGenerator[list[dict[str, Any]]]:
        """The pages of the conversation with ``user_id``, newest first, back to ``since``."""
        page_size = 10
        for page in range(max_pages):
            query = {"user_id": user_id, "offset": page * page_size, "count": page_size}
            data = await self._call("GET", CONVERSATION_PATH, params={"data": json.dumps(query)})
            items = (
                [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []
            )
            yield items
            if len(items) < page_size or reaches_before(items, since):
                return

    async def oa_profile(self) -> OaProfile:
        """Read the OA's profile (``GET /v2.0/oa/getoa``): sends nothing to anyone, costs no quota.

        The circuit breaker's background probe calls it to learn whether Zalo answers again and
        takes the token.

        Returns:
            The profile.

        Raises:
            The same errors as ``send_text``; ``DeliveryInDoubtError`` here only means that no
            answer came (nothing was sent).
        """
        data = await self._call("GET", OA_INFO_PATH)
        if not isinstance(data, dict):
            data = {}
        oa_id, name, oa_type = data.get("oaid"), data.get("name"), data.get("oa_type")
        return OaProfile(
            oa_id=str(oa_id) if isinstance(oa_id, str | int) else None,
            name=name if isinstance(name, str) else None,
            oa_type=oa_type if isinstance(oa_type, int) and not isinstance(oa_type, bool) else None,
        )

    async def _call(  # noqa: PLR0913 - one call needs all of these, keyword-only past the path
        self,
        method: str,
        path: str,
        *,
        json_body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        classify: Callable[[int, str], DeliveryError] = classify_error,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> Any:
        token = await self._tokens.token()
        if not token:
            raise TokenError("no Zalo access token is configured")
        try:
            return await self._request(
                method, path, token, json_body, params, classify=classify, files=files
            )
        except TokenError:
            if not await self._tokens.refresh(token):
                raise
            fresh = await self._tokens.token()
            if not fresh:
                raise
            return await self._request(
                method, path, fresh, json_body, params, classify=classify, files=files
            )

    async def _request(  # noqa: PLR0913 - one request needs all of these
        self,
        method: str,
        path: str,
        token: str,
        json_body: dict[str, Any] | None,
        params: dict[str, str] | None,
        *,
        classify: Callable[[int, str], DeliveryError],
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> Any:
        direct = self._transport is not None and json_body is not None and not (params or files)
        try:
            request = self._build(method, path, token, json_body, params, files=files)
            async with self._slots, asyncio.timeout(self._deadline):
                if direct:
                    response = await self._send_direct(request)
                else:
                    response = await self._http.send(request)
        except Exception as exc:  # every transport failure is converted, by its cause
            raise _transport_error(exc) from exc
        if response.status_code >= 500 or response.status_code == 429:  # noqa: PLR2004 - HTTP codes
            raise RetryableDeliveryError(f"Zalo answered HTTP {response.status_code}")
        if response.status_code != 200:  # noqa: PLR2004 - HTTP OK
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
            raise classify(code, str(envelope.get("message", "")))
        return envelope.get("data")

    async def _send_direct(self, request: httpx.Request) -> httpx.Response:
        """Send on the transport itself and read the whole answer, as ``AsyncClient.send`` would.

        Redirects are not followed either way (the client's default): a 3xx is an answer.
        """
        assert self._transport is not None  # noqa: S101 - only called with one
        response = await self._transport.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        response.request = request
        return response


def _receipt(data: Any, id_fields: tuple[str, ...]) -> SendReceipt:
    """Zalo's receipt from a send's ``data``; success without an id leaves the send in doubt."""
    if not isinstance(data, dict):
        data = {}
    message_id = next(
        (data[f] for f in id_fields if isinstance(data.get(f), str) and data[f]), None
    )
    if not isinstance(message_id, str):
        raise DeliveryInDoubtError(f"Zalo reported success without a {id_fields[0]}")
    user = data.get("user_id")
    sent = data.get("sent_time")
    return SendReceipt(
        message_id=message_id,
        user_id=str(user) if user is not None else None,
        sent_time=str(sent) if sent is not None else None,
    )


def _transport_error(exc: Exception) -> RetryableDeliveryError:
    """The delivery error for a call that failed below HTTP, decided by the underlying cause.

    Only a request that cannot have left (refused, DNS, TLS, connect timeout) is retried as not
    sent; any other failure, including one nobody foresaw, leaves the send in doubt.
    """
    failure = classify_transport_failure(exc)
    if failure.sent:
        return DeliveryInDoubtError(f"no answer from Zalo: {failure}")
    return RetryableDeliveryError(f"cannot reach Zalo, nothing sent: {failure}")


def _http_error(status: int) -> DeliveryError:
    """Zalo reports its errors inside HTTP 200; another status means something is misconfigured."""
    message = f"Zalo answered HTTP {status}"
    if status == 401:  # noqa: PLR2004 - HTTP Unauthorized
        return TokenError(message)
    if status in {403, 404, 405}:
        return AccountError(message + " (wrong base URL or path?)")
    return MessageRejectedError(message)
