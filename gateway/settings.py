"""The one settings object: every `PGW_` environment variable, read once."""

from __future__ import annotations

from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts import Purpose
from gateway.privacy.pool import parse_number_pool

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Gateway configuration; nothing else in the code base reads the environment."""

    model_config = SettingsConfigDict(env_prefix="PGW_", env_file=None, extra="ignore", frozen=True)

    environment: Literal["development", "test", "production"] = Field(
        "development", description="Deployment environment name, bound into every log line."
    )
    host: str = Field("127.0.0.1", description="Interface `pgw serve` binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port `pgw serve` listens on.")
    workers: int = Field(
        1, ge=1, le=64, description="Worker processes for `pgw serve` (more than 1 needs Redis)."
    )
    database_url: SecretStr | None = Field(
        None,
        description="SQLAlchemy async URL, e.g. `postgresql+asyncpg://user@host/db`. "
        "Unset: an SQLite file in `PGW_DATA_DIR`.",
    )
    database_pool_size: int = Field(10, ge=1, le=200, description="PostgreSQL pool size.")
    database_echo: bool = Field(False, description="Log every SQL statement (debugging only).")
    redis_url: SecretStr | None = Field(
        None,
        description="Redis for hot state shared by all processes: `redis://`, "
        "`redis+sentinel://host:port,.../master`, or `redis+cluster://host:port,...`. "
        "Unset: in-process hot state (one process only).",
    )
    redis_prefix: str = Field(
        "pgw:", min_length=1, description="Prefix of every Redis key the gateway writes."
    )
    data_dir: Path = Field(
        Path("var"), description="Directory of the embedded SQLite file and local state."
    )
    partners_dir: Path = Field(
        Path("partners"), description="Directory of the partner agreement YAML files."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Minimum level of log events."
    )
    log_json: bool = Field(
        True, description="JSON log lines (true) or human-readable console lines (false)."
    )
    public_base_url: str = Field(
        "http://127.0.0.1:8000",
        description="Externally visible base URL; the OAuth issuer and its metadata URLs.",
    )
    token_audience: str = Field(
        "partner-gateway", description="`aud` of the access tokens the gateway issues."
    )
    token_lifetime_seconds: int = Field(
        900, ge=60, le=900, description="Access token lifetime (at most 15 minutes)."
    )
    secret_rotation_overlap_hours: float = Field(
        24, ge=0, le=720, description="How long a rotated client or webhook secret stays valid."
    )
    webhook_body_limit_bytes: int = Field(
        262_144, ge=1024, le=10_485_760, description="Largest webhook body accepted (413 beyond)."
    )
    webhook_tolerance_seconds: int = Field(
        300, ge=30, le=3600, description="Allowed clock skew of `webhook-timestamp`."
    )
    inbox_recovery_interval_seconds: float = Field(
        30, gt=0, le=3600, description="How often stored but unapplied deliveries are retried."
    )
    inbox_recovery_grace_seconds: float = Field(
        30, ge=0, le=3600, description="Age before an unapplied delivery is taken by recovery."
    )
    readiness_timeout_seconds: float = Field(
        2.0, gt=0, le=30, description="Time budget of each `/readyz` dependency check."
    )
    partner_secrets: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="JSON object of the partners' outbound secrets by the `secret_ref` their "
        'agreements name, e.g. `{"swiftrent_client_secret": "..."}`.',
    )
    sandbox: bool | None = Field(
        None,
        description="Mount the sandbox partners under `/sandbox/{partner}` and use their "
        "development secrets. Unset: on unless `PGW_ENVIRONMENT=production`.",
    )
    dispatch_deadline_seconds: float = Field(
        20, gt=0, le=120, description="Time budget of one service request, retries and failover."
    )
    fan_out_deadline_seconds: float = Field(
        3, gt=0, le=60, description="How long quotes and station searches wait for slow partners."
    )
    idempotency_ttl_hours: float = Field(
        24, gt=0, le=168, description="How long an `Idempotency-Key` and its answer are kept."
    )
    masking_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="JSON object of master keys for pseudonyms and tokens by key id, each "
        'base64 of at least 32 bytes, e.g. `{"k1": "..."}`. Unset: a development key '
        "(refused in production).",
    )
    masking_active_key: str | None = Field(
        None, description="The key id new pseudonyms and tokens use (default: the only one)."
    )
    bronze_volume_cap_share: Decimal = Field(
        Decimal("0.25"),
        gt=0,
        le=1,
        description="Largest share of a category's monthly orders a bronze partner gets when "
        "its agreement sets no `volume_cap_share`.",
    )
    sla_sweep_interval_seconds: float = Field(
        5, gt=0, le=3600, description="How often open SLA clocks past their deadline are breached."
    )
    burn_check_interval_seconds: float = Field(
        60, gt=0, le=3600, description="How often partners' error-budget burn rates are checked."
    )
    console_session_minutes: int = Field(
        480,
        ge=1,
        le=7 * 24 * 60,
        description="How long a console sign-in lasts; the session then ends and the manager "
        "signs in again.",
    )
    console_lockout_attempts: int = Field(
        5, ge=1, le=100, description="Wrong passwords in a row before a console account locks."
    )
    console_lockout_minutes: int = Field(
        15, ge=1, le=24 * 60, description="How long a locked console account stays locked."
    )
    scorecard_refresh_interval_seconds: float = Field(
        600,
        gt=0,
        le=86_400,
        description="How often the current month's provisional scorecards are recomputed "
        "and stored for the console.",
    )
    fee_accrual_interval_seconds: float = Field(
        3600,
        gt=0,
        le=86_400,
        description="How often the open months' platform and outcome base fees are written "
        "to the ledger (idempotent; closing a month writes them too).",
    )
    scorecard_min_ratings: int = Field(
        30,
        ge=1,
        le=100_000,
        description="Fewer ratings in a month than this, and the month's tier decision keeps "
        "the previous tier (provisional).",
    )
    courtesy_car_threshold_hours: float = Field(
        4, gt=0, le=720, description="Repairs estimated longer than this get a courtesy car."
    )
    consent_default_purposes: list[str] = Field(
        default_factory=lambda: [
            "courtesy_car_delivery",
            "insurance_quotation",
            "insurance_underwriting",
            "claims_handling",
            "charging_access",
            "membership_linking",
            "benefit_redemption",
            "points_exchange",
        ],
        description="JSON list of the purposes the OEM's service contract covers without an "
        "explicit consent (a customer may still withdraw each).",
    )
    relay_number_pool: str = Field(
        "17100000000-17100009999",
        description="Virtual numbers of the OEM's telephony provider that relay customers' "
        "phones: ranges `FIRST-LAST` and single numbers, comma-separated.",
    )

    @field_validator("consent_default_purposes")
    @classmethod
    def _known_purposes(cls, purposes: list[str]) -> list[str]:
        unknown = sorted(set(purposes) - {p.value for p in Purpose})
        if unknown:
            raise ValueError(f"unknown purpose(s) {', '.join(unknown)}")
        return list(dict.fromkeys(purposes))

    @field_validator("relay_number_pool")
    @classmethod
    def _valid_pool(cls, pool: str) -> str:
        parse_number_pool(pool)
        return pool

    @cached_property
    def effective_database_url(self) -> str:
        """The database URL in use: the configured one or the embedded SQLite file."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite+aiosqlite:///{(self.data_dir / 'gateway.db').resolve()}"

    @property
    def uses_embedded_database(self) -> bool:
        """True when running on the embedded SQLite default."""
        return self.effective_database_url.startswith("sqlite")

    @property
    def sandbox_enabled(self) -> bool:
        """Whether the sandbox partners are mounted and their development secrets used."""
        return self.sandbox if self.sandbox is not None else self.environment != "production"

    @property
    def uses_embedded_hot_state(self) -> bool:
        """True when hot state lives in this process instead of Redis."""
        return self.redis_url is None
