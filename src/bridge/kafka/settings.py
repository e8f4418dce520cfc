"""The Kafka section of the settings: where events come from, where rejects go, how to log in."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    FilePath,
    SecretStr,
    field_validator,
    model_validator,
)

__all__ = ["KafkaSettings"]


class KafkaSettings(BaseModel):
    """Where case-state events come from and where rejects go."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        description="Comma-separated host:port list. KAFKA_BOOTSTRAP_SERVERS also sets it.",
    )
    input_topic: str = Field(default="case-state-events", min_length=1)
    dead_letter_topic: str = Field(default="case-state-events.dlq", min_length=1)
    status_topic: str = Field(
        default="case-state-events.status",
        min_length=1,
        description="One delivery-status event per input record, keyed by dossier code.",
    )
    v2_enabled: bool = Field(
        default=False,
        description=(
            "Also read the v2 topic: complaints, denunciations and land disputes "
            "(schemas/case-state-event.v2.json, docs/complaints-and-disputes.md)."
        ),
    )
    v2_input_topic: str = Field(
        default="case-state-events.v2",
        min_length=1,
        description="The v2 case events (its own ACLs: denunciations protect their author).",
    )
    v2_dead_letter_topic: str = Field(
        default="case-state-events.v2.dlq",
        min_length=1,
        description="Where unreadable v2 records go (restricted like the v2 topic).",
    )
    v2_status_topic: str = Field(
        default="case-state-events.v2.status",
        min_length=1,
        description="One delivery-status event per v2 input record.",
    )
    consumer_group: str = Field(default="zalo-bridge", min_length=1)
    client_id: str = Field(default="zalo-bridge", min_length=1)
    transactional_id: str | None = Field(
        default=None,
        description=(
            "Kafka transactional id of this replica; default: client_id and the host name (the "
            "pod name), so a restarted container fences its predecessor's open transaction."
        ),
    )
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    commit_interval_ms: int = Field(
        default=500,
        ge=10,
        le=60_000,
        description="How often settled records are committed with their status events.",
    )
    transaction_timeout_ms: int = Field(default=15_000, ge=1_000, le=900_000)
    startup_timeout_seconds: float = Field(
        default=120.0,
        gt=0,
        description="How long start-up waits for an unreachable broker before giving up.",
    )
    max_event_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        description="Larger records are dead-lettered as oversize without being parsed.",
    )
    max_poll_interval_ms: int = Field(default=300_000, ge=10_000)
    session_timeout_ms: int = Field(default=10_000, ge=1_000)
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT",
        description="How every Kafka client of bridge connects: TLS (SSL), SASL, both, or neither.",
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        default=None, description="SASL mechanism; required with SASL_PLAINTEXT and SASL_SSL."
    )
    sasl_username: str | None = Field(default=None, min_length=1, description="SASL user name.")
    sasl_password: SecretStr | None = Field(default=None, description="SASL password (a secret).")
    ssl_cafile: FilePath | None = Field(
        default=None,
        description="PEM file of the CAs that sign the brokers' certificates; default: system CAs.",
    )
    ssl_certfile: FilePath | None = Field(
        default=None, description="PEM client certificate, for brokers that require mutual TLS."
    )
    ssl_keyfile: FilePath | None = Field(
        default=None, description="PEM private key of ssl_certfile (unencrypted)."
    )

    @model_validator(mode="after")
    def _security_is_complete(self) -> KafkaSettings:
        sasl = self.security_protocol.startswith("SASL_")
        if sasl and not (self.sasl_mechanism and self.sasl_username and self.sasl_password):
            raise ValueError(
                f"security_protocol {self.security_protocol} needs sasl_mechanism, "
                "sasl_username and sasl_password"
            )
        if not sasl and (self.sasl_mechanism or self.sasl_username or self.sasl_password):
            raise ValueError("sasl_* settings need security_protocol SASL_PLAINTEXT or SASL_SSL")
        tls = self.security_protocol in {"SSL", "SASL_SSL"}
        if not tls and (self.ssl_cafile or self.ssl_certfile or self.ssl_keyfile):
            raise ValueError("ssl_* settings need security_protocol SSL or SASL_SSL")
        if self.ssl_keyfile and not self.ssl_certfile:
            raise ValueError("ssl_keyfile needs ssl_certfile")
        return self

    @field_validator("bootstrap_servers")
    @classmethod
    def _host_ports(cls, value: str) -> str:
        servers = [part.strip() for part in value.split(",") if part.strip()]
        if not servers or any(":" not in s or not s.rsplit(":", 1)[1].isdigit() for s in servers):
            raise ValueError("expected host:port[,host:port…]")
        return ",".join(servers)
