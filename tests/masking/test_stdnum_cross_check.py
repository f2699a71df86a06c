"""contracts.formats and the address generaliser checked against python-stdnum.

python-stdnum (a dev dependency) is an independent, well-kept implementation:
``stdnum.cn.ric`` for resident ID numbers, ``stdnum.luhn`` for bank cards, and
its GB/T 2260 county table (``stdnum/cn/loc.dat``) for district names.

VIN: python-stdnum has no VIN (ISO 3779) module, so the VIN check digit is not
cross-checked here.

Known, deliberate differences on resident IDs: stdnum checks the whole
six-digit county code against its history (the county must have existed in the
birth year) but not the birth year's range; contracts checks only the province
(two digits) and wants a birth date between 1900 and today.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
import stdnum
from hypothesis import event, given
from hypothesis import strategies as st
from stdnum import luhn
from stdnum.cn import ric

from contracts.formats import (
    is_valid_bank_card,
    is_valid_national_id,
    national_id_birth_date,
    national_id_check_char,
    validate_bank_card,
)
from masking.operators import district_of_address, street_of_address

DIGITS = "0123456789"
LOC_TABLE = Path(stdnum.__file__).parent / "cn" / "loc.dat"


def county_codes() -> list[str]:
    """Every six-digit code of stdnum's GB/T 2260 table, current or abolished."""
    codes: list[str] = []
    province = ""
    for line in LOC_TABLE.read_text(encoding="utf-8").splitlines():
        if re.match(r"^\d\d ", line):
            province = line[:2]
        elif re.match(r"^  \d{4} ", line):
            codes.append(province + line[2:6])
    return codes


COUNTY_CODES = county_codes()
# County codes that stdnum's table has held since 1900 or before (no date range).
STABLE_COUNTIES = ["110101", "110105", "110108", "120101", "310101", "310104", "710000"]
TODAY = date.today()


def digits(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=DIGITS, min_size=n, max_size=n)


def stdnum_valid(number: str) -> bool:
    """``ric.is_valid``, which in python-stdnum 2.2 raises KeyError for a county code
    its table lacks while knowing the province (``110001``): that is "invalid" too."""
    try:
        return ric.is_valid(number)
    except KeyError:
        return False


def with_check_char(first17: str) -> str:
    return first17 + national_id_check_char(first17)


class TestResidentIdAgainstStdnum:
    @pytest.mark.parametrize(
        "number", ["440305198803161235", "440306199207084326", "11010519491231002X"]
    )
    def test_fixed_numbers_valid_in_both(self, number: str) -> None:
        assert is_valid_national_id(number)
        assert ric.is_valid(number)
        assert national_id_birth_date(number) == ric.get_birth_date(number)

    @pytest.mark.parametrize(
        "number",
        [
            "440305198803161234",  # check character
            "44030519880316123",  # length
            "4403051988031612AX",  # letters
            "110105194912310021",  # check character
        ],
    )
    def test_fixed_numbers_invalid_in_both(self, number: str) -> None:
        assert not is_valid_national_id(number)
        assert not ric.is_valid(number)

    @given(digits(17))
    def test_check_characters_agree(self, first17: str) -> None:
        # stdnum computes the check character from a number that includes one.
        assert national_id_check_char(first17) == ric.calc_check_digit(first17 + "0")

    @given(
        st.sampled_from(STABLE_COUNTIES),
        st.dates(min_value=date(1900, 1, 1), max_value=TODAY),
        digits(3),
    )
    def test_generated_numbers_agree(self, county: str, born: date, sequence: str) -> None:
        number = with_check_char(county + born.strftime("%Y%m%d") + sequence)
        assert is_valid_national_id(number)
        assert ric.is_valid(number)
        assert national_id_birth_date(number) == ric.get_birth_date(number) == born
        wrong = number[:17] + ("0" if number[17] != "0" else "1")
        assert not is_valid_national_id(wrong)
        assert not ric.is_valid(wrong)

    @given(digits(17), st.sampled_from(DIGITS + "X"))
    def test_arbitrary_numbers_agree_within_the_known_differences(
        self, first17: str, last: str
    ) -> None:
        self.assert_agree_within_the_known_differences(first17 + last)

    @given(
        st.sampled_from(COUNTY_CODES),
        st.dates(min_value=date(1850, 1, 1), max_value=date(2100, 12, 31)),
        digits(3),
    )
    def test_numbers_of_every_county_agree_within_the_known_differences(
        self, county: str, born: date, sequence: str
    ) -> None:
        self.assert_agree_within_the_known_differences(
            with_check_char(county + born.strftime("%Y%m%d") + sequence)
        )

    @staticmethod
    def assert_agree_within_the_known_differences(number: str) -> None:
        ours, theirs = is_valid_national_id(number), stdnum_valid(number)
        event(f"contracts {ours}, stdnum {theirs}")
        if ours:
            # Ours accepted it: the check character and the date are right for stdnum too.
            assert ric.calc_check_digit(number) == number[17]
            assert ric.get_birth_date(number) == national_id_birth_date(number)
        if theirs:
            born = ric.get_birth_date(number)
            assert ours == (date(1900, 1, 1) <= born <= TODAY)

    def test_known_difference_county_history(self) -> None:
        # 440305 (Shenzhen Nanshan) was created in 1990: stdnum refuses 1950 births there.
        number = with_check_char("44030519500101123")
        assert is_valid_national_id(number)
        assert not ric.is_valid(number)

    def test_known_difference_birth_year_range(self) -> None:
        number = with_check_char("11010518990101123")
        assert not is_valid_national_id(number)
        assert ric.is_valid(number)


