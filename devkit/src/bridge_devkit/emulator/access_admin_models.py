"""Request bodies of the admin calls for OAuth, templates and the webhook (pydantic models)."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator, model_validator

from bridge_devkit.emulator import media
from bridge_devkit.emulator.events import AttachmentSpec, EventSpec
from bridge_devkit.emulator.oauth_store import OAuthErrorKind, is_code_challenge, pkce_challenge
from bridge_devkit.emulator.template_store import Template, TemplateParam, normalise_phone
from bridge_devkit.emulator.webhook import SignatureFirstTerm, SignatureSecret

__all__ = [
    "AttachmentIn",
    "CodeIn",
    "EventIn",
    "EventsIn",
    "GenerateIn",
    "OAuthConfigPatch",
    "RefreshTokenIn",
    "TemplateIn",
    "TemplateParamIn",
    "TemplatesIn",
    "WebhookPatch",
    "ZbsPatch",
]

NegativeCode = Annotated[int, Field(lt=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CodeIn(_Strict):
    """A code to mint, as if the OA admin consented (`POST /_emulator/oauth/codes`)."""

    code_challenge: str | None = Field(
        default=None, description="base64url(sha256(code_verifier)), 43 characters."
    )
    code_verifier: str | None = Field(
        default=None, min_length=1, description="Alternatively the verifier; its challenge is used."
    )
    redirect_uri: str | None = Field(default=None, description="Noted with the code.")
    code: str | None = Field(
        default=None, min_length=1, description="The code's value; random if null."
    )
    expires_in: float | None = Field(
        default=None, description="Seconds until it expires; null = the configured 600 s."
    )

    @model_validator(mode="after")
    def _one_challenge(self) -> Self:
        if (self.code_challenge is None) == (self.code_verifier is None):
            raise ValueError("give code_challenge or code_verifier, not both")
        if self.code_challenge is not None and not is_code_challenge(self.code_challenge):
            raise ValueError("code_challenge must be 43 base64url characters")
        return self

    def challenge(self) -> str:
        """Return the code challenge, computed from the verifier if that is what was given."""
        if self.code_challenge is not None:
            return self.code_challenge
        assert self.code_verifier is not None  # noqa: S101 - checked by the validator
        return pkce_challenge(self.code_verifier)


class RefreshTokenIn(_Strict):
    """A refresh token to accept once (`POST /_emulator/oauth/refresh-tokens`)."""

    refresh_token: str = Field(min_length=1)
    expires_in: float | None = Field(
        default=None, description="Seconds until it expires; null = the configured 3 months."
    )
    expires_at: datetime | None = Field(
        default=None, description="ISO-8601 expiry (naive = UTC); overrides expires_in."
    )
    access_token: str | None = Field(
        default=None,
        min_length=1,
        description="The access token issued with it, revoked when it is spent.",
    )

    def expiry(self, now: float, default_lifetime_s: float) -> float:
        """Return the expiry in epoch seconds for a token seeded at `now`."""
        if self.expires_at is not None:
            at = self.expires_at
            return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).timestamp()
        return now + (default_lifetime_s if self.expires_in is None else self.expires_in)


class OAuthConfigPatch(_Strict):
    """OAuth knobs to change (`PUT /_emulator/oauth/config`); absent or null fields stay."""

    access_token_lifetime_s: float | None = Field(default=None, gt=0)
    refresh_token_lifetime_s: float | None = Field(default=None, gt=0)
    code_lifetime_s: float | None = Field(default=None, gt=0)
    revoke_previous_access_token: bool | None = None
    redirect_uris: list[str] | None = None
    error_codes: dict[OAuthErrorKind, NegativeCode] | None = Field(
        default=None, description="Error code per kind; the kinds not given keep theirs."
    )


class TemplateParamIn(_Strict):
    """One parameter of a template."""

    name: str = Field(min_length=1)
    max_length: int = Field(ge=1, description="Longest value, in characters.")
    required: bool = True


class TemplateIn(_Strict):
    """An approved template (`PUT /_emulator/templates`)."""

    template_id: str = Field(min_length=1)
    params: list[TemplateParamIn] = Field(default_factory=list)
    allow_uid: bool = Field(default=True, description="Whether it may be sent by UID (else -249).")

    @field_validator("params")
    @classmethod
    def _unique_names(cls, params: list[TemplateParamIn]) -> list[TemplateParamIn]:
        names = [param.name for param in params]
        if len(set(names)) != len(names):
            raise ValueError("parameter names must be unique")
        return params

    def to_template(self) -> Template:
        """Build the state's template."""
        return Template(
            template_id=self.template_id,
            params=tuple(
                TemplateParam(name=p.name, max_length=p.max_length, required=p.required)
                for p in self.params
            ),
            allow_uid=self.allow_uid,
        )


