"""Validators for Chinese identity numbers, organisation codes and phone numbers.

Pure functions: nothing here touches the database. Every rejection is a
``ValidationError`` with a stable ``code`` so callers and tests can tell the
reasons apart without parsing (translated) messages.
"""

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

CHINA_TZ = ZoneInfo("Asia/Shanghai")

# Province-level administrative division codes (GB/T 2260), first two digits.
# fmt: off
PROVINCE_CODES = frozenset({
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54",
    "61", "62", "63", "64", "65", "71", "81", "82", "83",
})
# fmt: on

# --- Resident identity numbers (GB 11643-1999) -------------------------------

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"
HMT_PREFIXES = frozenset({"810000", "820000", "830000"})
EARLIEST_BIRTH_DATE = date(1900, 1, 1)


class IdKind(StrEnum):
    MAINLAND = "mainland"
    HMT_RESIDENCE_PERMIT = "hmt_residence_permit"
    FOREIGN_PERMANENT = "foreign_permanent"


@dataclass(frozen=True)
class ResidentId:
    number: str
    kind: IdKind
    birth_date: date
    sex: str  # "male" or "female"
    region: str


def resident_id_check_char(first17: str) -> str:
    """Return the ISO 7064 MOD 11-2 check character for 17 digits."""
    return ID_CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def validate_resident_id(value: str, *, today: date | None = None) -> ResidentId:
    number = (value or "").strip()
    if number.endswith("x"):
        number = number[:-1] + "X"
    if len(number) == 15 and all(c in "0123456789" for c in number):
        raise ValidationError(
            _("15-digit ID numbers are no longer accepted; please enter the 18-digit ID number."),
            code="legacy_15",
        )
    if len(number) != 18:
        raise ValidationError(
            _("An ID number has 18 characters; %(count)d were given."),
            code="length",
            params={"count": len(number)},
        )
    for position, char in enumerate(number, start=1):
        if char in "0123456789" or (position == 18 and char == "X"):
            continue
        message = (
            _("Character %(position)d (“%(char)s”) must be a digit or X.")
            if position == 18
            else _("Character %(position)d (“%(char)s”) must be a digit.")
        )
        raise ValidationError(message, code="character", params={"position": position, "char": char})
    expected = resident_id_check_char(number[:17])
    if number[17] != expected:
        raise ValidationError(
            _("The check character is wrong: expected “%(expected)s”, got “%(actual)s”."),
            code="checksum",
            params={"expected": expected, "actual": number[17]},
        )

    raw_date = f"{number[6:10]}-{number[10:12]}-{number[12:14]}"
    try:
        birth_date = date.fromisoformat(raw_date)
    except ValueError:
        raise ValidationError(
            _("The birth date %(date)s does not exist."), code="birth_date", params={"date": raw_date}
        ) from None
    today = today or datetime.now(CHINA_TZ).date()
    if birth_date > today:
        raise ValidationError(
            _("The birth date %(date)s is in the future."),
            code="future_birth_date",
            params={"date": raw_date},
        )
    if birth_date < EARLIEST_BIRTH_DATE:
        raise ValidationError(
            _("The birth date %(date)s is before 1900-01-01."),
            code="early_birth_date",
            params={"date": raw_date},
        )

    if number[0] == "9":
        kind, province = IdKind.FOREIGN_PERMANENT, number[1:3]
    elif number[:6] in HMT_PREFIXES:
        kind, province = IdKind.HMT_RESIDENCE_PERMIT, number[:2]
    else:
        kind, province = IdKind.MAINLAND, number[:2]
    if province not in PROVINCE_CODES:
        raise ValidationError(_("The province code %(code)s is unknown."), code="province", params={"code": province})

    return ResidentId(
        number=number,
        kind=kind,
        birth_date=birth_date,
        sex="male" if int(number[16]) % 2 else "female",
        region=number[:6],
    )


def resident_id_birth_date(number: str) -> date:
    """The birth date inside an already validated 18-character ID number (characters 7 to 14)."""
    return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


def age_on(birth_date: date, on: date) -> int:
    """Full years between ``birth_date`` and ``on`` (29 February birthdays count from 1 March)."""
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


# --- Unified social credit code (GB 32100-2015) ------------------------------

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
USCC_AUTHORITIES = "123456789ANY"
# Organisation type codes per registration authority; authorities not listed accept 1-9.
USCC_TYPES = {"1": "1239", "5": "1239", "9": "123", "Y": "1"}
# Organisations registered directly with a national authority use this region.
USCC_NATIONAL_REGION = "100000"


def uscc_check_char(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def validate_uscc(value: str) -> str:
    code = (value or "").strip().upper()
    if len(code) != 18:
        raise ValidationError(
            _("A unified social credit code has 18 characters; %(count)d were given."),
            code="length",
            params={"count": len(code)},
        )
    for position, char in enumerate(code, start=1):
        if char not in USCC_ALPHABET:
            raise ValidationError(
                _("Character %(position)d (“%(char)s”) is not allowed in a unified social credit code."),
                code="character",
                params={"position": position, "char": char},
            )
    authority, org_type, region = code[0], code[1], code[2:8]
    if authority not in USCC_AUTHORITIES:
        raise ValidationError(
            _("“%(char)s” is not a known registration authority code."),
            code="authority",
            params={"char": authority},
        )
    if org_type not in USCC_TYPES.get(authority, "123456789"):
        raise ValidationError(
            _("“%(type)s” is not a valid organisation type for registration authority “%(authority)s”."),
            code="type",
            params={"type": org_type, "authority": authority},
        )
    if not region.isdigit() or (region[:2] not in PROVINCE_CODES and region != USCC_NATIONAL_REGION):
        raise ValidationError(
            _("“%(region)s” is not a valid administrative region code."),
            code="region",
            params={"region": region},
        )
    expected = uscc_check_char(code[:17])
    if code[17] != expected:
        raise ValidationError(
            _("The check character is wrong: expected “%(expected)s”, got “%(actual)s”."),
            code="checksum",
            params={"expected": expected, "actual": code[17]},
        )
    return code


# --- Phone numbers -----------------------------------------------------------

MOBILE_TYPES = frozenset({phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE})


def normalize_phone(value: str, region: str = "CN") -> str:
    """Return the number in E.164 form.

    With the default region "CN" the number must be a mobile number (of any
    country), because one-time SMS codes are sent to it.
    """
    invalid = ValidationError(
        _("“%(value)s” is not a valid phone number for region %(region)s."),
        code="phone",
        params={"value": value, "region": region},
    )
    try:
        number = phonenumbers.parse((value or "").strip(), region)
    except phonenumbers.NumberParseException:
        raise invalid from None
    if not phonenumbers.is_valid_number(number):
        raise invalid
    if region.upper() == "CN" and phonenumbers.number_type(number) not in MOBILE_TYPES:
        raise ValidationError(
            _("“%(value)s” is not a mobile number; SMS codes can only be sent to mobile numbers."),
            code="phone_not_mobile",
            params={"value": value},
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
