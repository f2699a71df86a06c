"""Pure masking operators: partial masks, generalisations and geohash snapping.

Every operator takes one value of a declared format (a mainland mobile, a
resident ID number, a plate, ...) and returns a less identifying form of it.
A value that does not parse as its format raises ``ValueError`` with a short,
fixed reason that never quotes the value (callers drop such values, and the
reason may end up in logs). Validators of :mod:`contracts.formats` quote parts
of the input in their messages, so their errors are replaced, not chained.

The geohash is written out here (standard base32 geohash, as on geohash.org):
python-stdnum has no geohash, and the packages that do (python-geohash,
pygeohash, ...) would add a dependency for some thirty lines of arithmetic.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from datetime import date
from typing import Final

from contracts.formats import (
    national_id_birth_date as _birth_date_digits,
)
from contracts.formats import (
    validate_bank_card,
    validate_mobile,
    validate_national_id,
    validate_plate,
)
from masking.regions import ID_REGION_NAMES, PROVINCE_PREFIXES

__all__ = [
    "COMPOUND_SURNAMES",
    "age_band",
    "district_of_address",
    "geohash_centre",
    "geohash_encode",
    "mask_bank_card",
    "mask_name",
    "mask_national_id",
    "mask_phone",
    "mask_plate",
    "national_id_birth_date",
    "province_of_national_id",
    "snap_to_geohash",
    "street_of_address",
]

MASK: Final = "*"

# ---------------------------------------------------------------- validation


def _parse(validator: Callable[[str], str], value: str, reason: str) -> str:
    """``validator(value)``, or ``ValueError(reason)`` without the validator's message.

    The new error is raised outside the ``except`` block so that it carries no
    ``__context__`` either: the original message may quote the value.
    """
    if not isinstance(value, str):
        raise ValueError(reason)
    try:
        return validator(value)
    except ValueError:
        pass
    raise ValueError(reason)


# The rules of contracts.formats.validate_national_id, told without the digits.
_NATIONAL_ID_REASONS: Final = (
    ("resident ID region code", "resident ID region code names no province"),
    ("resident ID birth date", "resident ID birth date is not a plausible calendar date"),
    ("resident ID check character", "resident ID check character does not match"),
)
_NATIONAL_ID_SHAPE: Final = "resident ID number must be 17 digits followed by a digit or X"


def _national_id(value: str) -> str:
    """The canonical resident ID number, or ``ValueError`` naming the broken rule."""
    reason = _NATIONAL_ID_SHAPE
    if isinstance(value, str):
        try:
            return validate_national_id(value)
        except ValueError as exc:
            message = str(exc)
            for opening, safe in _NATIONAL_ID_REASONS:
                if message.startswith(opening):
                    reason = safe
    raise ValueError(reason)


def _keep_ends(value: str, head: int, tail: int) -> str:
    """``value`` with all but ``head`` leading and ``tail`` trailing characters masked."""
    return value[:head] + MASK * (len(value) - head - tail) + value[len(value) - tail :]


# ---------------------------------------------------------------- partial masks


def mask_phone(value: str) -> str:
    """A mainland mobile with the first 3 and last 4 digits kept: ``138****8000``."""
    number = _parse(validate_mobile, value, "mobile number must be 11 digits starting with 13-19")
    return _keep_ends(number, 3, 4)


def mask_national_id(value: str) -> str:
    """A resident ID number with the first character and the last 2 kept."""
    return _keep_ends(_national_id(value), 1, 2)


def mask_plate(value: str) -> str:
    """A plate with its province, its letter and its last character kept: ``粤B****5``."""
    plate = _parse(validate_plate, value, "not a mainland licence plate")
    return _keep_ends(plate, 2, 1)


def mask_bank_card(value: str) -> str:
    """A bank card number (Luhn) with the first 4 and the last 4 digits kept."""
    number = _parse(
        validate_bank_card, value, "bank card number must be 12 to 19 digits passing Luhn"
    )
    return _keep_ends(number, 4, 4)


COMPOUND_SURNAMES: Final = frozenset(
    {
        "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙",
        "宇文", "司徒", "夏侯", "令狐", "端木", "独孤", "西门", "南宫", "轩辕", "申屠",
        "呼延", "澹台", "公冶", "太叔", "宗政", "濮阳", "淳于", "单于", "闻人", "万俟",
        "钟离", "赫连", "拓跋", "百里", "东郭", "南门", "羊舌", "微生", "公羊", "梁丘",
        "左丘", "谷梁", "闾丘", "子车", "亓官", "司空", "司寇", "鲜于", "乐正", "壤驷",
        "公良", "漆雕", "巫马", "仲孙", "叔孙", "段干", "东门", "第五", "呼衍", "完颜",
    }
)  # fmt: skip
"""Two-character surnames kept whole by :func:`mask_name` (``欧阳娜娜`` -> ``欧阳**``)."""

_HAN_RANGES: Final = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_HAN: Final = f"[{_HAN_RANGES}]"
# The interpuncts between the parts of transliterated names (阿沛·阿旺晋美).
_NAME_DOTS: Final = "·•・‧"
_HAN_NAME: Final = re.compile(rf"^{_HAN}+(?:[{_NAME_DOTS}]{_HAN}+)*$")
_LATIN_PUNCTUATION: Final = frozenset("-'’.")


def _is_latin_letter(char: str) -> bool:
    return char.isalpha() and unicodedata.name(char, "").startswith("LATIN ")


def _latin_part(part: str) -> bool:
    return _is_latin_letter(part[0]) and all(
        _is_latin_letter(c) or c in _LATIN_PUNCTUATION for c in part
    )


def mask_name(value: str) -> str:
    """A person's name with only its surname or initials kept.

    Chinese names keep the surname, a known compound one whole, and mask every
    other character (``李晓明`` -> ``李**``, ``李明`` -> ``李*``, ``欧阳娜娜`` ->
    ``欧阳**``); the interpuncts of transliterated names stay. Names in Latin
    script keep the first letter of each part (``Li Xiaoming`` -> ``L* X*******``).
    """
    if not isinstance(value, str) or not value.strip():
        raise ValueError("name is empty")
    parts = value.split()
    han = "".join(parts)
    if _HAN_NAME.match(han):
        keep = 2 if len(han) > 2 and han[:2] in COMPOUND_SURNAMES else 1
        rest = "".join("·" if c in _NAME_DOTS else MASK for c in han[keep:])
        return han[:keep] + rest
    if all(_latin_part(part) for part in parts):
        return " ".join(part[0] + MASK * (len(part) - 1) for part in parts)
    raise ValueError("name must be written in Chinese characters or in Latin letters")


# ---------------------------------------------------------------- resident ID facts


def national_id_birth_date(value: str) -> date:
    """The birth date a valid resident ID number encodes."""
    return _birth_date_digits(_national_id(value))


def province_of_national_id(value: str) -> str:
    """The province-level region (English pinyin) of a valid resident ID number."""
    name = ID_REGION_NAMES.get(_national_id(value)[:2])
    if name is None:
        raise ValueError("resident ID region code names no province")
    return name


ADULT_AGE: Final = 18
OLDEST_BAND: Final = 80


def age_band(born: date, today: date, *, width: int = 10) -> str:
    """The age on ``today`` as a band of ``width`` years: ``'30-39'``.

    Bands start at multiples of ``width`` (so an 18-year-old is in ``'10-19'``
    with the default width); minors are ``'under-18'``, 80 and over ``'80+'``,
    and no band reaches past 79.
    """
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError("age band width must be a positive number of years")
    if born > today:
        raise ValueError("birth date lies in the future")
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if age < ADULT_AGE:
        return "under-18"
    if age >= OLDEST_BAND:
        return f"{OLDEST_BAND}+"
    lower = age // width * width
    upper = min(lower + width - 1, OLDEST_BAND - 1)
    return f"{lower}-{upper}"


# ---------------------------------------------------------------- addresses

# A character of an administrative unit's name: a Han character that is not a
# unit suffix itself (区 and 县 also in traditional spelling).
_UNIT_CHAR: Final = rf"(?:(?![省市区县旗區縣]){_HAN})"
_PREFECTURE: Final = re.compile(rf"{_UNIT_CHAR}{{1,12}}?自治州|{_UNIT_CHAR}{{1,5}}?(?:市|盟|地区)")
# County level: districts, counties, banners, county-level cities (市), autonomous
# counties and banners. Names are short (a compound's or street's name would be
# longer), except banners, mining districts and ethnic districts.
_COUNTY: Final = re.compile(
    rf"市[中南北]区"
    rf"|{_UNIT_CHAR}{{1,12}}?自治[县旗縣]"
    rf"|{_UNIT_CHAR}{{1,4}}?[区县旗市區縣]"
    rf"|{_UNIT_CHAR}{{4,8}}?(?:旗|矿区|族区)"
)
# A suffix character inside a short name: 沙县区, 津市市, 红旗区, 新市区.
_SECOND_SUFFIX: Final = frozenset("区县市區縣")
# Places that end in 区 but are no administrative unit.
_NOT_COUNTY: Final = (
    "小区", "社区", "校区", "景区", "厂区", "片区", "商区",
    "宿舍区", "生活区", "住宅区", "别墅区", "办公区",
)  # fmt: skip
_NOT_IN_COUNTY: Final = ("街道", "巷", "弄", "号", "栋", "幢", "室")
# A street name: Han characters (no numbers, buildings or rooms) up to the first
# street marker; the 街 and 道 of 街道 (a subdistrict) are no street marker.
_STREET: Final = re.compile(
    rf"(?:(?![号栋幢楼室]){_HAN}){{1,30}}?(?:大道|胡同|路|街(?!道)|(?<!街)道|巷|弄)"
)
_NOISE: Final = re.compile(r"\s+")


def _normalise_address(value: str) -> str:
    if not isinstance(value, str):
        raise ValueError("address must be text")
    address = _NOISE.sub("", value)
    return address.removeprefix("中国")


def _province_end(address: str) -> tuple[int, bool]:
    """Where the province-level unit ends, and whether its districts follow directly."""
    for spelling, county_like in PROVINCE_PREFIXES:
        if address.startswith(spelling):
            end = len(spelling)
            if not spelling.endswith(("省", "市", "区")) and address[end : end + 1] == "市":
                continue  # 吉林市 is a city, not the province 吉林
            if county_like:
                for repeat in (spelling, "市辖区"):
                    if address.startswith(repeat, end):
                        end += len(repeat)
            return end, county_like
    return 0, False


def _county(address: str, start: int) -> int | None:
    match = _COUNTY.match(address, start)
    if match is None:
        return None
    end = match.end()
    if len(match.group()) == 2 and address[end : end + 1] in _SECOND_SUFFIX:
        end += 1
    unit = address[start:end]
    if unit.endswith(_NOT_COUNTY) or any(part in unit for part in _NOT_IN_COUNTY):
        return None
    return end


def _district_end(address: str) -> tuple[int | None, int]:
    """Where the district level ends (None: not found), and where parsing got to."""
    end, county_like = _province_end(address)
    if not county_like:
        prefecture = _PREFECTURE.match(address, end)
        if prefecture is not None:
            county = _county(address, prefecture.end())
            if county is not None:
                return county, county
            if prefecture.group().endswith("市"):
                # A county-level city followed by no district (or a city such as 东莞市
                # that has none): the city is the district level, coarser if anything.
                return prefecture.end(), prefecture.end()
            return None, prefecture.end()
    county = _county(address, end)
    return (county, county) if county is not None else (None, end)


def district_of_address(value: str) -> str:
    """A Chinese address cut after its district: ``广东省深圳市南山区``.

    The cut follows the first district, county or banner (区/县/旗), or a
    county-level city (市) when no district follows it; the province and the
    prefecture before it stay. Municipalities work alike (``北京市朝阳区``). A
    city followed by no recognisable district stands for the district level
    (``广东省深圳市``: coarser, never finer). Whitespace and a leading ``中国`` are
    removed. Names of compounds, streets and buildings never pass for districts.
    """
    address = _normalise_address(value)
    end, _ = _district_end(address)
    if end is None:
        raise ValueError("address names no district")
    return address[:end]


def street_of_address(value: str) -> str:
    """A Chinese address cut after its road or street name, house numbers dropped.

    ``广东省深圳市南山区科技园科苑路15号`` -> ``广东省深圳市南山区科技园科苑路``; the
    street markers are 路, 街, 大道, 道, 巷, 胡同 and 弄 (街道, a subdistrict, is not
    one). Without a street the district level is returned.
    """
    address = _normalise_address(value)
    district, parsed = _district_end(address)
    street = _STREET.match(address, parsed)
    if street is not None:
        return address[: street.end()]
    if district is None:
        raise ValueError("address names neither a street nor a district")
    return address[:district]


# ---------------------------------------------------------------- geohash

GEOHASH_ALPHABET: Final = "0123456789bcdefghjkmnpqrstuvwxyz"
_GEOHASH_VALUES: Final = {char: index for index, char in enumerate(GEOHASH_ALPHABET)}
MAX_GEOHASH_PRECISION: Final = 12


def _check_precision(precision: int) -> None:
    if isinstance(precision, bool) or not isinstance(precision, int):
        raise ValueError("geohash precision must be an integer")
    if not 1 <= precision <= MAX_GEOHASH_PRECISION:
        raise ValueError("geohash precision must be between 1 and 12")


def geohash_encode(lat: float, lon: float, precision: int) -> str:
    """The standard base32 geohash of a point, ``precision`` (1 to 12) characters long."""
    _check_precision(precision)
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise ValueError("coordinates must be finite numbers")
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise ValueError("coordinates out of range")
    bounds = [[-180.0, 180.0], [-90.0, 90.0]]  # longitude first: bits alternate lon, lat
    point = (lon, lat)
    code: list[str] = []
    for _ in range(precision):
        index = 0
        for bit in range(5):
            axis = (len(code) * 5 + bit) % 2
            low, high = bounds[axis]
            middle = (low + high) / 2
            index <<= 1
            if point[axis] >= middle:
                index |= 1
                bounds[axis][0] = middle
            else:
                bounds[axis][1] = middle
        code.append(GEOHASH_ALPHABET[index])
    return "".join(code)


def geohash_centre(code: str) -> tuple[float, float]:
    """The centre ``(lat, lon)`` of a geohash cell, rounded to 6 decimals.

    Rounding keeps the centre inside its cell up to precision 11; a precision-12
    cell is smaller than a millionth of a degree.
    """
    if not isinstance(code, str) or not 1 <= len(code) <= MAX_GEOHASH_PRECISION:
        raise ValueError("geohash must have 1 to 12 characters")
    bounds = [[-180.0, 180.0], [-90.0, 90.0]]
    position = 0
    for char in code.lower():
        index = _GEOHASH_VALUES.get(char)
        if index is None:
            raise ValueError("geohash uses a character outside its base32 alphabet")
        for shift in range(4, -1, -1):
            axis = position % 2
            middle = (bounds[axis][0] + bounds[axis][1]) / 2
            bounds[axis][0 if index >> shift & 1 else 1] = middle
            position += 1
    (lon_low, lon_high), (lat_low, lat_high) = bounds
    return round((lat_low + lat_high) / 2, 6), round((lon_low + lon_high) / 2, 6)


def _spread(value: int) -> int:
    """The bits of a 32-bit integer moved apart, a zero between each (Morton order)."""
    value &= 0xFFFFFFFF
    value = (value | (value << 16)) & 0x0000FFFF0000FFFF
    value = (value | (value << 8)) & 0x00FF00FF00FF00FF
    value = (value | (value << 4)) & 0x0F0F0F0F0F0F0F0F
    value = (value | (value << 2)) & 0x3333333333333333
    return (value | (value << 1)) & 0x5555555555555555


def _cell(value: float, low: float, width: float, cells: int) -> int:
    # Cell edges are exact binary fractions; the float estimate can land one cell off
    # for values within rounding of an edge, so it is checked against the edges exactly.
    index = min(max(int((value - low) / width), 0), cells - 1)
    if value < low + index * width:
        index -= 1
    elif index < cells - 1 and value >= low + (index + 1) * width:
        index += 1
    return index


def snap_to_geohash(lat: float, lon: float, precision: int) -> tuple[str, float, float]:
    """A point moved to the centre of its geohash cell: ``(code, lat, lon)``.

    The same cell as ``geohash_encode`` (the tests compare them), computed with
    integer arithmetic instead of bisection, as masking runs it on every
    disclosed location.
    """
    _check_precision(precision)
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise ValueError("coordinates must be finite numbers")
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise ValueError("coordinates out of range")
    bits = 5 * precision
    lon_bits, lat_bits = (bits + 1) // 2, bits // 2
    lon_cells, lat_cells = 1 << lon_bits, 1 << lat_bits
    lon_width, lat_width = 360.0 / lon_cells, 180.0 / lat_cells
    lon_index = _cell(lon, -180.0, lon_width, lon_cells)
    lat_index = _cell(lat, -90.0, lat_width, lat_cells)
    # Longitude takes the first bit; with an odd bit count it also takes the last.
    if bits % 2:
        interleaved = _spread(lon_index) | _spread(lat_index) << 1
    else:
        interleaved = _spread(lon_index) << 1 | _spread(lat_index)
    code = "".join(
        GEOHASH_ALPHABET[(interleaved >> (5 * (precision - 1 - i))) & 31] for i in range(precision)
    )
    centre_lon = round(-180.0 + (lon_index + 0.5) * lon_width, 6)
    centre_lat = round(-90.0 + (lat_index + 0.5) * lat_width, 6)
    return code, centre_lat, centre_lon
