"""The emulator's whole in-memory state, with the clock and randomness it runs on."""

from __future__ import annotations

import dataclasses
import random

from bridge_devkit.emulator.attachments import AttachmentHost, AttachmentSettings
from bridge_devkit.emulator.chat_log import ChatLog
from bridge_devkit.emulator.clock import Clock, system_clock
from bridge_devkit.emulator.codes import message_for
from bridge_devkit.emulator.config import EmulatorConfig, RuntimeSettings
from bridge_devkit.emulator.faults import FaultQueue
from bridge_devkit.emulator.followers import FollowerStore
from bridge_devkit.emulator.ids import MessageIdGenerator
from bridge_devkit.emulator.message_log import MessageLog, ReadLog
from bridge_devkit.emulator.oauth_store import OAuthSettings, OAuthStore, RefreshTokenSource
from bridge_devkit.emulator.ratelimit import FixedWindowRateLimiter
from bridge_devkit.emulator.template_store import TemplateStore, ZbsSettings
from bridge_devkit.emulator.tokens import TokenStore
from bridge_devkit.emulator.upload_store import UploadSettings, UploadStore
from bridge_devkit.emulator.validation import Violation
from bridge_devkit.emulator.webhook import WebhookIdentity, WebhookOutbox, WebhookSettings

__all__ = ["EmulatorState"]


class EmulatorState:
    """Everything the emulated OA holds: tokens, users, budget, faults, logs, stores, outbox.

    The stores: OAuth, templates, uploads, hosted files, conversations.

    The state is only touched from the event loop, between awaits, so it needs no locks.
    """

    def __init__(
        self,
        config: EmulatorConfig,
        *,
        clock: Clock = system_clock,
        rng: random.Random | None = None,
    ) -> None:
        """Build the initial state from `config`.

        Args:
            config: Identity, initial tokens and followers, and the initial knob values.
            clock: Wall-clock time source; inject a `ManualClock` to test time windows.
            rng: Randomness for latency jitter and probabilistic faults; seed one for
                reproducible runs.
        """
        self.config = config
        self.clock = clock
        self.settings = RuntimeSettings.from_config(config)
        self.tokens = TokenStore()
        self.followers = FollowerStore()
        self.rate_limiter = FixedWindowRateLimiter(config.rate_limit_per_minute)
        self._rng = rng if rng is not None else random.Random()  # noqa: S311 - jitter, not crypto
        self.faults = FaultQueue(self._rng)
        self.messages = MessageLog(config.max_log_entries)
        self.reads = ReadLog(config.max_log_entries)
        self.chats = ChatLog(config.max_log_entries)
        self.uploads = UploadStore(UploadSettings.from_config(config.uploads))
        self.attachments = AttachmentHost(AttachmentSettings.from_config(config.attachments))
        self.new_message_id = MessageIdGenerator()
        now = clock()
        ttl = config.access_token_ttl_s
        for token in config.access_tokens:
            self.tokens.put(token, None if ttl is None else now + ttl)
        for follower in config.followers:
            self.followers.upsert(dataclasses.replace(follower))
        self.oauth = OAuthStore(OAuthSettings.from_config(config.oauth))
        for refresh_token in config.oauth.refresh_tokens:
            self.oauth.add_refresh_token(
                refresh_token,
                now,
                expires_at=now + config.oauth.refresh_token_lifetime_s,
                source=RefreshTokenSource.SEEDED,
            )
        self.templates = TemplateStore(ZbsSettings.from_config(config.zbs), config.zbs.templates)
        identity = WebhookIdentity(
            app_id=config.app_id,
            oa_id=config.oa_id,
            app_secret=config.app_secret,
            oa_secret_key=config.oa_secret_key,
        )
        webhook_settings = WebhookSettings.from_config(
            config.webhook, auto_deliver=clock is system_clock
        )
        self.webhook = WebhookOutbox(identity, webhook_settings, config.max_log_entries)

    def overridden(self, violation: Violation) -> Violation:
        """Return `violation` with its code replaced per `error_code_overrides`, if it is."""
        code = self.settings.answered_code(violation.code)
        if code == violation.code:
            return violation
        return Violation(code=code, message=message_for(code) or violation.message)

    def latency_s(self) -> float:
        """Return the artificial latency for one answer, jitter included, in seconds."""
        latency_ms = self.settings.latency_ms
        jitter_ms = self.settings.latency_jitter_ms
        if jitter_ms > 0:
            latency_ms += self._rng.uniform(0.0, jitter_ms)
        return latency_ms / 1000.0

    def update_settings(self, **changes: object) -> RuntimeSettings:
        """Change the given knobs (absent ones stay as they are) and return the settings.

        Setting `rate_limit_per_minute` also restarts the current window's count.

        Raises:
            TypeError: For a name that is not a knob.
        """
        settings = self.settings
        for name, value in changes.items():
            if name not in RuntimeSettings.__dataclass_fields__:
                raise TypeError(f"unknown setting {name}")
            setattr(settings, name, value)
        if "rate_limit_per_minute" in changes:
            self.rate_limiter.limit = settings.rate_limit_per_minute
            self.rate_limiter.reset()
        return settings
