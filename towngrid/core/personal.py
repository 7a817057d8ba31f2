"""Personal data under PIPL: identity and phone numbers encrypted at rest, searchable by a keyed
hash, masked by default.

Storage. A model lists its personal fields in ``personal_fields`` (e.g. ``("id_number",
"phone")``) and has, for each, ``<field>_enc`` (AES-256-GCM ciphertext, text) and
``<field>_hash`` (a keyed blind index, 64 hex characters, indexed). The plain value never
touches the database. ``<field>_masked`` (``masked_property``) is what pages, the API, the admin
and exports show; the plain value only leaves through the registry's reveal action, which checks
the capability and scope and writes the audit trail.

Keys. ``settings.TOWNGRID_PERSONAL_DATA_KEY`` (env ``TOWNGRID_PERSONAL_DATA_KEY``) is the
base64 of 32 random bytes (``python -c "import os,base64;print(base64.b64encode(os.urandom(32))
.decode())"``). From it HKDF-SHA256 derives two independent subkeys: one for AES-GCM, one for the
HMAC-SHA256 blind index, so neither use weakens the other. Without the setting, outside production
the master key is derived from ``SECRET_KEY`` with HKDF (a development key: data written with it
is only readable while SECRET_KEY stays the same); in production (``TOWNGRID_PRODUCTION``) the
first use raises ``ImproperlyConfigured`` and the deploy check ``towngrid.E101`` fails at start.

Ciphertext format: ``v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>``, the key id being the
first 8 hex digits of an HMAC of the master key, so a wrong or rotated key is reported as such.

Writing. ``set_personal(obj, field, value)`` validates and normalises the value (identity number:
GB 11643; phone: mobile or Shanghai fixed line), then sets ``<field>_enc`` and ``<field>_hash``
together; it does not save, so it also serves bulk inserts (the import, the demo's 250,000
residents): set on unsaved instances, then ``bulk_create``. ``seal(kind, value)`` returns the
(ciphertext, hash) pair for code that writes rows without model instances.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.core.exceptions import ImproperlyConfigured, ValidationError

from .checksums import normalize_id_number, normalize_phone, validate_id_number, validate_phone

ID_NUMBER = "id_number"
PHONE = "phone"
FORMAT_VERSION = "v1"


class PersonalDataError(Exception):
    """A stored value cannot be decrypted (wrong key, tampered or corrupt ciphertext)."""


# --- keys -------------------------------------------------------------------------------------


def _hkdf(material: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(material)


@functools.lru_cache(maxsize=8)
def _derive_keys(configured: str, secret_key: str, production: bool) -> tuple[bytes, bytes, str]:
    if configured:
        try:
            master = base64.b64decode(configured, validate=True)
        except ValueError:
            raise ImproperlyConfigured("TOWNGRID_PERSONAL_DATA_KEY is not valid base64") from None
        if len(master) != 32:
            raise ImproperlyConfigured("TOWNGRID_PERSONAL_DATA_KEY must decode to 32 bytes")
    elif production:
        raise ImproperlyConfigured(
            "TOWNGRID_PERSONAL_DATA_KEY must be set in production (base64 of 32 random bytes)"
        )
    else:
        # Development only: a key derived from SECRET_KEY, so a fresh checkout works.
        master = _hkdf(secret_key.encode(), b"towngrid personal data development key")
    enc_key = _hkdf(master, b"towngrid.personal.aes-gcm")
    index_key = _hkdf(master, b"towngrid.personal.blind-index")
    key_id = hmac.new(master, b"towngrid.personal.key-id", hashlib.sha256).hexdigest()[:8]
    return enc_key, index_key, key_id


def _keys() -> tuple[bytes, bytes, str]:
    from django.conf import settings

    return _derive_keys(
        getattr(settings, "TOWNGRID_PERSONAL_DATA_KEY", "") or "",
        settings.SECRET_KEY,
        bool(getattr(settings, "PRODUCTION", False)),
    )


@functools.lru_cache(maxsize=8)
def _cipher(enc_key: bytes) -> AESGCM:
    return AESGCM(enc_key)


def check_configuration() -> str | None:
    """None when personal data can be encrypted with the configured key, else the reason."""
    try:
        _keys()
    except ImproperlyConfigured as exc:
        return str(exc)
    return None


# --- primitives -------------------------------------------------------------------------------


def encrypt(plaintext: str, *, purpose: str = "") -> str:
    """AES-256-GCM with a random 96-bit nonce; ``purpose`` is bound as associated data (the same
    purpose must be given to decrypt). Empty text encrypts to the empty string."""
    if not plaintext:
        return ""
    enc_key, _index_key, key_id = _keys()
    nonce = os.urandom(12)
    sealed = _cipher(enc_key).encrypt(nonce, plaintext.encode(), purpose.encode() or None)
    token = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
    return f"{FORMAT_VERSION}.{key_id}.{token}"


def decrypt(token: str, *, purpose: str = "") -> str:
    if not token:
        return ""
    enc_key, _index_key, key_id = _keys()
    try:
        version, token_key_id, body = token.split(".", 2)
    except ValueError:
        raise PersonalDataError("密文格式无效") from None
    if version != FORMAT_VERSION:
        raise PersonalDataError("密文版本无法识别")
    if token_key_id != key_id:
        raise PersonalDataError("密文由其他密钥加密，请检查 TOWNGRID_PERSONAL_DATA_KEY")
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    try:
        plain = _cipher(enc_key).decrypt(raw[:12], raw[12:], purpose.encode() or None)
    except InvalidTag:
        raise PersonalDataError("密文校验失败（密钥错误或数据被篡改）") from None
    return plain.decode()


def kind_of(field: str) -> str:
    """The kind of a personal field by its name: identity number or phone."""
    return ID_NUMBER if field.endswith(ID_NUMBER) else PHONE


def normalize(kind: str, value: str) -> str:
    if kind == ID_NUMBER:
        return normalize_id_number(value)
    return normalize_phone(value)


def validate(kind: str, value: str) -> str:
    """The normalised value, or ValidationError (Chinese)."""
    if kind == ID_NUMBER:
        return validate_id_number(value)
    return validate_phone(value)


def blind_index(kind: str, value: str) -> str:
    """The keyed hash used for exact-match search: HMAC-SHA256 over ``kind`` and the normalised
    value. Without the key it cannot be reversed by trying every phone number."""
    normalised = normalize(kind, value)
    if not normalised:
        return ""
    _enc_key, index_key, _key_id = _keys()
    message = f"{kind}\x00{normalised}".encode()
    return hmac.new(index_key, message, hashlib.sha256).hexdigest()


def seal(kind: str, value: str | None, *, check: bool = True) -> tuple[str, str]:
    """``(ciphertext, blind index)`` for a value, validated when ``check`` (ValidationError)."""
    if value is None or not str(value).strip():
        return "", ""
    normalised = validate(kind, value) if check else normalize(kind, value)
    return encrypt(normalised, purpose=kind), blind_index(kind, normalised)


# --- masks ------------------------------------------------------------------------------------


def mask_id_number(value: str) -> str:
    """``3101**********123X``: the province/city digits and the last four only."""
    if not value:
        return ""
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_phone(value: str) -> str:
    """``138****5678`` (``021****5678`` for a fixed line)."""
    if not value:
        return ""
    if len(value) < 8:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask(kind: str, value: str) -> str:
    return mask_id_number(value) if kind == ID_NUMBER else mask_phone(value)


# --- model helpers ----------------------------------------------------------------------------


def _check_field(obj, field: str) -> None:
    if field not in getattr(obj, "personal_fields", ()):
        raise ValueError(f"{type(obj).__name__} has no personal field {field!r}")


def set_personal(obj, field: str, value: str | None, *, check: bool = True) -> None:
    """Set ``<field>_enc`` and ``<field>_hash`` of ``obj`` from a plain value (validated and
    normalised; ValidationError with a Chinese message when ``check`` and invalid). Does not
    save. None or blank clears the field."""
    _check_field(obj, field)
    enc, digest = seal(kind_of(field), value, check=check)
    setattr(obj, f"{field}_enc", enc)
    setattr(obj, f"{field}_hash", digest)


def plain_value(obj, field: str) -> str:
    """The decrypted value. Only the reveal action and exports permitted to reveal call this."""
    _check_field(obj, field)
    return decrypt(getattr(obj, f"{field}_enc"), purpose=kind_of(field))


def masked_value(obj, field: str) -> str:
    _check_field(obj, field)
    token = getattr(obj, f"{field}_enc")
    if not token:
        return ""
    try:
        return mask(kind_of(field), plain_value(obj, field))
    except PersonalDataError:
        return "（无法解密）"


def lookup_hash(field: str, value: str) -> str:
    """The hash to filter ``<field>_hash`` by for an exact-match search."""
    return blind_index(kind_of(field), value)


class masked_property:  # noqa: N801 (used like @property)
    """``id_number_masked = masked_property("id_number")``: the masked value of one field."""

    def __init__(self, field: str):
        self.field = field

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        return masked_value(obj, self.field)


def validation_message(exc: ValidationError) -> str:
    return exc.messages[0] if exc.messages else "输入有误"
