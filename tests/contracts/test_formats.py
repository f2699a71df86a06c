"""Chinese formats: resident ID, mobile, VIN, plates, bank cards, e-mail."""

from datetime import date

import pytest

from contracts import (
    EXAMPLE_NATIONAL_ID,
    EXAMPLE_NEV_PLATE,
    EXAMPLE_NEV_VIN,
    EXAMPLE_PHONE,
    EXAMPLE_PLATE,
    EXAMPLE_VIN,
    is_valid_bank_card,
    is_valid_email,
    is_valid_mobile,
    is_valid_national_id,
    is_valid_plate,
    is_valid_vin,
    national_id_birth_date,
    national_id_check_char,
    validate_mobile,
    validate_national_id,
    validate_plate,
    validate_vin,
    vin_check_digit,
)


class TestNationalId:
    @pytest.mark.parametrize(
        "number", [EXAMPLE_NATIONAL_ID, "440306199207084326", "11010519491231002X"]
    )
    def test_valid(self, number: str) -> None:
        assert is_valid_national_id(number)

    def test_lowercase_x_is_normalised(self) -> None:
        assert validate_national_id("11010519491231002x") == "11010519491231002X"

    def test_check_char(self) -> None:
        assert national_id_check_char("44030519880316123") == "5"

    def test_wrong_check_char_names_the_rule(self) -> None:
        with pytest.raises(ValueError, match="check character should be 5, not 4"):
            validate_national_id("440305198803161234")

    def test_wrong_length(self) -> None:
        with pytest.raises(ValueError, match="17 digits followed by a digit or X"):
            validate_national_id("44030519880316123")

    def test_impossible_birth_date(self) -> None:
        number = "44030519880230123"
        with pytest.raises(ValueError, match="not a calendar date"):
            validate_national_id(number + national_id_check_char(number))

    def test_future_birth_date(self) -> None:
        number = "44030521990101123"
        with pytest.raises(ValueError, match="out of range"):
            validate_national_id(number + national_id_check_char(number))

    def test_unknown_province(self) -> None:
        number = "99030519880316123"
        with pytest.raises(ValueError, match="names no province"):
            validate_national_id(number + national_id_check_char(number))

    def test_birth_date(self) -> None:
        assert national_id_birth_date(EXAMPLE_NATIONAL_ID) == date(1988, 3, 16)


class TestMobile:
    @pytest.mark.parametrize("number", [EXAMPLE_PHONE, "19912345678", "13312345678"])
    def test_valid(self, number: str) -> None:
        assert is_valid_mobile(number)

    def test_country_code_and_separators_removed(self) -> None:
        assert validate_mobile("+86 138-0013-8000") == "13800138000"

    @pytest.mark.parametrize("number", ["12800138000", "1380013800", "138001380001", "0755123456"])
    def test_invalid(self, number: str) -> None:
        assert not is_valid_mobile(number)

    def test_message(self) -> None:
        with pytest.raises(ValueError, match="11 digits starting with 13-19"):
            validate_mobile("12800138000")


class TestVin:
    @pytest.mark.parametrize("vin", [EXAMPLE_VIN, EXAMPLE_NEV_VIN, "1M8GDM9AXKP042788"])
    def test_valid(self, vin: str) -> None:
        assert is_valid_vin(vin)

    def test_check_digit_may_be_x(self) -> None:
        assert vin_check_digit("1M8GDM9A0KP042788") == "X"

    def test_lowercase_is_normalised(self) -> None:
        assert validate_vin(EXAMPLE_VIN.lower()) == EXAMPLE_VIN

    def test_wrong_check_digit(self) -> None:
        with pytest.raises(ValueError, match=r"check digit \(position 9\) should be 6, not 0"):
            validate_vin("LSVAU2180N2183292")

    @pytest.mark.parametrize("letter", ["I", "O", "Q"])
    def test_forbidden_letters(self, letter: str) -> None:
        with pytest.raises(ValueError, match="other than I, O and Q"):
            validate_vin(letter + EXAMPLE_VIN[1:])

    def test_length(self) -> None:
        with pytest.raises(ValueError, match="17 characters, not 16"):
            validate_vin(EXAMPLE_VIN[:16])


class TestPlate:
    @pytest.mark.parametrize(
        "plate",
        [EXAMPLE_PLATE, EXAMPLE_NEV_PLATE, "京A12345", "沪AF12345", "粤B12345D", "粤B1234学"],
    )
    def test_valid(self, plate: str) -> None:
        assert is_valid_plate(plate)

    def test_separators_removed(self) -> None:
        assert validate_plate("粤B·D1234 5") == "粤BD12345"

    @pytest.mark.parametrize(
        "plate",
        [
            "AB12345",  # no province
            "粤I12345",  # I is never a city letter
            "粤B1234",  # too short
            "粤BX12345",  # 8 characters without the new-energy mark
            "粤BD1234A",  # small new-energy plates end in four digits
        ],
    )
    def test_invalid(self, plate: str) -> None:
        assert not is_valid_plate(plate)


class TestOthers:
    def test_bank_card_luhn(self) -> None:
        assert is_valid_bank_card("6222 0212 3456 7890 128")
        assert not is_valid_bank_card("6222021234567890129")

    def test_email(self) -> None:
        assert is_valid_email("xiaoming.li@example.com")
        assert not is_valid_email("xiaoming.li@")
