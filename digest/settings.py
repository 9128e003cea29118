"""Typed settings read from DIGEST_* environment variables and a `.env` file.

The environment is flat (one DIGEST_* variable per field of `Settings`); each stage gets
only its own typed part of it (`settings.ranking`, `.email`, `.sources`, `.delivery`,
`.web`), built here and nowhere else. A setting's default is its `Settings` field, and only
that: the parts' fields have none. A part names a field as `Settings` does, less the prefix
of its group (`send_batch_size` is `delivery.batch_size`). Renamed variables stay accepted
under their old names for a release (RENAMED), each with one line of warning.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import SplitResult, urlsplit

from dotenv import dotenv_values
from pydantic import Field, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from digest.errors import ConfigError

log = logging.getLogger(__name__)

PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "dev", "development"}
SECRET_FILE_NAME = "digest.secret"

# The senders DIGEST_MAIL_URL may name (digest.mail.senders opens each), and whether a URL
# of that scheme says all its sender needs: the one list of them.
SENDER_SCHEMES: dict[str, Callable[[SplitResult], bool]] = {
    "smtp": lambda parts: bool(parts.hostname),
    "smtps": lambda parts: bool(parts.hostname),
    "file": lambda parts: bool(parts.path) and not parts.netloc,
    "console": lambda parts: True,
}


def sender_url_problem(url: str) -> str | None:
    """Why no sender can be opened from `url`, or None if one can."""
    parts = urlsplit(url)
    complete = SENDER_SCHEMES.get(parts.scheme)
    if complete is not None and complete(parts):
        return None
    return (
        "must look like smtp://host:port or smtps://host:port (or file:///folder or "
        f"console: to keep mail on this machine), got {url!r}"
    )


@dataclass(frozen=True)
class TrendWeights:
    """The trend score's window, age gravity and the weight of each signal."""

    window_hours: float
    gravity: float
    velocity: float
    stars: float
    comments: float
    total: float


@dataclass(frozen=True)
class BlendSettings:
    """How a subscriber's edition mixes relevance, their ratings and what is trending."""

    relevance_weight: float
    feedback_weight: float
    trending_slots: int
    dense_weight: float  # share of the embedding cosine in relevance, when there is one
    learned_min_ratings: int  # ratings (one up at least) that train a subscriber's model
    community_weight: float  # what others who follow the same topics rated up (rank.community)


@dataclass(frozen=True)
class EmbeddingSettings:
    """The sentence-embedding model of semantic relevance (the `semantic` extra)."""

    model: str | None  # a name or a path; None: the packaged model; "off": none
    quantized: bool  # int8 Linear layers: 1.4-1.6x the speed, vectors of their own


@dataclass(frozen=True)
class RankingSettings:
    """Building the day's pool and picking each subscriber's edition from it."""

    trend: TrendWeights
    blend: BlendSettings
    pool_size: int  # papers frozen in a day's pool
    pool_days: int  # days of papers that compete for it
    near_duplicate_similarity: float
    skip_empty_days: bool  # no mail when nothing new matches a subscriber's follows
    near_duplicate_resemblance: float  # shared word pairs that make two papers one work
    near_duplicate_lookback_days: int  # days of earlier pools searched for copies
    embedding: EmbeddingSettings


@dataclass(frozen=True)
class EmailSettings:
    """What rendering needs: names and addresses, link signing, DKIM."""

    list_name: str
    from_address: str
    contact: str | None
    postal_address: str | None
    base_url: str
    secret_key: str
    confirm_max_age_hours: int
    unsubscribe_mailbox: str | None
    dkim_key_file: Path | None
    dkim_selector: str | None
    dkim_domain: str | None
    template_dir: Path | None
    return_path: str | None  # VERP base: bounces come back to a signed variant of it
    show_thumbnails: bool  # the source's paper thumbnail in the digest (an image load)
    missed_papers_reminder: bool  # the weekly "papers you missed" email (beat sends it)

    @property
    def sender_domain(self) -> str:
        return self.from_address.rsplit("@", 1)[-1].strip(" >")

    @property
    def list_id(self) -> str:
        return f"{self.list_name} <digest.{self.sender_domain}>"


@dataclass(frozen=True)
class SourceSettings:
    """Where the paper sources are and how politely they are asked."""

    hf_api_url: str
    hf_token: str | None
    hf_page_size: int
    arxiv_api_url: str
    arxiv_rss_url: str
    arxiv_page_size: int
    arxiv_interval_seconds: float
    arxiv_lock_url: str  # Redis holding the lock that spaces arXiv requests across workers
    arxiv_default_categories: tuple[str, ...]
    user_agent_contact: str | None
    user_agent_url: str
    timeout_seconds: float
    retries: int
    backoff_seconds: float
    max_retry_after_seconds: float
    max_bytes: int


