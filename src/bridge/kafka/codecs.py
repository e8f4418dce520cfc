"""The compression codecs a producer of the input topics may use, checked before consuming."""

from __future__ import annotations

from aiokafka import codec

from bridge.errors import ConfigurationError

__all__ = ["missing_codecs", "require_codecs"]

_CODECS = {
    "gzip": codec.has_gzip,
    "snappy": codec.has_snappy,
    "lz4": codec.has_lz4,
    "zstd": codec.has_zstd,
}


def missing_codecs() -> list[str]:
    """The Kafka compression codecs this installation cannot read (aiokafka's own test)."""
    return [name for name, available in _CODECS.items() if not available()]


def require_codecs() -> None:
    """Refuse to start without every codec: a batch in a missing one would stall its partition.

    Kafka producers choose the codec (a Java producer's ``compression.type``); aiokafka reads
    snappy, lz4 and zstd through ``cramjam`` (the ``aiokafka[lz4,snappy,zstd]`` extras), gzip
    from the standard library. Without it every later record of that partition waits forever.
    """
    missing = missing_codecs()
    if missing:
        raise ConfigurationError(
            "Kafka compression codecs unavailable: " + ", ".join(missing) + " (install the "
            "cramjam package: records a producer compressed with them could not be read)"
        )
