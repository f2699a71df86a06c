"""The pure masking operators: partial masks, generalisations, age bands and geohash."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from contracts.formats import ID_PROVINCES, national_id_check_char
from masking.operators import (
    age_band,
    district_of_address,
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
    street_of_address,
)
from masking.regions import ID_REGION_NAMES


def national_id(first17: str) -> str:
    return first17 + national_id_check_char(first17)


def assert_rejected(operator: Callable[[Any], object], value: Any) -> ValueError:
    """``operator(value)`` raises a ValueError that neither quotes nor chains the value."""
    with pytest.raises(ValueError) as info:
        operator(value)
    message = str(info.value)
    if isinstance(value, str) and value.strip():
        assert value.strip() not in message
    assert info.value.__cause__ is None
    assert info.value.__context__ is None  # the validator's message may quote the value
    return info.value


class TestPhone:
    @pytest.mark.parametrize(
        "value", ["13800138000", "+86 138 0013 8000", "0086-138-0013-8000", "138-0013-8000"]
    )
    def test_keeps_first_three_and_last_four(self, value: str) -> None:
        assert mask_phone(value) == "138****8000"

    @pytest.mark.parametrize(
        "value", ["12800138000", "1380013800", "138001380001", "1380013800a", "", "02088888888"]
    )
    def test_rejects_what_is_no_mainland_mobile(self, value: str) -> None:
        assert_rejected(mask_phone, value)

    def test_rejects_non_text(self) -> None:
        assert_rejected(mask_phone, 13800138000)


class TestName:
    @pytest.mark.parametrize(
        ("value", "masked"),
        [
            ("李晓明", "李**"),
            ("李明", "李*"),
            ("王", "王"),
            ("欧阳娜娜", "欧阳**"),
            ("司马光", "司马*"),
            ("诸葛亮", "诸葛*"),
            ("上官婉儿", "上官**"),
            ("慕容复", "慕容*"),
            ("令狐冲", "令狐*"),
            ("独孤求败", "独孤**"),
            ("端木蓉", "端木*"),
            # Two characters: a single surname and a given name, even if they spell
            # a compound surname.
            ("欧阳", "欧*"),
            (" 李 晓明 ", "李**"),
            ("阿沛·阿旺晋美", "阿*·****"),
            ("买买提•艾力", "买**·**"),
        ],
    )
    def test_chinese_names_keep_the_surname(self, value: str, masked: str) -> None:
        assert mask_name(value) == masked

    @pytest.mark.parametrize(
        ("value", "masked"),
        [
            ("Li Xiaoming", "L* X*******"),
            ("  Li   Xiaoming ", "L* X*******"),
            ("Xiaoming", "X*******"),
            ("Anne-Marie O'Neill", "A********* O******"),
            ("Zoë Müller", "Z** M*****"),
            ("J", "J"),
        ],
    )
    def test_latin_names_keep_initials(self, value: str, masked: str) -> None:
        assert mask_name(value) == masked

    @pytest.mark.parametrize(
        "value", ["", "   ", "李Ming", "Li 3", "Иван Петров", "李明!", "·李明", "-Li", "李明 Li"]
    )
    def test_rejects_what_is_no_name(self, value: str) -> None:
        assert_rejected(mask_name, value)


class TestNationalId:
    EXAMPLE = "440305198803161235"

    def test_keeps_first_one_and_last_two(self) -> None:
        assert mask_national_id(self.EXAMPLE) == "4***************35"

    def test_lowercase_x_is_canonical(self) -> None:
        assert mask_national_id("11010519491231002x") == "1***************2X"

    def test_birth_date(self) -> None:
        assert national_id_birth_date(self.EXAMPLE) == date(1988, 3, 16)
        assert national_id_birth_date("11010519491231002X") == date(1949, 12, 31)

    @pytest.mark.parametrize(
        ("first17", "province"),
        [
            ("11010519491231002", "Beijing"),
            ("12010119800101123", "Tianjin"),
            ("13010219800101123", "Hebei"),
            ("44030519880316123", "Guangdong"),
            ("65010219800101123", "Xinjiang"),
            ("71000019800101123", "Taiwan"),
            ("81000019800101123", "Hong Kong"),
            ("82000019800101123", "Macao"),
            ("83000019800101123", "Taiwan"),
            ("15010219800101123", "Inner Mongolia"),
        ],
    )
    def test_province(self, first17: str, province: str) -> None:
        assert province_of_national_id(national_id(first17)) == province

    def test_region_table_covers_every_code_the_validator_accepts(self) -> None:
        assert set(ID_REGION_NAMES) == set(ID_PROVINCES)

    @pytest.mark.parametrize(
        "value",
        [
            "440305198803161234",  # wrong check character
            "44030519880316123",  # too short
            "4403051988031612355",  # too long
            "44030519880316123Y",
            national_id("99030519880316123"),  # no such province
            national_id("44030519880230123"),  # 30 February
            national_id("44030518990101123"),  # before 1900
            national_id("44030521990101123"),  # in the future
            "",
        ],
    )
    @pytest.mark.parametrize(
        "operator", [mask_national_id, national_id_birth_date, province_of_national_id]
    )
    def test_rejects_invalid_numbers_without_quoting_them(
        self, value: str, operator: Callable[[str], object]
    ) -> None:
        error = assert_rejected(operator, value)
        # Neither the region, the birth date nor the check character leak.
        for part in (value[:6], value[6:14], "should be"):
            if part:
                assert part not in str(error)


class TestPlate:
    @pytest.mark.parametrize(
        ("value", "masked"),
        [
            ("粤B12345", "粤B****5"),
            ("粤BD12345", "粤B*****5"),  # small new-energy vehicle
            ("粤B12345D", "粤B*****D"),  # large new-energy vehicle
            ("京A·8888学", "京A****学"),
            ("粤b 12345", "粤B****5"),
        ],
    )
    def test_keeps_province_letter_and_last(self, value: str, masked: str) -> None:
        assert mask_plate(value) == masked

    @pytest.mark.parametrize(
        "value", ["粤I12345", "XB12345", "粤B1234", "粤B1234567", "粤BX12345", "B12345", ""]
    )
    def test_rejects_what_is_no_plate(self, value: str) -> None:
        assert_rejected(mask_plate, value)


class TestBankCard:
    @pytest.mark.parametrize(
        ("value", "masked"),
        [
            ("4111111111111111", "4111********1111"),
            ("4111 1111 1111 1111", "4111********1111"),
            ("378282246310005", "3782*******0005"),
            ("6212345678901232", "6212********1232"),
            ("6200000000000000000", "6200***********0000"),
            ("400000000002", "4000****0002"),  # 12 digits, the shortest
        ],
    )
    def test_keeps_first_four_and_last_four(self, value: str, masked: str) -> None:
        assert mask_bank_card(value) == masked

    @pytest.mark.parametrize(
        "value", ["4111111111111112", "41111111111", "41111111111111111111", "4111-1111-1111-111a"]
    )
    def test_rejects_what_fails_luhn_or_length(self, value: str) -> None:
        assert_rejected(mask_bank_card, value)


class TestAgeBand:
    TODAY = date(2025, 6, 15)

    @pytest.mark.parametrize(
        ("born", "band"),
        [
            (date(2025, 6, 15), "under-18"),  # born today
            (date(2007, 6, 16), "under-18"),  # 18 tomorrow
            (date(2007, 6, 15), "10-19"),  # 18 today: bands start at multiples of 10
            (date(1995, 6, 16), "20-29"),  # 30 tomorrow
            (date(1995, 6, 15), "30-39"),
            (date(1986, 6, 16), "30-39"),  # 39 until tomorrow
            (date(1946, 6, 16), "70-79"),
            (date(1945, 6, 15), "80+"),
            (date(1900, 1, 1), "80+"),
        ],
    )
    def test_bands_at_their_boundaries(self, born: date, band: str) -> None:
        assert age_band(born, self.TODAY) == band

    def test_leap_day_birthdays_count_from_first_of_march_in_common_years(self) -> None:
        born = date(2000, 2, 29)
        assert age_band(born, date(2030, 2, 28)) == "20-29"
        assert age_band(born, date(2030, 3, 1)) == "30-39"
        assert age_band(born, date(2028, 2, 29)) == "20-29"

    def test_other_widths(self) -> None:
        assert age_band(date(1990, 1, 1), self.TODAY, width=5) == "35-39"
        assert age_band(date(1950, 1, 1), self.TODAY, width=15) == "75-79"  # capped below 80
        assert age_band(date(1990, 1, 1), self.TODAY, width=1) == "35-35"

    def test_future_birth_is_rejected(self) -> None:
        with pytest.raises(ValueError, match="future"):
            age_band(date(2025, 6, 16), self.TODAY)

    @pytest.mark.parametrize("width", [0, -10])
    def test_width_must_be_positive(self, width: int) -> None:
        with pytest.raises(ValueError, match="width"):
            age_band(date(1990, 1, 1), self.TODAY, width=width)


ADDRESSES = [
    # (address, district level, street level)
    ("广东省深圳市南山区科技园科苑路15号", "广东省深圳市南山区", "广东省深圳市南山区科技园科苑路"),
    ("北京市朝阳区建国路88号", "北京市朝阳区", "北京市朝阳区建国路"),
    ("上海市浦东新区世纪大道100号3楼", "上海市浦东新区", "上海市浦东新区世纪大道"),
    ("重庆市渝中区解放碑步行街8号", "重庆市渝中区", "重庆市渝中区解放碑步行街"),
    ("上海市徐汇区建国西路123弄4号", "上海市徐汇区", "上海市徐汇区建国西路"),
    ("北京市东城区南锣鼓巷12号", "北京市东城区", "北京市东城区南锣鼓巷"),
    ("北京市西城区百花深处胡同5号", "北京市西城区", "北京市西城区百花深处胡同"),
    (
        "北京市东城区东华门街道王府井大街1号",
        "北京市东城区",
        "北京市东城区东华门街道王府井大街",
    ),
    (
        "浙江省义乌市稠城街道工人西路88号",
        "浙江省义乌市",  # a county-level city and no district after it
        "浙江省义乌市稠城街道工人西路",
    ),
    ("江苏省苏州市昆山市玉山镇", "江苏省苏州市昆山市", "江苏省苏州市昆山市"),
    ("江苏省昆山市玉山镇幸福小区3栋201室", "江苏省昆山市", "江苏省昆山市"),
    ("山东省济南市市中区经十路", "山东省济南市市中区", "山东省济南市市中区经十路"),
    ("湖南省永州市道县濂溪路", "湖南省永州市道县", "湖南省永州市道县濂溪路"),
    ("浙江省台州市路桥区", "浙江省台州市路桥区", "浙江省台州市路桥区"),
    ("吉林市船营区", "吉林市船营区", "吉林市船营区"),
    ("河南省新乡市辉县市百泉路", "河南省新乡市辉县市", "河南省新乡市辉县市百泉路"),
    (
        "内蒙古自治区呼伦贝尔市鄂温克族自治旗",
        "内蒙古自治区呼伦贝尔市鄂温克族自治旗",
        "内蒙古自治区呼伦贝尔市鄂温克族自治旗",
    ),
    (
        "内蒙古锡林郭勒盟东乌珠穆沁旗",
        "内蒙古锡林郭勒盟东乌珠穆沁旗",
        "内蒙古锡林郭勒盟东乌珠穆沁旗",
    ),
    (
        "新疆维吾尔自治区阿克苏地区阿克苏市",
        "新疆维吾尔自治区阿克苏地区阿克苏市",
        "新疆维吾尔自治区阿克苏地区阿克苏市",
    ),
    (
        "吉林省延边朝鲜族自治州延吉市",
        "吉林省延边朝鲜族自治州延吉市",
        "吉林省延边朝鲜族自治州延吉市",
    ),
    ("广西南宁市青秀区民族大道", "广西南宁市青秀区", "广西南宁市青秀区民族大道"),
    ("广东省东莞市南城街道", "广东省东莞市", "广东省东莞市"),
    ("广东省深圳市科苑路15号", "广东省深圳市", "广东省深圳市科苑路"),
    ("深圳南山区科技园", "深圳南山区", "深圳南山区"),
    (
        "中国 广东省 广州市 天河区 天河路 385号",
        "广东省广州市天河区",
        "广东省广州市天河区天河路",
    ),
]


class TestAddresses:
    @pytest.mark.parametrize(("address", "district", "street"), ADDRESSES)
    def test_district_level(self, address: str, district: str, street: str) -> None:
        assert district_of_address(address) == district

    @pytest.mark.parametrize(("address", "district", "street"), ADDRESSES)
    def test_street_level(self, address: str, district: str, street: str) -> None:
        assert street_of_address(address) == street

    def test_street_without_district(self) -> None:
        assert street_of_address("科苑路15号") == "科苑路"
        assert_rejected(district_of_address, "科苑路15号")

    @pytest.mark.parametrize(
        "address", ["广东省幸福花园小区3栋", "12345", "", "   ", "Main Street 5"]
    )
    def test_rejects_addresses_without_district_or_street(self, address: str) -> None:
        assert_rejected(district_of_address, address)
        assert_rejected(street_of_address, address)

    def test_compound_names_never_pass_for_districts(self) -> None:
        assert district_of_address("广东省深圳市幸福小区") == "广东省深圳市"


def cell(code: str) -> tuple[float, float, float, float]:
    """(lat_lo, lat_hi, lon_lo, lon_hi) of a geohash, decoded with integer arithmetic."""
    alphabet = "0123456789bcdefghjkmnpqrstuvwxyz"
    bits = 0
    for char in code:
        bits = bits << 5 | alphabet.index(char)
    total = 5 * len(code)
    lon_bits = (total + 1) // 2
    lat_bits = total // 2
    lon = lat = 0
    for position in range(total):
        bit = bits >> (total - 1 - position) & 1
        if position % 2 == 0:
            lon = lon << 1 | bit
        else:
            lat = lat << 1 | bit
    lat_size = 180 / 2**lat_bits
    lon_size = 360 / 2**lon_bits
    return (
        -90 + lat * lat_size,
        -90 + (lat + 1) * lat_size,
        -180 + lon * lon_size,
        -180 + (lon + 1) * lon_size,
    )


class TestGeohash:
    @pytest.mark.parametrize(
        ("lat", "lon", "precision", "code"),
        [
            (57.64911, 10.40744, 11, "u4pruydqqvj"),  # the Wikipedia example
            (42.6, -5.6, 5, "ezs42"),
            (0.0, 0.0, 1, "s"),
            (-90.0, -180.0, 4, "0000"),
            (90.0, 180.0, 4, "zzzz"),
            (22.5405, 113.9346, 5, "ws100"),  # Shenzhen, Nanshan
            (39.9087, 116.3975, 6, "wx4g09"),  # Beijing, Tiananmen
        ],
    )
    def test_known_vectors(self, lat: float, lon: float, precision: int, code: str) -> None:
        assert geohash_encode(lat, lon, precision) == code
        lat_lo, lat_hi, lon_lo, lon_hi = cell(code)
        assert lat_lo <= lat <= lat_hi
        assert lon_lo <= lon <= lon_hi

    def test_shenzhen_cell_decodes_around_the_point(self) -> None:
        centre_lat, centre_lon = geohash_centre("ws100")
        assert (centre_lat, centre_lon) == (22.521973, 113.928223)
        # A precision-5 cell is 180/2**12 by 360/2**13 degrees, about 4.9 km square.
        assert abs(centre_lat - 22.5405) <= 180 / 2**12 / 2
        assert abs(centre_lon - 113.9346) <= 360 / 2**13 / 2

    def test_centre_of_the_wikipedia_example(self) -> None:
        lat, lon = geohash_centre("u4pruydqqvj")
        assert lat == pytest.approx(57.64911, abs=1e-5)
        assert lon == pytest.approx(10.40744, abs=1e-5)

    def test_centre_accepts_upper_case(self) -> None:
        assert geohash_centre("WS100") == geohash_centre("ws100")

    def test_snap(self) -> None:
        assert snap_to_geohash(22.5405, 113.9346, 5) == ("ws100", 22.521973, 113.928223)

    @pytest.mark.parametrize(
        ("lat", "lon", "precision"),
        [
            (90.5, 0.0, 5),
            (-90.5, 0.0, 5),
            (0.0, 180.5, 5),
            (0.0, -181.0, 5),
            (float("nan"), 0.0, 5),
            (0.0, float("inf"), 5),
            (0.0, 0.0, 0),
            (0.0, 0.0, 13),
            (0.0, 0.0, True),
        ],
    )
    def test_out_of_range(self, lat: float, lon: float, precision: int) -> None:
        with pytest.raises(ValueError):
            geohash_encode(lat, lon, precision)
        with pytest.raises(ValueError):
            snap_to_geohash(lat, lon, precision)

    @pytest.mark.parametrize(
        "code", ["", "ws1a0", "ws10i", "ws10o", "ws10l", "u4pruydqqvjxx", "ws 10"]
    )
    def test_rejects_what_is_no_geohash(self, code: str) -> None:
        assert_rejected(geohash_centre, code)
