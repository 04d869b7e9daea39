"""Tests for identity.validators (pure functions, no database)."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from identity.validators import (
    IdKind,
    ResidentId,
    age_on,
    normalize_phone,
    validate_resident_id,
    validate_uscc,
)

# fmt: off
PROVINCES = (
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54",
    "61", "62", "63", "64", "65", "71", "81", "82", "83",
)
# fmt: on
TODAY = date(2024, 6, 15)


@pytest.fixture(autouse=True)
def english_messages():
    # Messages are asserted in English whatever LANGUAGE_CODE and translations say.
    with translation.override("en"):
        yield


def rejection(func, value, **kwargs):
    with pytest.raises(ValidationError) as excinfo:
        func(value, **kwargs)
    return excinfo.value.code, excinfo.value.messages[0]


def make_id(region6: str, birth: str, sequence: str = "123") -> str:
    """Build an 18-character ID; check character computed as ISO 7064 MOD 11-2 (weights 2^k mod 11)."""
    body = region6 + birth + sequence
    assert len(body) == 17
    total = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(body))
    check = (12 - total % 11) % 11
    return body + ("X" if check == 10 else str(check))


USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def make_uscc(first17: str) -> str:
    """Build a USCC; check character computed as MOD 31 with weights 3^k mod 31."""
    assert len(first17) == 17
    total = sum(USCC_ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(first17))
    return first17 + USCC_ALPHABET[(31 - total % 31) % 31]


# --- Resident ID: valid numbers ----------------------------------------------


def test_resident_id_accepts_known_valid_mainland_number():
    assert validate_resident_id("11010519491231002X", today=TODAY) == ResidentId(
        number="11010519491231002X",
        kind=IdKind.MAINLAND,
        birth_date=date(1949, 12, 31),
        sex="female",
        region="110105",
    )


def test_resident_id_helper_agrees_with_known_valid_literals():
    assert make_id("110105", "19491231", "002") == "11010519491231002X"
    assert make_id("440524", "18800101", "001") == "440524188001010014"


def test_resident_id_normalises_lower_case_x():
    assert validate_resident_id("11010519491231002x", today=TODAY).number == "11010519491231002X"


def test_resident_id_strips_surrounding_whitespace():
    assert validate_resident_id("  11010519491231002X\n", today=TODAY).number == "11010519491231002X"


@pytest.mark.parametrize("province", PROVINCES)
def test_resident_id_accepts_every_province_code(province):
    number = make_id(province + "0102", "19900101", "001")
    result = validate_resident_id(number, today=TODAY)
    assert result.number == number
    assert result.region == province + "0102"


@pytest.mark.parametrize("sequence, sex", [("001", "male"), ("002", "female"), ("129", "male"), ("998", "female")])
def test_resident_id_reads_sex_from_seventeenth_digit(sequence, sex):
    assert validate_resident_id(make_id("310101", "19851120", sequence), today=TODAY).sex == sex


@pytest.mark.parametrize("prefix", ["810000", "820000", "830000"])
def test_resident_id_recognises_hong_kong_macao_taiwan_residence_permits(prefix):
    result = validate_resident_id(make_id(prefix, "19881002", "011"), today=TODAY)
    assert result.kind == IdKind.HMT_RESIDENCE_PERMIT
    assert result.region == prefix
    assert result.birth_date == date(1988, 10, 2)
    assert result.sex == "male"


def test_resident_id_treats_other_81_prefixes_as_mainland():
    assert validate_resident_id(make_id("810101", "19881002"), today=TODAY).kind == IdKind.MAINLAND


def test_resident_id_recognises_foreign_permanent_resident_cards():
    result = validate_resident_id(make_id("931840", "19750704", "022"), today=TODAY)
    assert result.kind == IdKind.FOREIGN_PERMANENT
    assert result.region == "931840"
    assert result.birth_date == date(1975, 7, 4)
    assert result.sex == "female"


def test_resident_id_kind_is_a_string_enum():
    assert IdKind.MAINLAND == "mainland"
    assert IdKind.HMT_RESIDENCE_PERMIT == "hmt_residence_permit"
    assert IdKind.FOREIGN_PERMANENT == "foreign_permanent"


def test_resident_id_result_is_immutable():
    result = validate_resident_id("11010519491231002X", today=TODAY)
    with pytest.raises(AttributeError):
        result.number = "x"


def test_resident_id_accepts_february_29_in_a_leap_year():
    assert validate_resident_id(make_id("110105", "20000229"), today=TODAY).birth_date == date(2000, 2, 29)


def test_resident_id_accepts_birth_date_of_today():
    assert validate_resident_id(make_id("110105", "20240615"), today=TODAY).birth_date == TODAY


def test_resident_id_accepts_birth_date_of_1900_01_01():
    assert validate_resident_id(make_id("110105", "19000101"), today=TODAY).birth_date == date(1900, 1, 1)


def test_resident_id_defaults_today_to_the_current_date():
    assert validate_resident_id("11010519491231002X").birth_date == date(1949, 12, 31)


# --- Resident ID: rejections -------------------------------------------------


def test_resident_id_rejects_legacy_15_digit_numbers():
    code, message = rejection(validate_resident_id, "110105491231002")
    assert code == "legacy_15"
    assert "15-digit" in message
    assert "18-digit" in message


@pytest.mark.parametrize("value, count", [("1101051949123100", 16), ("11010519491231002X1", 19), ("", 0)])
def test_resident_id_rejects_wrong_length(value, count):
    code, message = rejection(validate_resident_id, value)
    assert code == "length"
    assert f"{count} were given" in message


def test_resident_id_rejects_letter_among_first_17_characters():
    code, message = rejection(validate_resident_id, "11010519A91231002X")
    assert code == "character"
    assert "Character 9" in message
    assert "“A”" in message


def test_resident_id_rejects_last_character_other_than_digit_or_x():
    code, message = rejection(validate_resident_id, "11010519491231002Y")
    assert code == "character"
    assert "Character 18" in message
    assert "“Y”" in message
    assert "digit or X" in message


def test_resident_id_rejects_x_before_the_last_position():
    code, message = rejection(validate_resident_id, "1101051949123100X2")
    assert code == "character"
    assert "Character 17" in message


def test_resident_id_rejects_wrong_check_character():
    code, message = rejection(validate_resident_id, "110105194912310021")
    assert code == "checksum"
    assert "expected “X”" in message
    assert "got “1”" in message


@pytest.mark.parametrize("birth", ["20230230", "19901301", "19900100", "19900431"])
def test_resident_id_rejects_birth_date_that_does_not_exist(birth):
    code, message = rejection(validate_resident_id, make_id("110105", birth), today=TODAY)
    assert code == "birth_date"
    assert f"{birth[:4]}-{birth[4:6]}-{birth[6:]} does not exist" in message


@pytest.mark.parametrize("birth", ["20230229", "19000229"])
def test_resident_id_rejects_february_29_in_a_non_leap_year(birth):
    code, message = rejection(validate_resident_id, make_id("110105", birth), today=TODAY)
    assert code == "birth_date"
    assert f"{birth[:4]}-02-29" in message


def test_resident_id_rejects_future_birth_date():
    code, message = rejection(validate_resident_id, make_id("110105", "20240616"), today=TODAY)
    assert code == "future_birth_date"
    assert "2024-06-16" in message
    assert "future" in message


def test_resident_id_rejects_birth_dates_before_1900():
    # A published example with a correct check character, born 1880: only the date floor rejects it.
    code, message = rejection(validate_resident_id, "440524188001010014", today=TODAY)
    assert code == "early_birth_date"
    assert "1880-01-01" in message
    assert "1900-01-01" in message


@pytest.mark.parametrize("province", ["10", "16", "20", "47", "55", "66", "72", "80", "84", "00"])
def test_resident_id_rejects_unknown_mainland_province_code(province):
    code, message = rejection(validate_resident_id, make_id(province + "0101", "19900101"), today=TODAY)
    assert code == "province"
    assert f"province code {province} is unknown" in message


@pytest.mark.parametrize("province", ["00", "99", "72"])
def test_resident_id_rejects_foreign_permanent_card_with_unknown_issuing_province(province):
    code, message = rejection(validate_resident_id, make_id("9" + province + "840", "19900101"), today=TODAY)
    assert code == "province"
    assert f"province code {province} is unknown" in message


# --- age_on ------------------------------------------------------------------


@pytest.mark.parametrize(
    "birth, on, age",
    [
        (date(1990, 6, 15), date(2024, 6, 14), 33),
        (date(1990, 6, 15), date(2024, 6, 15), 34),
        (date(1990, 6, 15), date(2024, 12, 31), 34),
        (date(2024, 6, 15), date(2024, 6, 15), 0),
        (date(2000, 2, 29), date(2018, 2, 28), 17),
        (date(2000, 2, 29), date(2018, 3, 1), 18),
        (date(2000, 2, 29), date(2020, 2, 29), 20),
    ],
)
def test_age_on_counts_full_years(birth, on, age):
    assert age_on(birth, on) == age


# --- USCC: valid codes -------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "91350100M000100Y43",
        "91110000600037341L",
        "911100001000044477",
        "91100000100003962T",  # registered with a national authority: region 100000
    ],
)
def test_uscc_accepts_known_valid_codes(code):
    assert validate_uscc(code) == code


def test_uscc_helper_agrees_with_known_valid_literals():
    assert make_uscc("91350100M000100Y4") == "91350100M000100Y43"
    assert make_uscc("91110000600037341") == "91110000600037341L"


def test_uscc_normalises_case_and_whitespace():
    assert validate_uscc("  91350100m000100y43\t") == "91350100M000100Y43"


# fmt: off
USCC_PREFIXES = (
    "11", "12", "13", "19", "51", "52", "53", "59", "91", "92", "93", "Y1", "21",
    "31", "39", "41", "61", "71", "81", "89", "A1", "A9", "N1", "N2", "N3", "N9",
)
# fmt: on


@pytest.mark.parametrize("prefix", USCC_PREFIXES)
def test_uscc_accepts_every_authority_with_its_organisation_types(prefix):
    code = make_uscc(prefix + "440300" + "MA5F12345")
    assert validate_uscc(code) == code


# --- USCC: rejections --------------------------------------------------------


@pytest.mark.parametrize("value, count", [("91350100M000100Y4", 17), ("91350100M000100Y431", 19), ("", 0)])
def test_uscc_rejects_wrong_length(value, count):
    code, message = rejection(validate_uscc, value)
    assert code == "length"
    assert f"{count} were given" in message


@pytest.mark.parametrize("char", ["I", "O", "Z", "S", "V", "-"])
def test_uscc_rejects_characters_outside_its_alphabet(char):
    code, message = rejection(validate_uscc, "91350100M" + char + "00100Y43")
    assert code == "character"
    assert "Character 10" in message
    assert f"“{char}”" in message


@pytest.mark.parametrize("authority", ["0", "B", "X"])
def test_uscc_rejects_unknown_registration_authority(authority):
    code, message = rejection(validate_uscc, make_uscc(authority + "1350100M000100Y4"))
    assert code == "authority"
    assert f"“{authority}”" in message


@pytest.mark.parametrize("prefix", ["94", "99", "54", "14", "Y2", "20", "A0"])
def test_uscc_rejects_organisation_type_not_valid_for_the_authority(prefix):
    code, message = rejection(validate_uscc, make_uscc(prefix + "350100M000100Y4"))
    assert code == "type"
    assert f"“{prefix[1]}”" in message
    assert f"“{prefix[0]}”" in message


@pytest.mark.parametrize("region", ["3501A0", "000000", "100100", "720000", "990000"])
def test_uscc_rejects_invalid_administrative_region(region):
    code, message = rejection(validate_uscc, make_uscc("91" + region + "M000100Y4"))
    assert code == "region"
    assert f"“{region}”" in message


def test_uscc_rejects_wrong_check_character():
    code, message = rejection(validate_uscc, "91350100M000100Y44")
    assert code == "checksum"
    assert "expected “3”" in message
    assert "got “4”" in message


# --- Phone numbers -----------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ("+86 138 0013 8000", "+8613800138000"),
        ("13800138000", "+8613800138000"),
        ("138-0013-8000", "+8613800138000"),
        (" 0086 13800138000 ", "+8613800138000"),
        ("+852 6123 4567", "+85261234567"),
        ("+44 7911 123456", "+447911123456"),
    ],
)
def test_phone_normalises_mobile_numbers_to_e164(value, expected):
    assert normalize_phone(value) == expected


def test_phone_accepts_local_number_for_another_region():
    assert normalize_phone("6123 4567", region="HK") == "+85261234567"


def test_phone_accepts_fixed_line_outside_cn_region():
    assert normalize_phone("2123 4567", region="HK") == "+85221234567"


@pytest.mark.parametrize("value", ["12345", "not a number", "", "+86 138 0013 800"])
def test_phone_rejects_invalid_numbers(value):
    code, message = rejection(normalize_phone, value)
    assert code == "phone"
    assert "not a valid phone number for region CN" in message


def test_phone_rejects_numbers_invalid_for_the_given_region():
    code, message = rejection(normalize_phone, "1234", region="HK")
    assert code == "phone"
    assert "region HK" in message


@pytest.mark.parametrize("value", ["010 6552 9988", "+86 21 6123 4567", "+852 2123 4567"])
def test_phone_rejects_fixed_line_numbers_for_cn_because_sms_is_sent(value):
    code, message = rejection(normalize_phone, value)
    assert code == "phone_not_mobile"
    assert "not a mobile number" in message
    assert "SMS" in message
