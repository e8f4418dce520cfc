"""Settings of one deployment: environment variables (``BRIDGE_…``) over an optional YAML file.

Each wing owns the model of its section (``bridge.delivery.settings.DeliverySettings``, …);
``Settings`` composes them and checks what spans sections.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from bridge.announcements.settings import AnnouncementSettings
from bridge.case_kinds.settings import CaseKindSettings
from bridge.citizens.settings import LinkingSettings, RetentionSettings
from bridge.delivery.settings import CascadeSettings, DeliverySettings
from bridge.errors import ConfigurationError
from bridge.feedback.settings import FeedbackSettings
from bridge.kafka.settings import KafkaSettings
from bridge.objects.settings import ObjectsSettings
from bridge.observability.settings import LogSettings
from bridge.process_settings import ProcessSettings
from bridge.quiet_hours.settings import QuietHoursSettings
from bridge.result_documents.settings import DocumentSettings
from bridge.settings_checks import cross_field_problems
from bridge.store.settings import StoreSettings
from bridge.submissions.settings import SubmissionSettings
from bridge.templates.settings import TemplateSettings
from bridge.webhook.settings import WebhookSettings
from bridge.wording import ProvinceSettings
from bridge.zalo.settings import ZaloSettings

__all__ = [
    "ENV_PREFIX",
    "Settings",
    "load_settings",
]

ENV_PREFIX = "BRIDGE_"
_NESTED = "__"


class Settings(BaseSettings):
    """Everything one bridge deployment is configured with.

    Sources, strongest first: keyword arguments, ``BRIDGE_…`` environment variables (nested with
    ``__``, e.g. ``BRIDGE_KAFKA__INPUT_TOPIC``), the YAML file given to ``load_settings``,
    defaults.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=_NESTED,
        extra="forbid",
        frozen=True,
    )

    kafka: KafkaSettings = KafkaSettings()
    zalo: ZaloSettings = ZaloSettings()
    delivery: DeliverySettings = DeliverySettings()
    store: StoreSettings = StoreSettings()
    province: ProvinceSettings = ProvinceSettings()
    templates: TemplateSettings = TemplateSettings()
    log: LogSettings = LogSettings()
    cascade: CascadeSettings = CascadeSettings()
    quiet_hours: QuietHoursSettings = QuietHoursSettings()
    announcements: AnnouncementSettings = AnnouncementSettings()
    webhook: WebhookSettings = WebhookSettings()
    linking: LinkingSettings = LinkingSettings()
    retention: RetentionSettings = RetentionSettings()
    objects: ObjectsSettings = ObjectsSettings()
    feedback: FeedbackSettings = FeedbackSettings()
    documents: DocumentSettings = DocumentSettings()
    case_kinds: CaseKindSettings = CaseKindSettings()
    submissions: SubmissionSettings = SubmissionSettings()
    process: ProcessSettings = ProcessSettings()

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        problems = cross_field_problems(self)
        if problems:
            raise ValueError(
                "inconsistent settings: " + "; ".join(str(problem) for problem in problems)
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,  # noqa: ARG003 - no .env files in production
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Read keyword arguments, then the environment, mounted secrets, the YAML file."""
        return (
            init_settings,
            env_settings,
            file_secret_settings,
            YamlConfigSettingsSource(settings_cls),
        )


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build and validate the settings, or fail with an error that names the setting.

    Args:
        config_file: Optional YAML file (keys as in ``Settings``); ``BRIDGE_CONFIG_FILE`` also
            names it.
        **overrides: Values that win over every other source.

    Raises:
        ConfigurationError: When a value is missing, malformed or inconsistent.
    """
    env_file = os.environ.get(f"{ENV_PREFIX}CONFIG_FILE")
    path = config_file or (Path(env_file) if env_file else None)
    if path is not None and not path.is_file():
        raise ConfigurationError(f"configuration file {path} does not exist")
    plain_bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if plain_bootstrap and f"{ENV_PREFIX}KAFKA{_NESTED}BOOTSTRAP_SERVERS" not in os.environ:
        # The conventional variable points every tool, bridge included, at an existing cluster.
        kafka = dict(overrides.get("kafka", {}))
        kafka.setdefault("bootstrap_servers", plain_bootstrap)
        overrides["kafka"] = kafka

    class _Loaded(Settings):
        model_config = SettingsConfigDict(yaml_file=path, title="Settings")

    try:
        return _Loaded(**overrides)
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc)) from exc


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = [str(part) for part in error["loc"]]
        message = error["msg"].removeprefix("Value error, ")
        if not loc:  # a check across sections: its message names the keys
            problems.append(message)
            continue
        dotted = ".".join(loc)
        env_name = ENV_PREFIX + _NESTED.join(part.upper() for part in loc)
        problems.append(f"{dotted} (env {env_name}): {message}")
    return "invalid settings: " + "; ".join(problems)
