"""A candidate partner: what the onboarding score of DOMAIN.md weighs, as its file states it.

``partners/candidates/*.yaml`` holds one ``PartnerCandidate`` per file. The
scoring (``gateway.partners.candidates``) and docs/partners/selection.md say how
each field counts; this module only says what a valid record is.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Final

from pydantic import Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from contracts.agreement import Contact
from contracts.base import CanonicalModel, LongText, Text
from contracts.ids import PartnerId
from contracts.operations import ServiceCategory
from contracts.people import CityName

__all__ = [
    "BASELINE_CERTIFICATIONS",
    "CATEGORY_LICENCE",
    "ApiOpenness",
    "Certification",
    "CustomerRating",
    "PartnerCandidate",
]


class Certification(StrEnum):
    """Certifications and licences a candidate may hold (the codes its file lists)."""

    ISO_9001 = "iso_9001"
    """ISO 9001 quality management system."""
    ISO_27001 = "iso_27001"
    """ISO/IEC 27001 information security management system."""
    MLPS_3 = "mlps_3"
    """等保三级: China's Multi-Level Protection Scheme, level 3 (GB/T 22239)."""
    ISO_27701 = "iso_27701"
    """ISO/IEC 27701 privacy information management (held, not scored)."""
    ISO_14001 = "iso_14001"
    """ISO 14001 environmental management (held, not scored)."""
    RENTAL_FILING = "rental_filing"
    """汽车租赁经营备案: car rental business filed with the city's transport authority."""
    INSURANCE_LICENCE = "insurance_licence"
    """经营保险业务许可证: insurance business licence of the financial regulator (NFRA)."""
    CHARGING_CQC = "charging_cqc"
    """CQC certification of the charging equipment (GB/T 18487, GB/T 20234)."""
    ICP_LICENCE = "icp_licence"
    """增值电信业务经营许可证 (ICP): value-added telecom licence of an online platform."""
    PAYMENT_LICENCE = "payment_licence"
    """支付业务许可证: payment business licence of the People's Bank of China (not scored)."""


BASELINE_CERTIFICATIONS: Final = (
    Certification.ISO_9001,
    Certification.ISO_27001,
    Certification.MLPS_3,
)
"""Certifications every category's candidates are expected to hold."""

CATEGORY_LICENCE: Final = {
    ServiceCategory.RENTAL: Certification.RENTAL_FILING,
    ServiceCategory.INSURANCE: Certification.INSURANCE_LICENCE,
    ServiceCategory.CHARGING: Certification.CHARGING_CQC,
    ServiceCategory.LIFESTYLE: Certification.ICP_LICENCE,
}
"""The industry licence or certification of each category's trade."""


class ApiOpenness(StrEnum):
    """How far a candidate's systems open to integration, least to most open."""

    NONE = "none"
    """No system interface: orders by phone or e-mail."""
    FILE_EXCHANGE = "file_exchange"
    """Batch files (SFTP, spreadsheets)."""
    REST_API = "rest_api"
    """A request/response API the gateway can call."""
    REST_WEBHOOKS = "rest_webhooks"
    """The API plus webhooks pushing status changes."""
    REST_WEBHOOKS_SANDBOX_OAUTH = "rest_webhooks_sandbox_oauth"
    """The API and webhooks, a sandbox to integrate against, and OAuth 2.0 client credentials."""

    @property
    def level(self) -> int:
        """0 (``none``) to 4 (``rest_webhooks_sandbox_oauth``)."""
        return list(ApiOpenness).index(self)


class CustomerRating(CanonicalModel):
    """Customers' public rating of the candidate's service (app stores, Dianping, surveys)."""

    average: Annotated[float, Field(ge=1, le=5)] | None = None
    """Mean stars, 1 to 5; omitted when there are no reviews."""
    reviews: Annotated[int, Field(ge=0)] = 0
    """How many reviews the average is over."""
    source: Text | None = None
    """Where the rating was read, e.g. ``Dianping, 2026-09``."""

    @model_validator(mode="after")
    def _average_needs_reviews(self) -> CustomerRating:
        if self.average is None and self.reviews > 0:
            _fail(self, (("average",), f"is missing for {self.reviews} reviews"))
        if self.average is not None and self.reviews == 0:
            _fail(self, (("reviews",), "must be above 0 when an average is given"))
        return self


class PartnerCandidate(CanonicalModel):
    """A company considered as a partner, with the facts the onboarding score weighs."""

    id: PartnerId
    """Slug, equal to the file name; the partner id it would get if onboarded."""
    name: Text
    category: ServiceCategory
    cities: Annotated[list[CityName], Field(min_length=1)]
    """Cities the candidate serves today."""
    rating: CustomerRating = CustomerRating()
    certifications: list[Certification] = Field(default_factory=list)
    price_index: Annotated[float, Field(gt=0, le=10)]
    """Its price for the category's reference service / the category's median (1.0 = median)."""
    response_minutes: Annotated[float, Field(gt=0, le=10080)]
    """Median minutes from request to response as docs/partners/selection.md defines it per
    category (rental: car at the door; insurance: claim acknowledged by a person...)."""
    api: ApiOpenness
    """API openness."""
    contact: Contact | None = None
    assessed_on: date | None = None
    """When the facts were gathered."""
    notes: LongText | None = None

    @model_validator(mode="after")
    def _no_repeats(self) -> PartnerCandidate:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        listed: tuple[tuple[str, list[str]], ...] = (
            ("cities", list(self.cities)),
            ("certifications", [code.value for code in self.certifications]),
        )
        for name, values in listed:
            repeated = sorted({v for v in values if values.count(v) > 1})
            if repeated:
                problems.append(((name,), f"must not repeat: {', '.join(repeated)}"))
        if problems:
            _fail(self, *problems)
        return self


def _fail(model: CanonicalModel, *problems: tuple[tuple[str | int, ...], str]) -> None:
    """Raise one validation error per problem, each at its field's path."""
    raise ValidationError.from_exception_data(
        type(model).__name__,
        [
            InitErrorDetails(
                type=PydanticCustomError("candidate_rule", message), loc=loc, input=None
            )
            for loc, message in problems
        ],
    )
