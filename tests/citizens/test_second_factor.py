"""The second factor: receipt secrets derived from the dossier code, keyed phone-digit hashes."""

from __future__ import annotations

from bridge.citizens.second_factor import (
    RECEIPT_ALPHABET,
    phone_last4,
    phone_last4_hash,
    receipt_secret,
    verify_phone_last4,
    verify_receipt_secret,
)

KEY = "test-hmac-key"
CODE = "000.20.31.H56-260310-0042"


class TestReceiptSecret:
    def test_is_stable_short_and_unambiguous(self):
        secret = receipt_secret(KEY, CODE)
        assert secret == receipt_secret(KEY, CODE.lower())
        assert len(secret) == 6
        assert set(secret) <= set(RECEIPT_ALPHABET)
        assert not set(secret) & set("01ILO")

    def test_depends_on_the_key_and_the_code(self):
        assert receipt_secret(KEY, CODE) != receipt_secret("other-key", CODE)
        assert receipt_secret(KEY, CODE) != receipt_secret(KEY, CODE[:-1] + "3")

    def test_length_is_configurable(self):
        assert len(receipt_secret(KEY, CODE, length=8)) == 8

    def test_verification_ignores_case_and_spaces(self):
        secret = receipt_secret(KEY, CODE)
        typed = f" {secret[:3].lower()} {secret[3:]}"
        assert verify_receipt_secret(KEY, CODE, typed)
        assert not verify_receipt_secret(KEY, CODE, "AAAAAA")
        assert not verify_receipt_secret(KEY, "000.20.31.H56-260310-0043", secret)


class TestPhoneDigits:
    def test_last4(self):
        assert phone_last4("0912 345 678") == "5678"
        assert phone_last4("84912345678") == "5678"
        assert phone_last4("12") is None

    def test_the_hash_is_keyed_and_per_dossier(self):
        stored = phone_last4_hash(KEY, CODE, "5678")
        assert "5678" not in stored
        assert stored != phone_last4_hash("other-key", CODE, "5678")
        assert stored != phone_last4_hash(KEY, "000.20.31.H56-260310-0043", "5678")

    def test_verification(self):
        stored = phone_last4_hash(KEY, CODE, "5678")
        assert verify_phone_last4(KEY, CODE, " 56 78", stored)
        assert not verify_phone_last4(KEY, CODE, "5679", stored)
        assert not verify_phone_last4(KEY, CODE, "ABCD", stored)
        assert not verify_phone_last4(KEY, CODE, "5678", None)