class TestBankCardAgainstStdnumLuhn:
    @pytest.mark.parametrize(
        "number",
        [
            "4111111111111111",
            "5500000000000004",
            "6011111111111117",
            "378282246310005",
            "6212345678901232",
            "4111111111111112",
            "6212345678901233",
        ],
    )
    def test_fixed_numbers(self, number: str) -> None:
        assert is_valid_bank_card(number) == luhn.is_valid(number)

    @given(st.integers(min_value=12, max_value=19).flatmap(digits))
    def test_generated_numbers(self, number: str) -> None:
        assert is_valid_bank_card(number) == luhn.is_valid(number)

    @given(st.integers(min_value=11, max_value=18).flatmap(digits))
    def test_completed_numbers(self, payload: str) -> None:
        number = payload + luhn.calc_check_digit(payload)
        assert validate_bank_card(number) == number


def current_counties() -> list[tuple[str, str]]:
    """``(province + prefecture, county)`` for every county-level unit in use today."""
    found: list[tuple[str, str]] = []
    province = prefecture = ""
    for line in LOC_TABLE.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if not line.startswith(" "):
            match = re.search(r'province="([^"]+)"', line)
            province = match.group(1) if match else ""
            continue
        code, _, rest = line.strip().partition(" ")
        match = re.search(r'county="([^"]+)"', rest)
        if match is None or code.endswith("0000"):
            continue
        for spelling in match.group(1).split(","):
            period, _, name = spelling.rpartition("]")
            if period and not period.endswith("-"):
                continue  # abolished
            if code.endswith("00"):
                generic = "直辖" in name or name in {"市辖区", "县", "林区"}
                prefecture = "" if generic else name
            elif name not in {"市辖区", "县"}:
                found.append((province + prefecture, name))
    return found


COUNTIES = current_counties()


def test_the_county_table_was_read() -> None:
    assert len(COUNTIES) > 2500
    assert ("广东省深圳市", "南山区") in COUNTIES


def test_every_current_county_is_a_district() -> None:
    missed = []
    for above, county in COUNTIES:
        head = above + county
        if (
            district_of_address(head + "人民路1号") != head
            or street_of_address(head + "人民路1号") != head + "人民路"
            or district_of_address(head + "幸福花园小区3栋") != head
        ):
            missed.append(head)
    assert missed == []
