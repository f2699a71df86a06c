"""Province-level regions of China: GB/T 2260 codes and the names addresses open with.

Pure data for :mod:`masking.operators`. ``ID_REGION_NAMES`` names the region of
the first two digits of a resident ID number in the usual English (pinyin)
form; ``PROVINCE_PREFIXES`` lists how a Chinese address may spell the
province-level unit it starts with, longest spellings first.

The codes are those ``contracts.formats.ID_PROVINCES`` accepts (a test keeps
them equal); the names differ in one place: 82 is ``Macao``, the spelling of
GB/T 2659 and ISO 3166, where contracts writes ``Macau``.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

__all__ = [
    "ID_REGION_NAMES",
    "PROVINCE_PREFIXES",
]

# GB/T 2260 province-level codes. 83 is not a GB/T 2260 province: it opens the
# residence-permit numbers of Taiwan residents (830000), as 81 and 82 open those of
# Hong Kong and Macao residents, so it names Taiwan as well.
ID_REGION_NAMES: Final = MappingProxyType(
    {
        "11": "Beijing", "12": "Tianjin", "13": "Hebei", "14": "Shanxi",
        "15": "Inner Mongolia", "21": "Liaoning", "22": "Jilin", "23": "Heilongjiang",
        "31": "Shanghai", "32": "Jiangsu", "33": "Zhejiang", "34": "Anhui",
        "35": "Fujian", "36": "Jiangxi", "37": "Shandong", "41": "Henan",
        "42": "Hubei", "43": "Hunan", "44": "Guangdong", "45": "Guangxi",
        "46": "Hainan", "50": "Chongqing", "51": "Sichuan", "52": "Guizhou",
        "53": "Yunnan", "54": "Tibet", "61": "Shaanxi", "62": "Gansu",
        "63": "Qinghai", "64": "Ningxia", "65": "Xinjiang", "71": "Taiwan",
        "81": "Hong Kong", "82": "Macao", "83": "Taiwan",
    }
)  # fmt: skip

_PROVINCES: Final = (
    "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽", "福建", "江西",
    "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州", "云南", "陕西",
    "甘肃", "青海", "台湾",
)  # fmt: skip
_MUNICIPALITIES: Final = ("北京", "天津", "上海", "重庆")
_AUTONOMOUS_REGIONS: Final = MappingProxyType(
    {
        "内蒙古": "内蒙古自治区",
        "广西": "广西壮族自治区",
        "西藏": "西藏自治区",
        "宁夏": "宁夏回族自治区",
        "新疆": "新疆维吾尔自治区",
    }
)
_SPECIAL_REGIONS: Final = MappingProxyType({"香港": "香港特别行政区", "澳门": "澳门特别行政区"})


def _prefixes() -> tuple[tuple[str, bool], ...]:
    """Every spelling of a province-level unit, and whether it is county-like."""
    spellings: list[tuple[str, bool]] = []
    for short in _PROVINCES:
        spellings += [(short + "省", False), (short, False)]
    for short in _MUNICIPALITIES:
        spellings += [(short + "市", True), (short, True)]
    for short, full in _AUTONOMOUS_REGIONS.items():
        spellings += [(full, False), (short + "自治区", False), (short, False)]
    for short, full in _SPECIAL_REGIONS.items():
        spellings += [(full, True), (short, True)]
    return tuple(sorted(set(spellings), key=lambda item: -len(item[0])))


PROVINCE_PREFIXES: Final = _prefixes()
"""``(spelling, county_like)`` pairs, longest first; ``county_like`` marks the
municipalities and special administrative regions, whose districts follow directly."""
