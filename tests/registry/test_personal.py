"""Encryption at rest, the keyed blind index, masks, and the key rules."""

from __future__ import annotations

import base64
import os

import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from towngrid.core import personal
from towngrid.core.personal import (
    PersonalDataError,
    blind_index,
    decrypt,
    encrypt,
    mask_id_number,
    mask_phone,
    seal,
)


def test_masks():
    assert mask_id_number("31011519900101123X") == "3101**********123X"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("02161234567") == "021****4567"
    assert mask_id_number("") == mask_phone("") == ""


@settings(max_examples=50)
@given(st.text(min_size=8, max_size=40))
def test_round_trip_and_no_plaintext(text):
    token = encrypt(text, purpose="phone")
    assert decrypt(token, purpose="phone") == text
    assert text not in token
    # A random nonce: the same value never encrypts the same way twice.
    assert encrypt(text, purpose="phone") != token


def test_purpose_is_bound():
    token = encrypt("13812345678", purpose="phone")
    with pytest.raises(PersonalDataError):
        decrypt(token, purpose="id_number")


def test_tampering_is_detected():
    token = encrypt("13812345678", purpose="phone")
    body = token.rsplit(".", 1)[1]
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    with pytest.raises(PersonalDataError):
        decrypt(token.rsplit(".", 1)[0] + "." + flipped, purpose="phone")


def test_blind_index_is_keyed_normalised_and_kind_separated(settings):
    a = blind_index("phone", "138 1234 5678")
    assert a == blind_index("phone", "+86 13812345678")
    assert len(a) == 64 and "13812345678" not in a
    assert blind_index("id_number", "11010519491231002x") == blind_index(
        "id_number", "11010519491231002X"
    )
    assert blind_index("phone", "13812345678") != blind_index("id_number", "13812345678")
    settings.TOWNGRID_PERSONAL_DATA_KEY = base64.b64encode(os.urandom(32)).decode()
    assert blind_index("phone", "13812345678") != a  # another key, another index


def test_configured_key_and_key_id(settings):
    settings.TOWNGRID_PERSONAL_DATA_KEY = base64.b64encode(b"k" * 32).decode()
    token = encrypt("13812345678", purpose="phone")
    settings.TOWNGRID_PERSONAL_DATA_KEY = base64.b64encode(b"j" * 32).decode()
    with pytest.raises(PersonalDataError, match="其他密钥"):
        decrypt(token, purpose="phone")


def test_production_refuses_to_run_without_a_key(settings):
    settings.TOWNGRID_PERSONAL_DATA_KEY = ""
    settings.PRODUCTION = True
    with pytest.raises(ImproperlyConfigured):
        encrypt("13812345678")
    assert "production" in personal.check_configuration()
    from towngrid.registry.apps import personal_data_key_check

    assert [m.id for m in personal_data_key_check()] == ["towngrid.E101"]


@pytest.mark.parametrize("key", ["not base64!!", base64.b64encode(b"short").decode()])
def test_malformed_keys_are_refused(settings, key):
    settings.TOWNGRID_PERSONAL_DATA_KEY = key
    with pytest.raises(ImproperlyConfigured):
        encrypt("x")


def test_development_key_follows_secret_key(settings):
    settings.TOWNGRID_PERSONAL_DATA_KEY = ""
    settings.PRODUCTION = False
    token = encrypt("13812345678", purpose="phone")
    settings.SECRET_KEY = "another-secret-key-" + "x" * 40
    with pytest.raises(PersonalDataError):
        decrypt(token, purpose="phone")


def test_seal_validates():
    enc, digest = seal("id_number", "11010519491231002x")
    assert decrypt(enc, purpose="id_number") == "11010519491231002X"
    assert digest == blind_index("id_number", "11010519491231002X")
    with pytest.raises(ValidationError):
        seal("id_number", "110105194912310021")
    assert seal("phone", "  ") == ("", "")
