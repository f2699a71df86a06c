"""Loading the YAML partner registry: the shipped partners, and every problem reported."""

import shutil
from pathlib import Path

import pytest

from contracts import (
    ApiKeyAuth,
    HmacAuth,
    OAuth2ClientCredentials,
    PartnerAgreement,
    PartnerTier,
    ServiceCategory,
)
from gateway.registry import (
    Registry,
    RegistryError,
    RegistryProblem,
    UnknownPartner,
    load_registry,
    validate_directory,
)

PARTNERS = Path(__file__).resolve().parents[2] / "partners"

VALID = """\
id: {id}
name: Test Rental
category: rental
partner_class: capability
cities: [Shenzhen]
api:
  base_url: http://127.0.0.1:8000/sandbox/{id}
  dialect: canonical
  auth: {{type: none}}
webhook: {{dialect: canonical}}
commission:
  plans:
    - kind: percentage
      rate: "0.08"
      valid_from: 2025-01-01
data: {{tier: public, purposes: [courtesy_car_delivery]}}
exclusivity: {{exclusive_in_category: {exclusive}}}
validity: {{valid_from: 2025-01-01, valid_to: 2026-12-31}}
"""

THREE_MISTAKES = """\
id: broken
name: Broken Rental
category: rentals
partner_class: capability
api:
  base_url: http://127.0.0.1:8000/sandbox/broken
  dialect: canonical
  auth: {type: api_key, secret_ref: broken_key}
webhook: {dialect: canonical}
commission:
  plans:
    - kind: percentage
      rate: "-0.08"
      valid_from: 2025-01-01
data: {tier: public, purposes: [courtesy_car_delivery]}
validity: {valid_from: 2025-01-01, valid_to: 2026-12-31}
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def valid(partner_id: str, exclusive: bool = False) -> str:
    return VALID.format(id=partner_id, exclusive=str(exclusive).lower())


class TestShippedPartners:
    def test_all_eight_load(self) -> None:
        registry = load_registry(PARTNERS)
        assert registry.ids() == (
            "citycar",
            "meilife",
            "pingsure",
            "roadmap",
            "starcharge",
            "swiftrent",
            "taicover",
            "voltgrid",
        )

    def test_two_per_category_each_serving_shenzhen(self) -> None:
        registry = load_registry(PARTNERS)
        for category in ServiceCategory:
            partners = registry.by_category(category)
            assert len(partners) == 2, category
            assert all("Shenzhen" in p.cities for p in partners), category

    def test_they_differ_on_purpose(self) -> None:
        partners = load_registry(PARTNERS).all()
        auth_styles = {type(p.api.auth) for p in partners}
        assert {OAuth2ClientCredentials, ApiKeyAuth, HmacAuth} <= auth_styles
        dialects = [p.webhook.dialect for p in partners]
        assert dialects.count("canonical") >= 2
        assert len(set(dialects)) >= 5
        assert {PartnerTier.GOLD, PartnerTier.SILVER, PartnerTier.BRONZE} <= {
            p.tier for p in partners
        }
        kinds = {plan.kind for p in partners for plan in p.commission.plans}
        assert kinds == {
            "percentage",
            "revenue_share",
            "markup",
            "platform_fee",
            "subscription_covered",
            "outcome_based",
        }

    def test_base_urls_point_at_the_sandboxes(self) -> None:
        for partner in load_registry(PARTNERS):
            assert partner.api.base_url == f"http://127.0.0.1:8000/sandbox/{partner.id}"

    def test_validate_directory_finds_nothing(self) -> None:
        assert validate_directory(PARTNERS) == []


class TestRegistry:
    def test_get_and_contains(self) -> None:
        registry = load_registry(PARTNERS)
        assert isinstance(registry.get("swiftrent"), PartnerAgreement)
        assert "swiftrent" in registry
        assert "nobody" not in registry
        assert len(registry) == 8

    def test_unknown_partner(self) -> None:
        registry = load_registry(PARTNERS)
        with pytest.raises(UnknownPartner, match="no partner 'nobody'") as caught:
            registry.get("nobody")
        assert isinstance(caught.value, KeyError)

    def test_is_immutable(self) -> None:
        registry = load_registry(PARTNERS)
        with pytest.raises(AttributeError):
            registry.extra = 1  # type: ignore[attr-defined]
        assert isinstance(registry.all(), tuple)

    def test_duplicates_refused_in_memory(self) -> None:
        agreement = load_registry(PARTNERS).get("swiftrent")
        with pytest.raises(ValueError, match="appears twice"):
            Registry([agreement, agreement])


class TestProblems:
    def test_three_mistakes_in_one_file_are_all_reported(self, tmp_path: Path) -> None:
        path = write(tmp_path, "broken.yaml", THREE_MISTAKES)
        with pytest.raises(RegistryError) as caught:
            load_registry(tmp_path)
        problems = {(p.file, p.path): p.reason for p in caught.value.problems}
        assert set(problems) == {
            (str(path), "category"),
            (str(path), "cities"),
            (str(path), "commission.plans[0].rate"),
        }
        assert "'rental'" in problems[(str(path), "category")]
        assert problems[(str(path), "cities")] == "Field required"
        assert "greater than or equal to 0" in problems[(str(path), "commission.plans[0].rate")]

    def test_error_text_lists_one_problem_per_line(self, tmp_path: Path) -> None:
        path = write(tmp_path, "broken.yaml", THREE_MISTAKES)
        with pytest.raises(RegistryError) as caught:
            load_registry(tmp_path)
        lines = str(caught.value).splitlines()
        assert len(lines) == 3
        assert f"{path}: cities: Field required" in lines

    def test_problems_of_every_file_are_collected(self, tmp_path: Path) -> None:
        write(tmp_path, "broken.yaml", THREE_MISTAKES)
        write(tmp_path, "syntax.yml", "id: syntax\n  name: [unclosed\n")
        write(tmp_path, "good.yaml", valid("good"))
        problems = validate_directory(tmp_path)
        assert {Path(p.file).name for p in problems} == {"broken.yaml", "syntax.yml"}

    def test_yaml_syntax_error_gives_the_line(self, tmp_path: Path) -> None:
        write(tmp_path, "syntax.yaml", "id: syntax\nname: ok\ncities: [Shenzhen\n")
        [problem] = validate_directory(tmp_path)
        assert problem.path.startswith("line ")
        assert problem.reason.startswith("YAML syntax error")

    def test_id_must_equal_file_name(self, tmp_path: Path) -> None:
        write(tmp_path, "other.yaml", valid("good"))
        assert validate_directory(tmp_path) == [
            RegistryProblem(
                str(tmp_path / "other.yaml"), "id", "'good' must equal the file name 'other'"
            )
        ]

    def test_duplicate_ids_across_files(self, tmp_path: Path) -> None:
        write(tmp_path, "good.yaml", valid("good"))
        write(tmp_path, "good.yml", valid("good"))
        [problem] = validate_directory(tmp_path)
        assert problem.file == str(tmp_path / "good.yml")
        assert "also in" in problem.reason

    def test_cross_field_problem_has_its_path(self, tmp_path: Path) -> None:
        text = valid("good").replace(
            "purposes: [courtesy_car_delivery]", "purposes: [points_exchange]"
        )
        write(tmp_path, "good.yaml", text)
        [problem] = validate_directory(tmp_path)
        assert problem.path == "data.purposes[0]"
        assert problem.reason == "points_exchange is not a rental purpose"

    def test_union_tags_are_left_out_of_paths(self, tmp_path: Path) -> None:
        text = valid("good").replace("auth: {type: none}", "auth: {type: hmac, key_id: k}")
        write(tmp_path, "good.yaml", text)
        [problem] = validate_directory(tmp_path)
        assert problem.path == "api.auth.secret_ref"

    def test_not_a_mapping(self, tmp_path: Path) -> None:
        write(tmp_path, "list.yaml", "- just\n- a list\n")
        [problem] = validate_directory(tmp_path)
        assert "mapping" in problem.reason

    def test_two_exclusive_partners_in_one_city(self, tmp_path: Path) -> None:
        write(tmp_path, "first.yaml", valid("first", exclusive=True))
        write(tmp_path, "second.yaml", valid("second"))
        [problem] = validate_directory(tmp_path)
        assert problem.path == "exclusivity.exclusive_in_category"
        assert "second also serves rental in Shenzhen" in problem.reason

    def test_subdirectories_and_other_files_are_ignored(self, tmp_path: Path) -> None:
        write(tmp_path, "good.yaml", valid("good"))
        (tmp_path / "candidates").mkdir()
        write(tmp_path / "candidates", "broken.yaml", THREE_MISTAKES)
        write(tmp_path, "README.md", "# not an agreement\n")
        assert load_registry(tmp_path).ids() == ("good",)

    def test_empty_directory(self, tmp_path: Path) -> None:
        [problem] = validate_directory(tmp_path)
        assert "no *.yaml" in problem.reason

    def test_missing_directory(self, tmp_path: Path) -> None:
        [problem] = validate_directory(tmp_path / "absent")
        assert "not a directory" in problem.reason

    def test_shipped_files_still_load_from_a_copy(self, tmp_path: Path) -> None:
        for source in PARTNERS.glob("*.yaml"):
            shutil.copy(source, tmp_path / source.name)
        assert len(load_registry(tmp_path)) == 8


def test_dialects_without_adapter_are_reported(tmp_path: Path) -> None:
    """Every delivery would be dead-lettered, every call impossible: refuse the registry."""
    source = (Path(__file__).resolve().parents[2] / "partners" / "swiftrent.yaml").read_text(
        encoding="utf-8"
    )
    (tmp_path / "swiftrent.yaml").write_text(
        source.replace("dialect: swiftrent.v2", "dialect: swiftrent.v9"), encoding="utf-8"
    )
    problems = validate_directory(tmp_path)
    assert [(p.path, "swiftrent.v9" in p.reason) for p in problems] == [
        ("webhook.dialect", True),
        ("api.dialect", True),
    ]
