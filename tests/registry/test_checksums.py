"""GB 11643 identity numbers, GB 32100 credit codes and phone numbers: validation, generation,
normalisation, Chinese messages."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from towngrid.core.checksums import (
    CREDIT_CHARS,
    id_check_char,
    id_number_birth_date,
    id_number_gender,
    is_valid_credit_code,
    is_valid_id_number,
    is_valid_phone,
    make_credit_code,
    make_id_number,
    validate_credit_code,
    validate_id_number,
    validate_phone,
)

REGIONS = st.sampled_from(["310115", "310101", "110105", "440305", "510104", "650102"])
BIRTHS = st.dates(min_value=date(1900, 1, 1), max_value=date(2024, 12, 31))


def test_published_examples():
    # GB 11643-1999 appendix example and a widely published one with an X check character.
    assert validate_id_number("11010519491231002X") == "11010519491231002X"
    assert validate_id_number("11010519491231002x") == "11010519491231002X"
    # Real, published unified social credit codes.
    assert is_valid_credit_code("91310000MA1FL4B24G")
    assert is_valid_credit_code("91350100M000100Y43")


@given(REGIONS, BIRTHS, st.integers(0, 999))
def test_generated_id_numbers_validate(region, born, seq):
    number = make_id_number(region, born, seq)
    assert validate_id_number(number) == number
    assert id_number_birth_date(number) == born
    assert id_number_gender(number) == ("male" if seq % 2 else "female")


@given(REGIONS, BIRTHS, st.integers(0, 999), st.integers(0, 16), st.integers(1, 9))
def test_any_single_digit_change_is_caught(region, born, seq, position, delta):
    number = make_id_number(region, born, seq)
    digit = (int(number[position]) + delta) % 10
    changed = number[:position] + str(digit) + number[position + 1 :]
    # Either the checksum or the structure (region, date) refuses it: MOD 11-2 catches every
    # single substitution.
    assert not is_valid_id_number(changed)


@given(REGIONS, BIRTHS, st.integers(0, 999))
def test_wrong_check_character_is_refused_in_chinese(region, born, seq):
    number = make_id_number(region, born, seq)
    wrong = next(c for c in "0123456789X" if c != number[17])
    with pytest.raises(ValidationError) as exc:
        validate_id_number(number[:17] + wrong)
    assert exc.value.messages == ["身份证号码校验位不正确，请核对。"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("31011519900101123", "身份证号码应为 18 位。"),
        ("3101151990010112AX", "身份证号码前 17 位应为数字，最后一位为数字或 X。"),
        ("990115199001011234", "身份证号码的行政区划代码无效。"),
        ("310115199002301234", "身份证号码中的出生日期无效。"),
        ("310115209901011234", "身份证号码中的出生日期无效。"),
    ],
)
def test_id_number_messages(value, message):
    with pytest.raises(ValidationError) as exc:
        validate_id_number(value)
    assert exc.value.messages == [message]


def test_check_char_table():
    # The weights sum to 0 mod 11 for 17 zeros: check character "1".
    assert id_check_char("0" * 17) == "1"


@given(REGIONS, st.integers(0, 10**8 - 1))
def test_generated_credit_codes_validate(region, seq):
    code = make_credit_code(region, seq)
    assert validate_credit_code(code.lower()) == code


@given(REGIONS, st.integers(0, 10**8 - 1), st.integers(0, 16), st.integers(1, 30))
def test_credit_code_single_substitution_is_caught(region, seq, position, delta):
    code = make_credit_code(region, seq)
    if position in range(2, 8):
        # The division code must stay digits to reach the checksum.
        replacement = str((int(code[position]) + delta) % 10)
        if replacement == code[position]:
            return
    else:
        replacement = CREDIT_CHARS[(CREDIT_CHARS.index(code[position]) + delta) % 31]
    changed = code[:position] + replacement + code[position + 1 :]
    assert not is_valid_credit_code(changed)


def test_credit_code_messages():
    with pytest.raises(ValidationError) as exc:
        validate_credit_code("91310000MA1FL4B24")
    assert exc.value.messages == ["统一社会信用代码应为 18 位。"]
    with pytest.raises(ValidationError) as exc:
        validate_credit_code("91310000MA1FL4B24H")
    assert exc.value.messages == ["统一社会信用代码校验位不正确，请核对。"]
    with pytest.raises(ValidationError) as exc:
        validate_credit_code("91310000MA1FL4BI4G")  # I is not in the alphabet
    assert "无效字符" in exc.value.messages[0]


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("13812345678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("+86 138-1234-5678", "13812345678"),
        ("008613812345678", "13812345678"),
        ("021-61234567", "02161234567"),
        ("(021)61234567", "02161234567"),
        ("61234567", "02161234567"),
        ("2161234567", "02161234567"),
    ],
)
def test_phones_normalise(raw, normalised):
    assert validate_phone(raw) == normalised


@pytest.mark.parametrize("raw", ["12345678901", "1381234567", "010-61234567", "0216123456", "abc"])
def test_bad_phones_are_refused_in_chinese(raw):
    with pytest.raises(ValidationError) as exc:
        validate_phone(raw)
    assert "电话号码" in exc.value.messages[0]


@given(st.from_regex(r"1[3-9]\d{9}", fullmatch=True))
def test_every_mobile_number_is_valid(number):
    assert is_valid_phone(number)
