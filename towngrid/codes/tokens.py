"""Unguessable, signed tokens for printed codes (一户一码).

A token is 24 base32 characters: 16 from 10 random bytes (the code's identity, 80 bits, so it
cannot be guessed or enumerated like a sequential id) followed by 8 from the first 5 bytes of an
HMAC-SHA256 of those random bytes. The HMAC key is derived from ``TOWNGRID_CODES_KEY`` when set,
else from ``SECRET_KEY`` (with a purpose label, so the raw secret is never used directly).

``verify`` checks the signature in constant time before any database lookup: a token with one
character changed fails here and never reaches the database, so a scan page cannot be used to
probe which tokens exist. Revocation is a database fact (``ObjectCode.revoked_at``), checked by
the caller after ``verify``.

Base32 (RFC 4648, upper case, no padding) keeps tokens in the QR alphanumeric character set and
free of look-alike characters 0/O and 1/I (the alphabet has neither 0 nor 1); lower-case input
is accepted (a person may type it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

from django.conf import settings

RANDOM_BYTES = 10  # 80 bits → 16 base32 characters
SIGNATURE_BYTES = 5  # 40 bits → 8 base32 characters
TOKEN_LENGTH = 24
TOKEN_RE = re.compile(r"^[A-Z2-7]{24}$")
_PURPOSE = b"towngrid.codes.token.v1"


def _key() -> bytes:
    secret = getattr(settings, "TOWNGRID_CODES_KEY", "") or settings.SECRET_KEY
    return hmac.new(secret.encode("utf-8"), _PURPOSE, hashlib.sha256).digest()


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=")


def _signature(random_part: bytes) -> bytes:
    return hmac.new(_key(), random_part, hashlib.sha256).digest()[:SIGNATURE_BYTES]


def new_token() -> str:
    """A fresh signed token."""
    random_part = secrets.token_bytes(RANDOM_BYTES)
    return _b32(random_part) + _b32(_signature(random_part))


def normalise(token: str) -> str:
    """Upper case without surrounding blanks (base32 is case-insensitive)."""
    return (token or "").strip().upper()


def verify(token: str) -> bool:
    """Whether ``token`` is well formed and carries a valid signature (constant-time compare)."""
    token = normalise(token)
    if not TOKEN_RE.match(token):
        return False
    try:
        random_part = base64.b32decode(token[:16])
        signature = base64.b32decode(token[16:])
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(signature, _signature(random_part))
