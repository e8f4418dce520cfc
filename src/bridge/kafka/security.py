"""Turn the Kafka security settings into faststream security and aiokafka client options."""

from __future__ import annotations

import asyncio
import ssl
from typing import TYPE_CHECKING, Any

from aiokafka.conn import create_conn
from aiokafka.errors import (
    AuthenticationFailedError,
    AuthenticationMethodNotSupported,
    KafkaError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)
from aiokafka.helpers import create_ssl_context
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from bridge.errors import ConfigurationError

if TYPE_CHECKING:
    from bridge.kafka.settings import KafkaSettings

__all__ = ["KafkaAuthenticationError", "broker_security", "client_options", "verify_login"]

_SASL = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}
_REFUSED = (
    SaslAuthenticationFailed,
    AuthenticationFailedError,
    AuthenticationMethodNotSupported,
    UnsupportedSaslMechanismError,
)


class KafkaAuthenticationError(ConfigurationError):
    """The broker refused bridge's credentials or TLS settings: retrying will not help."""


def _ssl_context(kafka: KafkaSettings) -> ssl.SSLContext | None:
    """The TLS context of SSL and SASL_SSL (system CAs unless ``ssl_cafile``), else None."""
    if kafka.security_protocol not in {"SSL", "SASL_SSL"}:
        return None
    try:
        context: ssl.SSLContext = create_ssl_context(
            cafile=str(kafka.ssl_cafile) if kafka.ssl_cafile else None,
            certfile=str(kafka.ssl_certfile) if kafka.ssl_certfile else None,
            keyfile=str(kafka.ssl_keyfile) if kafka.ssl_keyfile else None,
        )
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"kafka.ssl_* files cannot be loaded: {exc}") from exc
    return context


def broker_security(kafka: KafkaSettings) -> BaseSecurity | None:
    """The ``security=`` of faststream's ``KafkaBroker``, or None for PLAINTEXT.

    Raises:
        ConfigurationError: When a certificate or key file cannot be loaded.
    """
    context = _ssl_context(kafka)
    if kafka.sasl_mechanism is None or kafka.sasl_username is None or kafka.sasl_password is None:
        return None if context is None else BaseSecurity(ssl_context=context)
    return _SASL[kafka.sasl_mechanism](
        kafka.sasl_username,
        kafka.sasl_password.get_secret_value(),
        ssl_context=context,
        use_ssl=context is not None,
    )


def client_options(kafka: KafkaSettings) -> dict[str, Any]:
    """Keyword arguments for aiokafka's producer, consumer and admin client.

    The same options faststream derives from `broker_security`, so every client of bridge
    connects the same way.

    Raises:
        ConfigurationError: When a certificate or key file cannot be loaded.
    """
    options: dict[str, Any] = {"security_protocol": kafka.security_protocol}
    context = _ssl_context(kafka)
    if context is not None:
        options["ssl_context"] = context
    if kafka.sasl_mechanism is not None:
        options["sasl_mechanism"] = kafka.sasl_mechanism
        options["sasl_plain_username"] = kafka.sasl_username
        options["sasl_plain_password"] = (
            kafka.sasl_password.get_secret_value() if kafka.sasl_password else None
        )
    return options


async def verify_login(kafka: KafkaSettings, *, timeout: float = 10.0) -> None:
    """Log in to the first bootstrap server that answers, to tell bad credentials from an outage.

    aiokafka reports a refused login like an unreachable broker (it would be retried until the
    start-up timeout); this opens one connection and says which it is. It does nothing for
    PLAINTEXT, and returns quietly when no server answers (the caller's retries handle that).

    Raises:
        KafkaAuthenticationError: When a broker refuses the SASL login or the TLS handshake.
        ConfigurationError: When a certificate or key file cannot be loaded.
    """
    if kafka.security_protocol == "PLAINTEXT":
        return
    options = client_options(kafka)
    for server in kafka.bootstrap_servers.split(","):
        host, _, port = server.rpartition(":")
        try:
            async with asyncio.timeout(timeout):
                conn = await create_conn(
                    host.strip("[]"), int(port), client_id=f"{kafka.client_id}-login", **options
                )
        except _REFUSED as exc:
            raise KafkaAuthenticationError(
                f"Kafka broker {server} refused the {kafka.sasl_mechanism} login of "
                f"{kafka.sasl_username!r}: check kafka.sasl_mechanism, "
                "kafka.sasl_username and kafka.sasl_password"
            ) from exc
        except (ssl.SSLEOFError, ssl.SSLZeroReturnError):  # closed mid-handshake: may pass
            continue
        except ssl.SSLError as exc:
            raise KafkaAuthenticationError(
                f"TLS handshake with Kafka broker {server} failed: {exc.reason or exc}; "
                "check kafka.ssl_cafile, kafka.ssl_certfile and kafka.ssl_keyfile"
            ) from exc
        except (KafkaError, OSError, TimeoutError):
            continue
        conn.close()
        return
