"""Properties of the masking operators over generated valid values (hypothesis)."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from contracts.formats import ID_PROVINCES, PLATE_PROVINCES, national_id_check_char
from masking.operators import (
    age_band,
    geohash_centre,
    geohash_encode,
    mask_bank_card,
    mask_name,
    mask_national_id,
    mask_phone,
    mask_plate,
    national_id_birth_date,
    province_of_national_id,
    snap_to_geohash,
)
from masking.regions import ID_REGION_NAMES

DIGITS = "0123456789"
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I or O
GEOHASH = "0123456789bcdefghjkmnpqrstuvwxyz"


def digits(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=DIGITS, min_size=n, max_size=n)


def longest_common_substring(a: str, b: str) -> int:
    best = 0
    previous = [0] * (len(b) + 1)
    for char in a:
        current = [0] * (len(b) + 1)
        for j, other in enumerate(b, start=1):
            if char == other:
                current[j] = previous[j - 1] + 1
                best = max(best, current[j])
        previous = current
    return best


def assert_masked(original: str, masked: str, head: int, tail: int) -> None:
    """Same length, ends kept, the rest masked, no longer run of the original than 4."""
    assert len(masked) == len(original)
    assert masked[:head] == original[:head]
    assert masked[len(masked) - tail :] == original[len(original) - tail :]
    assert set(masked[head : len(masked) - tail]) == {"*"}
    assert longest_common_substring(original, masked) <= 4
    assert masked != original


mobiles = st.builds(lambda second, rest: "1" + second + rest, st.sampled_from("3456789"), digits(9))


@st.composite
def national_ids(draw: st.DrawFn) -> str:
    province = draw(st.sampled_from(sorted(ID_PROVINCES)))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=date.today()))
    first17 = province + draw(digits(4)) + born.strftime("%Y%m%d") + draw(digits(3))
    return first17 + national_id_check_char(first17)


@st.composite
def plates(draw: st.DrawFn) -> str:
    province = draw(st.sampled_from(PLATE_PROVINCES))
    letter = draw(st.sampled_from(PLATE_LETTERS))
    mixed = st.text(alphabet=PLATE_LETTERS + DIGITS, min_size=1, max_size=1)
    form = draw(st.sampled_from(["conventional", "small-nev", "large-nev"]))
    if form == "conventional":
        body = "".join(draw(mixed) for _ in range(5))
    elif form == "small-nev":
        body = draw(st.sampled_from("DF")) + draw(mixed) + draw(digits(4))
    else:
        body = draw(digits(5)) + draw(st.sampled_from("DF"))
    return province + letter + body


def luhn_check_digit(payload: str) -> str:
    total = 0
    for index, char in enumerate(reversed(payload)):
        digit = int(char)
        if index % 2 == 0:  # doubled: the check digit will shift every position by one
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return str(-total % 10)


bank_cards = (
    st.integers(min_value=11, max_value=18)
    .flatmap(digits)
    .map(lambda payload: payload + luhn_check_digit(payload))
)


@given(mobiles)
def test_masked_mobiles(number: str) -> None:
    assert_masked(number, mask_phone(number), 3, 4)


@given(mobiles)
def test_formatted_mobiles_mask_like_their_digits(number: str) -> None:
    spaced = f"+86 {number[:3]} {number[3:7]}-{number[7:]}"
    assert mask_phone(spaced) == mask_phone(number)


@given(national_ids())
def test_masked_national_ids(number: str) -> None:
    assert_masked(number, mask_national_id(number), 1, 2)


@given(national_ids())
def test_national_id_facts(number: str) -> None:
    assert national_id_birth_date(number).strftime("%Y%m%d") == number[6:14]
    assert province_of_national_id(number) == ID_REGION_NAMES[number[:2]]


@given(plates())
def test_masked_plates(plate: str) -> None:
    assert_masked(plate, mask_plate(plate), 2, 1)


@given(bank_cards)
def test_masked_bank_cards(number: str) -> None:
    assert_masked(number, mask_bank_card(number), 4, 4)


@given(bank_cards, st.integers(min_value=0, max_value=18), st.sampled_from("0123456789"))
def test_bank_cards_with_one_digit_changed_are_rejected(number: str, at: int, new: str) -> None:
    at %= len(number)
    changed = number[:at] + new + number[at + 1 :]
    if changed != number:
        try:
            mask_bank_card(changed)
        except ValueError as error:
            assert changed not in str(error)
        else:
            raise AssertionError("a single changed digit always breaks the Luhn check")


han = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)


@given(st.text(alphabet=han, min_size=2, max_size=6))
def test_chinese_names_keep_one_or_two_characters(name: str) -> None:
    masked = mask_name(name)
    assert len(masked) == len(name)
    kept = len(masked.rstrip("*"))
    assert kept in (1, 2)
    assert masked[:kept] == name[:kept]
    assert kept == 1 or len(name) > 2


latin_part = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1)


@given(st.lists(latin_part, min_size=1, max_size=4))
def test_latin_names_keep_initials(parts: list[str]) -> None:
    masked = mask_name(" ".join(parts)).split(" ")
    assert [m[0] for m in masked] == [p[0] for p in parts]
    assert [len(m) for m in masked] == [len(p) for p in parts]
    assert all(set(m[1:]) <= {"*"} for m in masked)


@given(
    st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1)),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1)),
    st.integers(min_value=1, max_value=30),
)
def test_age_bands_hold_the_age(born: date, today: date, width: int) -> None:
    if born > today:
        return
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    band = age_band(born, today, width=width)
    if age < 18:
        assert band == "under-18"
    elif age >= 80:
        assert band == "80+"
    else:
        lower, upper = (int(bound) for bound in band.split("-"))
        assert lower <= age <= upper <= 79
        assert lower % width == 0


def cell(code: str) -> tuple[float, float, float, float]:
    """(lat_lo, lat_hi, lon_lo, lon_hi) by interval halving, independent of the module."""
    lat = [-90.0, 90.0]
    lon = [-180.0, 180.0]
    even = True
    for char in code:
        value = GEOHASH.index(char)
        for mask in (16, 8, 4, 2, 1):
            interval = lon if even else lat
            middle = (interval[0] + interval[1]) / 2
            interval[0 if value & mask else 1] = middle
            even = not even
    return lat[0], lat[1], lon[0], lon[1]


latitudes = st.floats(min_value=-90, max_value=90, allow_nan=False)
longitudes = st.floats(min_value=-180, max_value=180, allow_nan=False)


@given(latitudes, longitudes, st.integers(min_value=1, max_value=12))
def test_points_lie_in_their_cell(lat: float, lon: float, precision: int) -> None:
    code = geohash_encode(lat, lon, precision)
    assert len(code) == precision
    lat_lo, lat_hi, lon_lo, lon_hi = cell(code)
    assert lat_lo <= lat <= lat_hi
    assert lon_lo <= lon <= lon_hi


# Up to precision 11 a cell is wider than the 6-decimal rounding of its centre.
@given(latitudes, longitudes, st.integers(min_value=1, max_value=11))
def test_centres_lie_in_their_cell_and_encode_back(lat: float, lon: float, precision: int) -> None:
    code, centre_lat, centre_lon = snap_to_geohash(lat, lon, precision)
    assert (centre_lat, centre_lon) == geohash_centre(code)
    lat_lo, lat_hi, lon_lo, lon_hi = cell(code)
    assert lat_lo < centre_lat < lat_hi
    assert lon_lo < centre_lon < lon_hi
    assert geohash_encode(centre_lat, centre_lon, precision) == code


@given(st.text(alphabet=GEOHASH, min_size=1, max_size=12))
def test_every_code_decodes_near_its_cell_centre(code: str) -> None:
    lat, lon = geohash_centre(code)
    lat_lo, lat_hi, lon_lo, lon_hi = cell(code)
    assert abs(lat - (lat_lo + lat_hi) / 2) <= 5e-7
    assert abs(lon - (lon_lo + lon_hi) / 2) <= 5e-7
    if len(code) <= 11:
        assert geohash_encode(lat, lon, len(code)) == code


@given(
    st.floats(min_value=-90, max_value=90, allow_nan=False),
    st.floats(min_value=-180, max_value=180, allow_nan=False),
    st.integers(min_value=1, max_value=12),
)
def test_the_fast_snap_is_the_reference_encoding(lat: float, lon: float, precision: int) -> None:
    from masking.operators import geohash_centre, geohash_encode, snap_to_geohash

    code, centre_lat, centre_lon = snap_to_geohash(lat, lon, precision)
    assert code == geohash_encode(lat, lon, precision)
    if precision <= 11:
        assert (centre_lat, centre_lon) == geohash_centre(code)
