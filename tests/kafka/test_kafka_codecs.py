"""Every Kafka compression codec is readable, or the process refuses to start saying which."""

from __future__ import annotations

import pytest
from aiokafka import codec

from bridge.errors import ConfigurationError
from bridge.kafka.codecs import missing_codecs, require_codecs


def test_this_installation_reads_every_codec():
    assert missing_codecs() == []
    require_codecs()  # nothing raised


def test_without_cramjam_the_process_refuses_to_start_naming_the_codecs(monkeypatch):
    monkeypatch.setattr(codec, "cramjam", None)  # as an image built without the extras
    assert missing_codecs() == ["snappy", "lz4", "zstd"]
    with pytest.raises(ConfigurationError, match=r"unavailable: snappy, lz4, zstd \(install"):
        require_codecs()
