"""Check digits of the identifiers the registry holds, and generators for valid ones.

- Resident identity numbers (公民身份号码), GB 11643-1999: 6-digit division code, 8-digit birth
  date, 3-digit sequence (odd for men), and an ISO 7064 MOD 11-2 check character (0-9 or X).
- Unified social credit codes (统一社会信用代码), GB 32100-2015: registration department, entity
  type, 6-digit division code, 9-character organisation code, and a MOD 31 check character over
  the 31-character alphabet without I, O, S, V and Z.
- Phone numbers: mainland mobile numbers (1[3-9] + 9 digits) and Shanghai fixed lines (021 + 8
  digits, the area code optional on input).

The ``validate_*`` functions return the normalised value (what is stored, hashed and compared) or
raise ``django.core.exceptions.ValidationError`` with a Chinese message; the ``is_valid_*``
functions answer yes or no. The ``make_*`` functions build valid identifiers for generators (the
demo town, tests) so that synthetic data passes the same checks as real data.
"""

from __future__ import annotations

import re
from datetime import date

from django.core.exceptions import ValidationError

# --- GB 11643 identity numbers ----------------------------------------------------------------

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"
# First two digits of the division code: the provinces, autonomous regions and municipalities
# (GB/T 2260), plus 71/81/82 for Taiwan, Hong Kong and Macao residence permits.
PROVINCE_CODES = frozenset(
    {
        "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
        "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
        "65", "71", "81", "82", "83",
    }
)  # fmt: skip
_ID_SHAPE = re.compile(r"^\d{17}[\dX]$")


