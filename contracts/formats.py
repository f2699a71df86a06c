"""Chinese personal-data formats: pure validators used by the contract models.

Each ``validate_*`` returns the value in canonical form or raises ``ValueError``
naming the rule broken; each ``is_valid_*`` is its boolean twin.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from types import MappingProxyType
from typing import Final

__all__ = [
    "ID_PROVINCES",
    "PLATE_PROVINCES",
    "is_valid_bank_card",
    "is_valid_email",
    "is_valid_mobile",
    "is_valid_national_id",
    "is_valid_plate",
    "is_valid_vin",
    "national_id_birth_date",
    "national_id_check_char",
    "validate_bank_card",
    "validate_email",
    "validate_mobile",
    "validate_national_id",
    "validate_plate",
    "validate_vin",
    "vin_check_digit",
]

# GB/T 2260 province-level codes: the first two digits of a resident ID number.
ID_PROVINCES: Final = MappingProxyType(
    {
        "11": "Beijing", "12": "Tianjin", "13": "Hebei", "14": "Shanxi",
        "15": "Inner Mongolia", "21": "Liaoning", "22": "Jilin", "23": "Heilongjiang",
        "31": "Shanghai", "32": "Jiangsu", "33": "Zhejiang", "34": "Anhui",
        "35": "Fujian", "36": "Jiangxi", "37": "Shandong", "41": "Henan",
        "42": "Hubei", "43": "Hunan", "44": "Guangdong", "45": "Guangxi",
        "46": "Hainan", "50": "Chongqing", "51": "Sichuan", "52": "Guizhou",
        "53": "Yunnan", "54": "Tibet", "61": "Shaanxi", "62": "Gansu",
        "63": "Qinghai", "64": "Ningxia", "65": "Xinjiang", "71": "Taiwan",
        "81": "Hong Kong", "82": "Macau", "83": "Taiwan (residence permit)",
    }
)  # fmt: skip

# The one-character province abbreviations that open a mainland plate.
PLATE_PROVINCES: Final = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"

_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS: Final = "10X98765432"
_ID_SHAPE: Final = re.compile(r"^\d{17}[\dX]$")

_MOBILE: Final = re.compile(r"^1[3-9]\d{9}$")
_MOBILE_NOISE: Final = re.compile(r"[\s-]")

_VIN_SHAPE: Final = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")
_VIN_WEIGHTS: Final = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
# ISO 3779 transliteration of letters to numbers for the check digit.
_VIN_VALUES: Final = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}

_P = f"[{PLATE_PROVINCES}]"
_L = "[A-HJ-NP-Z]"  # letters used on plates: no I or O
_LD = "[A-HJ-NP-Z0-9]"
_PLATE_FORMS: Final = (
    re.compile(rf"^{_P}{_L}{_LD}{{4}}[A-HJ-NP-Z0-9挂学警港澳]$"),  # conventional, 7 chars
    re.compile(rf"^{_P}{_L}[DF]{_LD}\d{{4}}$"),  # small new-energy, 8 chars
    re.compile(rf"^{_P}{_L}\d{{5}}[DF]$"),  # large new-energy, 8 chars
)
_PLATE_NOISE: Final = re.compile(r"[\s·•.-]")

_EMAIL: Final = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def national_id_check_char(first17: str) -> str:
    """GB 11643 check character for the first 17 digits of a resident ID number."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_CHARS[total % 11]


def national_id_birth_date(value: str) -> date:
    """Birth date encoded in digits 7-14 of a resident ID number."""
    digits = value[6:14]
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        raise ValueError(f"resident ID birth date {digits} is not a calendar date") from None


def validate_national_id(value: str) -> str:
    """An 18-character resident ID number (GB 11643): region, birth date, check char."""
    number = value.strip().upper()
    if not _ID_SHAPE.match(number):
        raise ValueError("resident ID number must be 17 digits followed by a digit or X")
    if number[:2] not in ID_PROVINCES:
        raise ValueError(f"resident ID region code {number[:6]} names no province")
    born = national_id_birth_date(number)
    if born.year < 1900 or born > date.today():
        raise ValueError(f"resident ID birth date {born.isoformat()} is out of range")
    expected = national_id_check_char(number[:17])
    if number[17] != expected:
        raise ValueError(f"resident ID check character should be {expected}, not {number[17]}")
    return number


def validate_mobile(value: str) -> str:
    """A mainland mobile number ``1[3-9]`` + 9 digits; spaces, dashes and +86 are removed."""
    number = _MOBILE_NOISE.sub("", value)
    for prefix in ("+86", "0086"):
        if number.startswith(prefix):
            number = number[len(prefix) :]
    if not _MOBILE.match(number):
        raise ValueError("mobile number must be 11 digits starting with 13-19")
    return number


def vin_check_digit(vin: str) -> str:
    """ISO 3779 check digit (position 9) computed over a 17-character VIN."""
    total = sum(_VIN_VALUES[c] * w for c, w in zip(vin, _VIN_WEIGHTS, strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def validate_vin(value: str) -> str:
    """A 17-character VIN without I, O or Q whose position 9 is the check digit."""
    vin = value.strip().upper()
    if len(vin) != 17:
        raise ValueError(f"VIN must have 17 characters, not {len(vin)}")
    if not _VIN_SHAPE.match(vin):
        raise ValueError("VIN may use only digits and letters other than I, O and Q")
    expected = vin_check_digit(vin)
    if vin[8] != expected:
        raise ValueError(f"VIN check digit (position 9) should be {expected}, not {vin[8]}")
    return vin


def validate_plate(value: str) -> str:
    """A mainland plate: 7 characters, or 8 for new-energy vehicles (D/F marks)."""
    plate = _PLATE_NOISE.sub("", value).upper()
    if not plate or plate[0] not in PLATE_PROVINCES:
        raise ValueError("plate must start with a province abbreviation such as 粤")
    if not any(form.match(plate) for form in _PLATE_FORMS):
        raise ValueError(
            "plate must be province + letter + 5 characters, or a new-energy plate "
            "with D/F and 6 characters"
        )
    return plate


def validate_bank_card(value: str) -> str:
    """A bank card number: 12 to 19 digits passing the Luhn check."""
    number = _MOBILE_NOISE.sub("", value)
    if not number.isdigit() or not 12 <= len(number) <= 19:
        raise ValueError("bank card number must be 12 to 19 digits")
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    if total % 10:
        raise ValueError("bank card number fails the Luhn check")
    return number


def validate_email(value: str) -> str:
    """An e-mail address of the usual ``local@domain.tld`` shape, lower-cased domain."""
    address = value.strip()
    if len(address) > 254 or not _EMAIL.match(address):
        raise ValueError("e-mail address must look like name@example.com")
    local, domain = address.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


def _boolean(validator: Callable[[str], str]) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        try:
            validator(value)
        except ValueError:
            return False
        return True

    check.__doc__ = f"Whether ``value`` passes ``{validator.__name__}``."
    return check


is_valid_national_id = _boolean(validate_national_id)
is_valid_mobile = _boolean(validate_mobile)
is_valid_vin = _boolean(validate_vin)
is_valid_plate = _boolean(validate_plate)
is_valid_bank_card = _boolean(validate_bank_card)
is_valid_email = _boolean(validate_email)