@dataclass(frozen=True)
class DeliverySettings:
    """How editions are sent: where mail goes, batches, leases, the shared rate, retries."""

    mail_url: str
    batch_size: int
    send_window: int
    rate_per_second: float
    rate_limit_redis_url: str
    lease_seconds: int
    retry_base_seconds: float
    retry_max_seconds: float
    give_up_hours: float
    journal_path: Path


@dataclass(frozen=True)
class AdminSettings:
    """The operator dashboard at /admin: who may log in, and how many wrong tries."""

    user: str
    password_hash: str | None  # None: no dashboard
    attempts_per_client: int
    attempts_window_seconds: int


@dataclass(frozen=True)
class WebSettings:
    """The pages: links and their tokens, defaults for new subscribers, the abuse limits."""

    base_url: str
    list_name: str
    secret_key: str  # signs and reads every token in links
    confirm_max_age_hours: int
    task_queue: str  # also keeps two instances' request counters apart in one Redis
    webhook_secret: str | None  # None: no bounce webhook
    admin: AdminSettings
    default_timezone: str
    default_send_hour: int
    archive_papers: int
    rate_limit_redis_url: str
    subscribe_limit_per_ip: int
    subscribe_limit_per_address: int
    rate_limit_window_seconds: int
    seed_papers_max: int  # papers a subscriber may give as ones they like
    seed_upload_max_bytes: int  # one BibTeX / RIS / CSL-JSON upload