class TemplatesIn(RootModel[list[TemplateIn]]):
    """A JSON list of `TemplateIn`."""


class ZbsPatch(_Strict):
    """Template-message knobs to change (`PUT /_emulator/zbs`); absent or null fields stay."""

    daily_quota: int | None = Field(default=None, ge=0)
    phones_without_account: list[str] | None = Field(
        default=None, description="Replaces the set; each number in a form the API accepts."
    )
    token_error: NegativeCode | None = None
    admin_phones: list[str] | None = Field(
        default=None, description="Replaces the set of admins (development mode)."
    )
    dev_quota: int | None = Field(default=None, ge=0, description="Development sends a day.")
    dev_mode_receipts: bool | None = None

    @field_validator("phones_without_account", "admin_phones")
    @classmethod
    def _valid_phones(cls, phones: list[str] | None) -> list[str] | None:
        if phones is None:
            return None
        normalised = [normalise_phone(phone) for phone in phones]
        bad = [phone for phone, norm in zip(phones, normalised, strict=True) if norm is None]
        if bad:
            raise ValueError(f"not phone numbers: {', '.join(bad)}")
        return [norm for norm in normalised if norm is not None]


class WebhookPatch(_Strict):
    """Webhook knobs to change (`PUT /_emulator/webhook`); absent or null fields stay."""

    url: str | None = Field(default=None, description="An absolute http(s) URL.")
    enabled: bool | None = Field(default=None, description="true also clears a switch-off.")
    signature_first_term: SignatureFirstTerm | None = None
    signature_secret: SignatureSecret | None = None
    mac_prefix: bool | None = None
    auto_receipts: bool | None = None
    receipt_delay_s: float | None = Field(default=None, ge=0)
    timeout_s: float | None = Field(default=None, gt=0, le=60)
    retry_delays_s: list[Annotated[float, Field(ge=0)]] | None = None
    auto_deliver: bool | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme not in {"http", "https"} or not parts.netloc:
                raise ValueError("url must be an absolute http(s) URL")
        return url


class GenerateIn(_Strict):
    """A file for the emulator to make (`media.generate`)."""

    kind: Literal["jpeg", "png", "png_bomb", "gif", "pdf", "docx", "bytes"]
    width: int | None = Field(default=None, ge=1)
    height: int | None = Field(default=None, ge=1)
    exif_gps: bool | None = Field(default=None, description="jpeg: add EXIF with a GPS fix.")
    text: str | None = Field(default=None, description="pdf, docx: the text shown.")
    size: int | None = Field(default=None, ge=0, le=200 * 1024 * 1024)
    seed: int | None = None

    def make(self) -> tuple[bytes, str]:
        """Make the file; return its bytes and extension.

        Raises:
            ValueError: For options the kind does not take.
        """
        options = self.model_dump(exclude={"kind"}, exclude_none=True)
        return media.generate(self.kind, **options)