def id_check_char(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK_CHARS[total % 11]


def normalize_id_number(value: str) -> str:
    """Upper-case, without spaces: the form that is stored, hashed and compared."""
    return re.sub(r"\s+", "", str(value or "")).upper()


def validate_id_number(value: str, *, today: date | None = None) -> str:
    """The normalised identity number, or ValidationError (Chinese) saying what is wrong."""
    number = normalize_id_number(value)
    if len(number) != 18:
        raise ValidationError("身份证号码应为 18 位。", code="id_length")
    if not _ID_SHAPE.match(number):
        raise ValidationError("身份证号码前 17 位应为数字，最后一位为数字或 X。", code="id_format")
    if number[:2] not in PROVINCE_CODES:
        raise ValidationError("身份证号码的行政区划代码无效。", code="id_region")
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ValidationError("身份证号码中的出生日期无效。", code="id_birth_date") from None
    if born.year < 1900 or born > (today or date.today()):
        raise ValidationError("身份证号码中的出生日期无效。", code="id_birth_date")
    if id_check_char(number[:17]) != number[17]:
        raise ValidationError("身份证号码校验位不正确，请核对。", code="id_checksum")
    return number


def is_valid_id_number(value: str) -> bool:
    try:
        validate_id_number(value)
    except ValidationError:
        return False
    return True


def make_id_number(region: str, birth_date: date, seq: int) -> str:
    """A valid identity number: ``region`` (6-digit division code), ``birth_date``, ``seq``
    (0–999; odd for men, even for women, as GB 11643 prescribes)."""
    if not (len(region) == 6 and region.isdigit()):
        raise ValueError("region must be a 6-digit division code")
    first17 = f"{region}{birth_date:%Y%m%d}{seq % 1000:03d}"
    return first17 + id_check_char(first17)


def id_number_birth_date(number: str) -> date | None:
    """The birth date in a (valid) identity number."""
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except (ValueError, IndexError):
        return None


def id_number_gender(number: str) -> str:
    """ "male" or "female" from the sequence digit (odd for men)."""
    return "male" if int(number[16]) % 2 else "female"


# --- GB 32100 unified social credit codes -----------------------------------------------------

CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CREDIT_VALUE = {c: i for i, c in enumerate(CREDIT_CHARS)}
_CREDIT_SHAPE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")
# GB 11714 organisation code check (the 9th character of the embedded organisation code).
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def credit_check_char(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters."""
    total = sum(_CREDIT_VALUE[c] * w for c, w in zip(first17, CREDIT_WEIGHTS, strict=True))
    return CREDIT_CHARS[(31 - total % 31) % 31]


def org_check_char(first8: str) -> str:
    """The GB 11714 check character of an organisation code's first 8 characters."""
    values = [int(c) if c.isdigit() else ord(c) - 55 for c in first8]
    check = 11 - sum(v * w for v, w in zip(values, ORG_WEIGHTS, strict=True)) % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def normalize_credit_code(value: str) -> str:
    return re.sub(r"\s+", "", str(value or "")).upper()


def validate_credit_code(value: str) -> str:
    """The normalised credit code, or ValidationError (Chinese). Only the GB 32100 check
    character is enforced: codes in circulation do not all carry a valid GB 11714 check in
    the embedded organisation code."""
    code = normalize_credit_code(value)
    if len(code) != 18:
        raise ValidationError("统一社会信用代码应为 18 位。", code="credit_length")
    if not _CREDIT_SHAPE.match(code):
        raise ValidationError(
            "统一社会信用代码含有无效字符（不使用 I、O、S、V、Z），第 3–8 位应为行政区划代码。",
            code="credit_format",
        )
    if credit_check_char(code[:17]) != code[17]:
        raise ValidationError("统一社会信用代码校验位不正确，请核对。", code="credit_checksum")
    return code


def is_valid_credit_code(value: str) -> bool:
    try:
        validate_credit_code(value)
    except ValidationError:
        return False
    return True


def make_credit_code(region: str, seq: int, *, department: str = "9", kind: str = "1") -> str:
    """A valid credit code: ``department`` 9 (市场监管) and ``kind`` 1 (企业) by default, the
    6-digit ``region``, an organisation code built from ``seq`` (with its GB 11714 check), and
    the GB 32100 check character."""
    if not (len(region) == 6 and region.isdigit()):
        raise ValueError("region must be a 6-digit division code")
    org8 = f"{seq % 10**8:08d}"
    first17 = f"{department}{kind}{region}{org8}{org_check_char(org8)}"
    return first17 + credit_check_char(first17)


# --- phone numbers ----------------------------------------------------------------------------

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
# Shanghai fixed lines: 8 digits not starting with 0 or 1 (those are prefixes and services).
_SHANGHAI_LOCAL = re.compile(r"^[2-9]\d{7}$")


def normalize_phone(value: str) -> str:
    """Digits only, without the +86/0086 country prefix; a Shanghai number gets its 021."""
    digits = re.sub(r"[\s\-()（）+.]", "", str(value or ""))
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) in (11, 10):
            digits = digits[len(prefix) :]
            break
    if _SHANGHAI_LOCAL.match(digits):
        digits = "021" + digits
    elif digits.startswith("21") and len(digits) == 10:
        digits = "0" + digits
    return digits


def validate_phone(value: str) -> str:
    """A mobile number (11 digits) or a Shanghai fixed line (``021`` + 8 digits), normalised;
    ValidationError (Chinese) otherwise."""
    phone = normalize_phone(value)
    if not phone.isdigit():
        raise ValidationError("电话号码只能包含数字（可带区号和连字符）。", code="phone_format")
    if _MOBILE.match(phone):
        return phone
    if phone.startswith("021") and _SHANGHAI_LOCAL.match(phone[3:]):
        return phone
    raise ValidationError(
        "电话号码应为 11 位手机号或上海固定电话（021 加 8 位号码）。", code="phone_invalid"
    )


def is_valid_phone(value: str) -> bool:
    try:
        validate_phone(value)
    except ValidationError:
        return False
    return True


def make_phone(seq: int, *, prefix: str = "139") -> str:
    """A well-formed mobile number for generators: ``prefix`` + 8 digits from ``seq``."""
    return f"{prefix}{seq % 10**8:08d}"
