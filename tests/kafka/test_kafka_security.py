"""Kafka security settings: validation, and the same options for faststream and aiokafka."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from faststream.kafka.security import parse_security
from faststream.security import SASLPlaintext, SASLScram256, SASLScram512

from bridge.errors import ConfigurationError
from bridge.kafka.security import (
    KafkaAuthenticationError,
    broker_security,
    client_options,
    verify_login,
)
from bridge.settings import load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in list(os.environ):
        if name.startswith(("BRIDGE_", "KAFKA_")):
            monkeypatch.delenv(name)


@pytest.fixture
def pem(tmp_path):
    """A self-signed certificate and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kafka-ca")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file = tmp_path / "ca.pem"
    key_file = tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def kafka(**values):
    return load_settings(kafka=values).kafka


SCRAM = {
    "security_protocol": "SASL_PLAINTEXT",
    "sasl_mechanism": "SCRAM-SHA-512",
    "sasl_username": "bridge",
    "sasl_password": "s3cret",
}


class TestSettings:
    def test_plaintext_is_the_default_and_needs_nothing(self):
        settings = kafka()
        assert settings.security_protocol == "PLAINTEXT"
        assert broker_security(settings) is None
        assert client_options(settings) == {"security_protocol": "PLAINTEXT"}

    @pytest.mark.parametrize("missing", ["sasl_mechanism", "sasl_username", "sasl_password"])
    def test_sasl_needs_mechanism_user_and_password(self, missing):
        values = {k: v for k, v in SCRAM.items() if k != missing}
        with pytest.raises(ConfigurationError, match=r"BRIDGE_KAFKA.*needs sasl_mechanism"):
            kafka(**values)

    def test_sasl_settings_without_a_sasl_protocol_are_refused(self):
        with pytest.raises(ConfigurationError, match="need security_protocol SASL_PLAINTEXT"):
            kafka(sasl_mechanism="PLAIN", sasl_username="u", sasl_password="p")

    def test_tls_files_without_a_tls_protocol_are_refused(self, pem):
        with pytest.raises(ConfigurationError, match="need security_protocol SSL"):
            kafka(ssl_cafile=str(pem[0]))

    def test_a_key_without_its_certificate_is_refused(self, pem):
        with pytest.raises(ConfigurationError, match="ssl_keyfile needs ssl_certfile"):
            kafka(security_protocol="SSL", ssl_keyfile=str(pem[1]))

    def test_a_missing_certificate_file_is_named(self, tmp_path):
        with pytest.raises(ConfigurationError, match="BRIDGE_KAFKA__SSL_CAFILE"):
            kafka(security_protocol="SSL", ssl_cafile=str(tmp_path / "absent.pem"))

    def test_an_unknown_mechanism_is_refused(self):
        with pytest.raises(ConfigurationError, match="BRIDGE_KAFKA__SASL_MECHANISM"):
            kafka(**{**SCRAM, "sasl_mechanism": "GSSAPI"})

    def test_the_password_is_hidden_when_printed(self):
        assert "s3cret" not in repr(kafka(**SCRAM))

    def test_environment_variables_set_the_security(self, monkeypatch):
        monkeypatch.setenv("BRIDGE_KAFKA__SECURITY_PROTOCOL", "SASL_PLAINTEXT")
        monkeypatch.setenv("BRIDGE_KAFKA__SASL_MECHANISM", "PLAIN")
        monkeypatch.setenv("BRIDGE_KAFKA__SASL_USERNAME", "bridge")
        monkeypatch.setenv("BRIDGE_KAFKA__SASL_PASSWORD", "from-secret")
        options = client_options(load_settings().kafka)
        assert options["sasl_plain_password"] == "from-secret"


class TestClientOptions:
    @pytest.mark.parametrize(
        ("mechanism", "kind"),
        [
            ("PLAIN", SASLPlaintext),
            ("SCRAM-SHA-256", SASLScram256),
            ("SCRAM-SHA-512", SASLScram512),
        ],
    )
    def test_each_mechanism_maps_to_faststream_security(self, mechanism, kind):
        settings = kafka(**{**SCRAM, "sasl_mechanism": mechanism})
        security = broker_security(settings)
        assert type(security) is kind
        assert client_options(settings) == {
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": mechanism,
            "sasl_plain_username": "bridge",
            "sasl_plain_password": "s3cret",
        }

    @pytest.mark.parametrize("protocol", ["SSL", "SASL_SSL", "SASL_PLAINTEXT"])
    def test_faststream_and_aiokafka_clients_connect_the_same_way(self, protocol, pem):
        values = {"security_protocol": protocol}
        if protocol.startswith("SASL"):
            values |= {k: v for k, v in SCRAM.items() if k != "security_protocol"}
        if protocol.endswith("SSL"):
            values |= {"ssl_cafile": str(pem[0])}
        settings = kafka(**values)
        ours = client_options(settings)
        theirs = parse_security(broker_security(settings))
        assert ours["security_protocol"] == theirs["security_protocol"] == protocol
        for key in ("sasl_mechanism", "sasl_plain_username", "sasl_plain_password"):
            assert ours.get(key) == theirs.get(key)
        assert isinstance(ours.get("ssl_context"), ssl.SSLContext) is protocol.endswith("SSL")
        assert isinstance(theirs.get("ssl_context"), ssl.SSLContext) is protocol.endswith("SSL")

    def test_tls_uses_the_given_ca_and_client_certificate(self, pem):
        cert, key = pem
        settings = kafka(
            security_protocol="SSL",
            ssl_cafile=str(cert),
            ssl_certfile=str(cert),
            ssl_keyfile=str(key),
        )
        context = client_options(settings)["ssl_context"]
        assert context.verify_mode is ssl.CERT_REQUIRED
        assert context.check_hostname
        assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "kafka-ca"),),)]

    def test_tls_without_a_ca_file_trusts_the_system_cas(self):
        context = client_options(kafka(security_protocol="SSL"))["ssl_context"]
        assert context.verify_mode is ssl.CERT_REQUIRED

    def test_an_unreadable_certificate_is_a_configuration_error(self, tmp_path):
        garbage = tmp_path / "garbage.pem"
        garbage.write_text("not a certificate")
        with pytest.raises(ConfigurationError, match="cannot be loaded"):
            client_options(kafka(security_protocol="SSL", ssl_cafile=str(garbage)))


class TestVerifyLogin:
    async def test_plaintext_needs_no_login(self):
        await verify_login(kafka(bootstrap_servers="127.0.0.1:1"))

    async def test_an_unreachable_broker_is_left_to_the_callers_retries(self):
        await verify_login(kafka(**SCRAM, bootstrap_servers="127.0.0.1:1"), timeout=2)

    async def test_a_broker_certificate_that_is_not_trusted_is_a_configuration_error(self, pem):
        cert, key = pem
        server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_side.load_cert_chain(cert, key)

        async def hang_up(_reader, writer):
            writer.close()

        server = await asyncio.start_server(hang_up, "127.0.0.1", 0, ssl=server_side)
        port = server.sockets[0].getsockname()[1]
        try:
            # The system CAs do not know the self-signed broker certificate.
            settings = kafka(security_protocol="SSL", bootstrap_servers=f"127.0.0.1:{port}")
            with pytest.raises(KafkaAuthenticationError, match=r"TLS handshake .* failed"):
                await verify_login(settings, timeout=5)
        finally:
            server.close()
            await server.wait_closed()