class AttachmentIn(_Strict):
    """The attachment of a `user_send_*` event (part 2 §2.2)."""

    content_base64: str | None = Field(default=None, description="The file's bytes, base64.")
    generate: GenerateIn | None = Field(default=None, description="Or a file to make.")
    url: str | None = Field(default=None, description="Or a URL to send as is (not hosted).")
    name: str | None = Field(default=None, min_length=1, description="The file name.")
    content_type: str | None = None
    thumbnail: str | None = None
    description: str | None = None
    title: str | None = None
    latitude: str | None = None
    longitude: str | None = None
    sticker_id: str | None = None
    size_as_number: bool = False
    omit: bool = Field(default=False, description="Send the event without `attachments`.")

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        sources = [self.content_base64, self.generate, self.url]
        if sum(source is not None for source in sources) > 1:
            raise ValueError("give at most one of content_base64, generate, url")
        return self

    def to_spec(self) -> AttachmentSpec:
        """Build the event's attachment (decoding or making the bytes).

        Raises:
            ValueError: For bad base64 or generator options.
        """
        data = None
        name = self.name
        if self.content_base64 is not None:
            try:
                data = base64.b64decode(self.content_base64, validate=True)
            except binascii.Error as exc:
                raise ValueError(f"content_base64 is not base64: {exc}") from exc
        elif self.generate is not None:
            data, extension = self.generate.make()
            name = name or f"{self.generate.kind}.{extension}"
        return AttachmentSpec(
            data=data,
            url=self.url,
            name=name,
            content_type=self.content_type,
            thumbnail=self.thumbnail,
            description=self.description,
            title=self.title,
            latitude=self.latitude,
            longitude=self.longitude,
            sticker_id=self.sticker_id,
            size_as_number=self.size_as_number,
            omit=self.omit,
        )


EventName = Literal[
    "user_send_text",
    "user_send_image",
    "user_send_gif",
    "user_send_file",
    "user_send_link",
    "user_send_location",
    "user_send_sticker",
    "user_send_audio",
    "user_send_video",
    "user_send_business_card",
    "user_submit_info",
    "follow",
    "unfollow",
    "user_received_message",
    "user_seen_message",
]


class EventIn(_Strict):
    """Something an emulated user did (`POST /_emulator/events`)."""

    event_name: EventName
    user_id: str | None = Field(default=None, min_length=1)
    text: str | None = Field(
        default=None, min_length=1, description="user_send_text; the caption of a media event."
    )
    msg_ids: list[Annotated[str, Field(min_length=1)]] | None = Field(
        default=None, description="For receipts; default: the user's newest accepted message."
    )
    source: str = Field(default="oa_profile", description="For follow/unfollow.")
    display_name: str = Field(default="", description="For a user the event makes known.")
    user_id_by_app: str | None = Field(default=None, min_length=1)
    timestamp: str | None = Field(
        default=None, pattern=r"^\d{1,16}$", description="Epoch ms string; default: now."
    )
    attachment: AttachmentIn | None = Field(
        default=None, description="user_send_* with an attachment; a file is made if absent."
    )
    info: dict[str, str] | None = Field(default=None, description="user_submit_info.")
    info_shape: Literal["flat", "full_address"] = "flat"
    force: bool = Field(default=False, description="user_submit_info without a request.")

    def to_spec(self, base_url: str = "") -> EventSpec:
        """Build the event spec.

        Raises:
            ValueError: For an attachment whose bytes cannot be had.
        """
        return EventSpec(
            event_name=self.event_name,
            user_id=self.user_id,
            text=self.text,
            msg_ids=tuple(self.msg_ids or ()),
            source=self.source,
            display_name=self.display_name,
            user_id_by_app=self.user_id_by_app,
            timestamp=self.timestamp,
            attachment=None if self.attachment is None else self.attachment.to_spec(),
            info=self.info,
            info_shape=self.info_shape,
            force=self.force,
            base_url=base_url,
        )


class EventsIn(RootModel[EventIn | list[EventIn]]):
    """One event or a list of events."""

    def items(self) -> list[EventIn]:
        """Return the events as a list."""
        return self.root if isinstance(self.root, list) else [self.root]