class Settings(BaseSettings):
    """Everything an operator can configure; docs/configuration.md lists every field."""

    model_config = SettingsConfigDict(
        env_prefix="DIGEST_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = "sqlite:///digest.db"
    broker_url: str = "redis://localhost:6379/0"
    # Where mail goes: an SMTP server, or a folder or the console (so not "SMTP_URL").
    mail_url: str = "smtp://localhost:1025"
    env: Literal["development", "production"] = "development"
    secret_key: str = ""
    base_url: str = "http://localhost:8000"
    from_address: str = Field(
        default="Trending Papers <digest@localhost>", validation_alias="DIGEST_FROM"
    )
    hf_api_url: str = "https://huggingface.co"
    hf_token: str | None = None
    arxiv_api_url: str = "https://export.arxiv.org"
    arxiv_rss_url: str = "https://rss.arxiv.org"
    contact: str | None = None

    task_queue: str = "digest"

    # Ranking (docs/ranking.md has the formula).
    trend_window_hours: float = Field(default=24.0, gt=0)
    trend_gravity: float = Field(default=1.8, ge=0)
    trend_weight_velocity: float = Field(default=1.0, ge=0)
    trend_weight_stars: float = Field(default=1.0, ge=0)
    trend_weight_comments: float = Field(default=2.0, ge=0)
    trend_weight_total: float = Field(default=0.25, ge=0)
    pool_size: int = Field(default=500, ge=1, le=20000)
    relevance_weight: float = Field(default=0.9, ge=0, le=1)
    feedback_weight: float = Field(default=0.5, ge=0)
    trending_slots: int = Field(default=3, ge=0, le=100)
    dense_weight: float = Field(default=0.5, ge=0, le=1)
    learned_min_ratings: int = Field(default=3, ge=0)
    community_weight: float = Field(default=0.25, ge=0)
    near_duplicate_similarity: float = Field(default=0.85, gt=0, le=1)
    near_duplicate_resemblance: float = Field(default=0.5, gt=0, le=1)
    near_duplicate_lookback_days: int = Field(default=90, ge=0, le=3660)
    skip_empty_days: bool = True
    # Semantic relevance (the `semantic` extra): a sentence-transformers name or path; unset,
    # the model packaged on PyPI; "off" ranks with tf-idf only.
    embedding_model: str | None = None
    embedding_quantized: bool = True  # int8 dynamic quantization of the model's Linear layers
    list_name: str = "Trending Papers"
    archive_papers: int = Field(default=10, ge=1, le=100)  # on each day's public web copy
    pool_days: int = Field(default=7, ge=1, le=60)
    default_timezone: str = "UTC"
    default_send_hour: int = Field(default=7, ge=0, le=23)
    fetch_interval_minutes: int = Field(default=60, ge=1)
    plan_interval_minutes: int = Field(default=5, ge=1)
    http_timeout_seconds: float = Field(default=20.0, gt=0)
    confirm_max_age_hours: int = Field(default=48, ge=1)

    # Deliverability: DKIM signing in the app, the mailto: unsubscribe, the footer's postal line.
    dkim_key_file: Path | None = None
    dkim_selector: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
    dkim_domain: str | None = Field(default=None, pattern=r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
    unsubscribe_mailbox: str | None = Field(
        default=None, pattern=r"^[^\s<>@,;:\"?]+@[^\s<>@,;:\"?]+$"
    )
    return_path: str | None = Field(default=None, pattern=r"^[^\s<>@,;:\"?+=]+@[^\s<>@,;:\"?]+$")
    dns_resolver: str | None = None  # host[:port] `digest doctor` asks; None: the system's
    postal_address: str | None = Field(default=None, max_length=300)
    template_dir: Path | None = None  # templates here take precedence over the built-in ones
    email_thumbnails: bool = False
    # The weekly "papers you missed" email to subscribers no digest reached for a week.
    missed_papers_reminder: bool = False

    # Ingestion: polite HTTP, paging, and arXiv's one-request-every-3-seconds rule.
    http_retries: int = Field(default=3, ge=0, le=10)
    http_backoff_seconds: float = Field(default=1.0, ge=0)
    http_max_retry_after_seconds: float = Field(default=300.0, ge=0)
    http_max_bytes: int = Field(default=20_000_000, ge=1024)
    hf_page_size: int = Field(default=100, ge=1, le=100)
    arxiv_page_size: int = Field(default=200, ge=1, le=2000)
    arxiv_interval_seconds: float = Field(default=3.0, ge=0)
    arxiv_lock_url: str | None = None  # Redis for the shared arXiv lock; default broker_url
    arxiv_default_categories: str = "cs.AI,cs.CL,cs.CV,cs.LG"

    # Delivery: batches, the shared send rate, retries, leases, bounce intake.
    send_batch_size: int = Field(default=100, ge=1, le=5000)
    send_window: int = Field(default=8, ge=1, le=100)  # messages sent between two marks
    send_rate_per_second: float = Field(default=0.0, ge=0)  # across all workers; 0: no limit
    send_lease_seconds: int = Field(default=600, ge=5)
    retry_base_seconds: float = Field(default=60.0, ge=0)
    retry_max_seconds: float = Field(default=3600.0, ge=0)
    give_up_hours: float = Field(default=24.0, gt=0)
    outbox_sweep_seconds: float = Field(default=60.0, ge=1)  # retries of subscriber emails
    send_journal: Path = Path("digest-send-journal.jsonl")  # marks kept through a DB outage
    bounce_maildir: Path | None = None
    unsubscribe_maildir: Path | None = None  # mail sent to DIGEST_UNSUBSCRIBE_MAILBOX lands here
    webhook_secret: str | None = Field(default=None, min_length=16)

    # Web abuse limits: POST /subscribe counters kept in Redis, shared by every web process.
    redis_url: str | None = None  # None: the broker URL
    subscribe_limit_per_ip: int = Field(default=30, ge=1)
    subscribe_limit_per_address: int = Field(default=5, ge=1)
    rate_limit_window_seconds: int = Field(default=3600, ge=1)
    # Seed papers: how many a subscriber may keep, and the largest file they may upload.
    seed_papers_max: int = Field(default=200, ge=1, le=1000)
    seed_upload_max_bytes: int = Field(default=1_048_576, ge=1024, le=50_000_000)

    # The operator dashboard at /admin: absent unless a password hash is set.
    admin_user: str = Field(default="admin", min_length=1, max_length=100)
    admin_password_hash: str | None = None  # `digest admin hash-password` prints one
    admin_attempts_per_client: int = Field(default=10, ge=1)  # wrong logins per window
    admin_attempts_window_seconds: int = Field(default=300, ge=1)

    @property
    def rate_limit_redis_url(self) -> str:
        return self.redis_url or self.broker_url

    @field_validator("base_url", "hf_api_url", "arxiv_api_url", "arxiv_rss_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        # Checked here, before a secret file is written or an engine looks for a driver.
        backend = value.split(":", 1)[0].split("+", 1)[0]
        if ":" in value and backend not in ("sqlite", "postgresql"):
            raise ValueError(
                f"{backend} is not supported; use sqlite:///PATH or postgresql+psycopg://…"
            )
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # After the current names, so that a current name set beside an old one wins.
        old_names = OldNames(settings_cls)
        return init_settings, env_settings, dotenv_settings, old_names, file_secret_settings

    @field_validator("mail_url")
    @classmethod
    def _mail_url(cls, value: str) -> str:
        problem = sender_url_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _production_needs_real_values(self) -> Settings:
        if self.env == "production":
            if self.secret_key.strip().lower() in PLACEHOLDER_SECRETS or len(self.secret_key) < 32:
                raise ValueError(
                    "DIGEST_SECRET_KEY must be set to a random value of at least 32 characters "
                    "in production (python -c 'import secrets; print(secrets.token_urlsafe(48))')"
                )
            if not self.contact:
                raise ValueError("DIGEST_CONTACT must be set in production")
        return self

    @property
    def sender_domain(self) -> str:
        return self.email.sender_domain

    @property
    def list_id(self) -> str:
        return self.email.list_id

    @property
    def ranking(self) -> RankingSettings:
        return RankingSettings(
            trend=TrendWeights(
                window_hours=self.trend_window_hours,
                gravity=self.trend_gravity,
                velocity=self.trend_weight_velocity,
                stars=self.trend_weight_stars,
                comments=self.trend_weight_comments,
                total=self.trend_weight_total,
            ),
            blend=BlendSettings(
                relevance_weight=self.relevance_weight,
                feedback_weight=self.feedback_weight,
                trending_slots=self.trending_slots,
                dense_weight=self.dense_weight,
                learned_min_ratings=self.learned_min_ratings,
                community_weight=self.community_weight,
            ),
            pool_size=self.pool_size,
            pool_days=self.pool_days,
            near_duplicate_similarity=self.near_duplicate_similarity,
            skip_empty_days=self.skip_empty_days,
            near_duplicate_resemblance=self.near_duplicate_resemblance,
            near_duplicate_lookback_days=self.near_duplicate_lookback_days,
            embedding=EmbeddingSettings(
                model=self.embedding_model, quantized=self.embedding_quantized
            ),
        )

    @property
    def email(self) -> EmailSettings:
        return EmailSettings(
            list_name=self.list_name,
            from_address=self.from_address,
            contact=self.contact,
            postal_address=self.postal_address,
            base_url=self.base_url,
            secret_key=self.secret_key,
            confirm_max_age_hours=self.confirm_max_age_hours,
            unsubscribe_mailbox=self.unsubscribe_mailbox,
            dkim_key_file=self.dkim_key_file,
            dkim_selector=self.dkim_selector,
            dkim_domain=self.dkim_domain,
            template_dir=self.template_dir,
            return_path=self.return_path,
            show_thumbnails=self.email_thumbnails,
            missed_papers_reminder=self.missed_papers_reminder,
        )

    @property
    def sources(self) -> SourceSettings:
        return SourceSettings(
            hf_api_url=self.hf_api_url,
            hf_token=self.hf_token,
            hf_page_size=self.hf_page_size,
            arxiv_api_url=self.arxiv_api_url,
            arxiv_rss_url=self.arxiv_rss_url,
            arxiv_page_size=self.arxiv_page_size,
            arxiv_interval_seconds=self.arxiv_interval_seconds,
            arxiv_lock_url=self.arxiv_lock_url or self.broker_url,
            arxiv_default_categories=tuple(self.arxiv_default_categories.split(",")),
            user_agent_contact=self.contact,
            user_agent_url=self.base_url,
            timeout_seconds=self.http_timeout_seconds,
            retries=self.http_retries,
            backoff_seconds=self.http_backoff_seconds,
            max_retry_after_seconds=self.http_max_retry_after_seconds,
            max_bytes=self.http_max_bytes,
        )

    @property
    def delivery(self) -> DeliverySettings:
        return DeliverySettings(
            mail_url=self.mail_url,
            batch_size=self.send_batch_size,
            send_window=self.send_window,
            rate_per_second=self.send_rate_per_second,
            rate_limit_redis_url=self.rate_limit_redis_url,
            lease_seconds=self.send_lease_seconds,
            retry_base_seconds=self.retry_base_seconds,
            retry_max_seconds=self.retry_max_seconds,
            give_up_hours=self.give_up_hours,
            journal_path=self.send_journal,
        )

    @property
    def web(self) -> WebSettings:
        return WebSettings(
            base_url=self.base_url,
            list_name=self.list_name,
            secret_key=self.secret_key,
            confirm_max_age_hours=self.confirm_max_age_hours,
            task_queue=self.task_queue,
            webhook_secret=self.webhook_secret,
            admin=AdminSettings(
                user=self.admin_user,
                password_hash=self.admin_password_hash,
                attempts_per_client=self.admin_attempts_per_client,
                attempts_window_seconds=self.admin_attempts_window_seconds,
            ),
            default_timezone=self.default_timezone,
            default_send_hour=self.default_send_hour,
            archive_papers=self.archive_papers,
            rate_limit_redis_url=self.rate_limit_redis_url,
            subscribe_limit_per_ip=self.subscribe_limit_per_ip,
            subscribe_limit_per_address=self.subscribe_limit_per_address,
            rate_limit_window_seconds=self.rate_limit_window_seconds,
            seed_papers_max=self.seed_papers_max,
            seed_upload_max_bytes=self.seed_upload_max_bytes,
        )

    def secret_file(self) -> Path:
        """Where development keeps its generated key: beside the SQLite database."""
        if self.database_url.startswith("sqlite:///") and ":memory:" not in self.database_url:
            database = Path(self.database_url.removeprefix("sqlite:///"))
            return database.resolve().parent / SECRET_FILE_NAME
        return Path.cwd() / SECRET_FILE_NAME


def resolve_secret_key(settings: Settings, *, keep: bool = True) -> str:
    """The signing key: configured, or (development only) generated once and kept on disk;
    with `keep=False` a missing one is made for this process only and nothing is written."""
    if settings.secret_key:
        return settings.secret_key
    if settings.env == "production":  # the validator makes this unreachable; belt and braces
        raise ConfigError("DIGEST_SECRET_KEY is required in production")
    path = settings.secret_file()
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    key = secrets.token_urlsafe(48)
    if not keep:
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(key + "\n", encoding="utf-8")
    path.chmod(0o600)
    return key


def load_settings(*, keep_secret: bool = True) -> Settings:
    """Read settings, turning validation errors into one readable ConfigError; read-only
    commands pass `keep_secret=False` so that they leave no secret file behind."""
    from pydantic import ValidationError

    old_names = old_names_in_use(configured_names())
    for old, field in old_names.items():
        log.warning("%s is deprecated, use %s", old, env_name(field))
    try:
        settings = Settings()
    except ValidationError as exc:
        set_as = {field: old for old, field in old_names.items()}
        problems = "; ".join(_describe(err["loc"], err["msg"], set_as) for err in exc.errors())
        raise ConfigError(f"invalid configuration: {problems}") from None
    settings.secret_key = resolve_secret_key(settings, keep=keep_secret)
    return settings


def _describe(location: tuple[int | str, ...], message: str, set_as: Mapping[str, str]) -> str:
    """One problem, named by the variable the operator set (an old name if they used it)."""
    field = ".".join(str(part) for part in location)
    if not field:
        return f"settings: {message}"
    return f"{set_as.get(field) or env_name(field)}: {message}"


# Variables renamed so that each says what it is, old name → the field it sets. Accepted for
# a release, with one line of warning; where both names are set, the new one wins.
RENAMED = {
    "DIGEST_SMTP_URL": "mail_url",  # also names file:// and console: senders
    "DIGEST_CANDIDATE_POOL_SIZE": "pool_size",
    "DIGEST_CANDIDATE_DAYS": "pool_days",
    "DIGEST_EDITION_SIZE": "archive_papers",  # a subscriber's own number is a preference
}


def env_name(field: str) -> str:
    """The environment variable that sets `field` of Settings."""
    if field.startswith("DIGEST_"):  # a field read under a name of its own (DIGEST_FROM)
        return field
    alias = (
        Settings.model_fields[field].validation_alias if field in Settings.model_fields else None
    )
    return alias if isinstance(alias, str) else f"DIGEST_{field.upper()}"


def configured_names() -> dict[str, str]:
    """Every DIGEST_* variable set, upper-cased: the `.env` file's, then the environment's."""
    env_file = Settings.model_config.get("env_file")
    from_file = dotenv_values(env_file) if isinstance(env_file, str) else {}
    found = {**from_file, **os.environ}
    return {
        name.upper(): value
        for name, value in found.items()
        if value is not None and name.upper().startswith("DIGEST_")
    }


def old_names_in_use(configured: Mapping[str, str]) -> dict[str, str]:
    """Old name → field, for each old name set without its new name beside it."""
    return {
        old: field
        for old, field in RENAMED.items()
        if old in configured and env_name(field) not in configured
    }


class OldNames(PydanticBaseSettingsSource):
    """The values of renamed settings still set under their old names."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ reads them all at once

    def __call__(self) -> dict[str, Any]:
        configured = configured_names()
        return {field: configured[old] for old, field in old_names_in_use(configured).items()}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests clear the cache with get_settings.cache_clear())."""
    return load_settings()
