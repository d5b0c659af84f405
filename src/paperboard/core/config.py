"""Settings: environment variables (``PAPERBOARD_*``) over an optional TOML file over defaults.

The TOML file is the one named by ``PAPERBOARD_CONFIG``, else ``paperboard.toml`` in the working
directory when it exists. Keys in the file are the setting names without the prefix, lower case
(``home = "/srv/paperboard"``).
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from paperboard.core.errors import ConfigError
from paperboard.core.files import atomic_write

ARXIV_MIN_DELAY = 3.0
"""arXiv's terms of use ask for at least three seconds between requests to its servers."""

_CATEGORY = r"[A-Za-z][A-Za-z-]*(?:\.[A-Za-z][A-Za-z-]*)?"
_RSS_CATEGORIES = re.compile(rf"{_CATEGORY}(?:\+{_CATEGORY})*")


def _config_file() -> Path | None:
    explicit = os.environ.get("PAPERBOARD_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"PAPERBOARD_CONFIG names {path}, which is not a readable file")
        return path
    local = Path("paperboard.toml")
    return local if local.is_file() else None


class Settings(BaseSettings):
    """Everything configurable about a paperboard deployment."""

    model_config = SettingsConfigDict(env_prefix="PAPERBOARD_", extra="ignore")

    home: Path = Field(Path("paperboard-data"), description="Data folder: database, indexes, logs.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default: SQLite file paperboard.db in the home folder."
    )
    arxiv_api_url: str = "https://export.arxiv.org/api/query"
    arxiv_oai_url: str = "https://oaipmh.arxiv.org/oai"
    arxiv_rss_url: str = Field(
        "https://rss.arxiv.org/rss",
        description="arXiv's announcement feeds; categories are appended: BASE/cs.LG+cs.CV.",
    )
    arxiv_pdf_url: str = Field(
        "https://arxiv.org/pdf",
        description="Where papers' PDFs are fetched for thumbnails: BASE/2503.11731.",
    )
    hf_api_url: str = "https://huggingface.co"
    arxiv_delay: float = Field(
        ARXIV_MIN_DELAY,
        ge=0,
        description="Seconds between requests to arXiv; never below 3 for arxiv.org hosts.",
    )
    http_timeout: float = Field(30.0, gt=0)
    http_retries: int = Field(5, ge=0, le=20)
    http_backoff: float = Field(
        2.0, ge=0, description="First retry pause in seconds; doubles with each retry."
    )
    http_retry_limit: float = Field(
        20.0,
        ge=0,
        le=3600,
        description="Seconds after which a request stops retrying, however many retries are left.",
    )
    contact_email: str | None = Field(
        None, description="Put in the User-Agent so arXiv can reach the operator."
    )
    batch_size: int = Field(2000, ge=1, le=100_000)
    embed_max_tokens: int = Field(
        128, ge=16, le=512, description="Word pieces of title + abstract the embedder reads."
    )
    facets: bool = Field(
        True,
        description="Tag abstract sentences as background, method or result and embed each facet, "
        "for similar papers in one facet (embedding then takes about 3.6 times as long).",
    )
    models_dir: Path | None = Field(
        None, description="Where built model files are cached; default: models/ in the home folder."
    )
    log_format: Literal["text", "json"] = Field(
        "text",
        description="text, or json: one JSON object per line (time, level, logger, message) on "
        "stderr and in the worker's log.",
    )

    # -- the site ---------------------------------------------------------------------------------
    base_url: str = Field(
        "http://127.0.0.1:8000",
        description="The site's public address, for links in feeds and e-mails; unset, "
        "`paperboard serve` uses the address it serves (--host, --port) and other commands the "
        "address last served from the same home.",
    )
    secret_key: str | None = Field(
        None,
        min_length=32,
        description="Signs reset links; default: a random key kept in HOME/secret_key (set one "
        "shared value when several app servers run).",
    )
    session_days: int = Field(30, ge=1, le=365, description="How long a sign-in lasts.")
    submit_daily_quota: int = Field(10, ge=0, description="Papers one member may submit per day.")
    submit_max_age_days: int = Field(
        30, ge=1, description="Oldest paper (by first arXiv version) a member may submit."
    )
    login_attempts: int = Field(
        5, ge=1, description="Failed sign-ins per address (and per client) allowed in 15 minutes."
    )
    page_cache_seconds: int = Field(
        30,
        ge=0,
        le=60,
        description="How long anonymous pages may be served from cache (at most 60).",
    )
    max_form_bytes: int = Field(64_000, ge=1024, description="Largest form or JSON body accepted.")
    thumbnails: bool = Field(
        False,
        description="Show each paper's first PDF page on cards (`paperboard thumbnails` makes "
        "them; it needs the network).",
    )
    webhook_allow_private: bool = Field(
        False,
        description="Let saved searches' webhooks post to loopback and private addresses.",
    )
    metrics_token: str | None = Field(
        None,
        description="When set, /metrics answers only requests with Authorization: Bearer TOKEN; "
        "unset, it is open (restrict it at the proxy).",
    )

    # -- mail (password resets, digests) -----------------------------------------------------------
    smtp_host: str | None = Field(None, description="SMTP server; unset: mail is not sent.")
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_security: str = Field("starttls", description="none, starttls or tls.")
    smtp_user: str | None = None
    smtp_password: str | None = None
    mail_from: str = Field(
        "paperboard <paperboard@localhost>", description="Sender of every e-mail."
    )
    mail_rate: float = Field(
        5.0, gt=0, le=1000, description="Digest messages sent per second, at most."
    )
    mail_max_bounces: int = Field(
        3,
        ge=1,
        le=100,
        description="Permanent failures (5xx) after which mail to an address stops.",
    )

    # -- the worker --------------------------------------------------------------------------------
    timezone: str = Field("UTC", description="Time zone of the schedule and of digest days.")
    digest_time: str = Field(
        "07:00", description="When digests go out each day (HH:MM, local time)."
    )
    weekly_digest_day: str = Field("monday", description="Day the weekly digest goes out.")
    ingest_every_minutes: int = Field(
        60, ge=5, le=1440, description="How often the worker ingests."
    )
    ingest_sources: list[str] = Field(
        default_factory=list,
        description='What the worker ingests: "hf" (today\'s daily papers), '
        '"arxiv:CATEGORY" (recent papers of a category), '
        '"oai:SET" (incremental OAI-PMH harvest), '
        '"rss:CAT+CAT" (the categories\' last arXiv announcement).',
    )
    worker_metrics_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="Port the worker serves Prometheus metrics on (all interfaces); unset: none.",
    )

    # -- several nodes ---------------------------------------------------------------------------
    replica_refresh_seconds: float = Field(
        10.0,
        ge=0,
        description="How often an app server copies new papers, vectors and the map from the "
        "database into its own indexes, in the background (0: never).",
    )
    node_name: str | None = Field(
        None,
        max_length=150,
        description="This process's name in leases and job runs; default: host name and "
        "process id.",
    )
    lease_seconds: int = Field(
        120,
        ge=10,
        le=3600,
        description="How long a worker's claim on a job lasts unless renewed: the job of a "
        "worker that died is taken over by another after this.",
    )

    @property
    def node(self) -> str:
        """This process in leases and job runs: ``PAPERBOARD_NODE_NAME`` or host and pid."""
        return f"{self.node_name or socket.gethostname()}:{os.getpid()}"

    @field_validator(
        "arxiv_api_url", "arxiv_oai_url", "arxiv_rss_url", "arxiv_pdf_url", "hf_api_url"
    )
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return value.rstrip("/")

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return value.rstrip("/")

    @field_validator("smtp_security")
    @classmethod
    def _smtp_security(cls, value: str) -> str:
        if value not in ("none", "starttls", "tls"):
            raise ValueError(f"must be none, starttls or tls, got {value!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"not a time zone, got {value!r} (use e.g. Europe/Paris)") from None
        return value

    @field_validator("digest_time")
    @classmethod
    def _digest_time(cls, value: str) -> str:
        import re

        match = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip())
        if not match or int(match[1]) > 23 or int(match[2]) > 59:
            raise ValueError(f"must be HH:MM, got {value!r}")
        return f"{int(match[1]):02d}:{match[2]}"

    @field_validator("weekly_digest_day")
    @classmethod
    def _weekday(cls, value: str) -> str:
        days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        if value.strip().lower() not in days:
            raise ValueError(f"must be a day of the week, got {value!r}")
        return value.strip().lower()

    @field_validator("ingest_sources")
    @classmethod
    def _sources(cls, value: list[str]) -> list[str]:
        for item in value:
            kind = item.split(":", 1)[0]
            if kind not in ("hf", "arxiv", "oai", "rss") or (kind != "hf" and ":" not in item):
                raise ValueError(
                    f"unknown source {item!r}: use hf, arxiv:CATEGORY, oai:SET or rss:CAT+CAT"
                )
            if kind == "rss" and not _RSS_CATEGORIES.fullmatch(item[4:]):
                raise ValueError(f"bad source {item!r}: use arXiv categories, e.g. rss:cs.LG+cs.CV")
        return value

    @field_validator("mail_from")
    @classmethod
    def _mail_from(cls, value: str) -> str:
        from email.utils import parseaddr

        if "@" not in parseaddr(value)[1]:
            raise ValueError(f"must be an e-mail address, got {value!r}")
        return value

    @field_validator("worker_metrics_port", "metrics_token", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError(
                "must start with sqlite:/// or postgresql+psycopg://, got "
                + repr(value.split(":")[0])
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
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_file()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @property
    def db_url(self) -> str:
        """The database URL in force (the default SQLite file when none is set)."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'paperboard.db').resolve()}"

    @property
    def signing_key(self) -> str:
        """``secret_key``, or the one kept in HOME/secret_key (made on first use, mode 0600)."""
        if self.secret_key:
            return self.secret_key
        return _stored_key(self.home.resolve())

    @property
    def model_cache(self) -> Path:
        return self.models_dir or self.home / "models"

    @property
    def thumbnail_dir(self) -> Path:
        return self.home / "thumbnails"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def served_url_file(self) -> Path:
        """Where ``paperboard serve`` notes the address it serves, for the other commands."""
        return self.home / "served-url"

    def arxiv_delay_for(self, url: str) -> float:
        """The pause between requests to ``url``: arXiv's own hosts never get less than 3 s."""
        host = urlsplit(url).hostname or ""
        if host == "arxiv.org" or host.endswith(".arxiv.org"):
            return max(self.arxiv_delay, ARXIV_MIN_DELAY)
        return self.arxiv_delay

    @property
    def user_agent(self) -> str:
        from paperboard import __version__

        contact = f"; mailto:{self.contact_email}" if self.contact_email else ""
        return f"paperboard/{__version__} (+https://github.com/paperboard/paperboard{contact})"


@lru_cache(maxsize=8)
def _stored_key(home: Path) -> str:
    """HOME/secret_key, made on first use and read once per process (every form check needs it)."""
    import secrets

    path = home / "secret_key"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        # The first of several workers to get here wins; the others read its key.
        with contextlib.suppress(FileExistsError):
            atomic_write(path, secrets.token_urlsafe(48), mode=0o600, exclusive=True)
    return path.read_text().strip()


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    name = "PAPERBOARD_" + "_".join(str(p) for p in first["loc"]).upper()
    value = first.get("input")
    shown = "" if isinstance(value, dict) else f" (got {value!r})"
    return f"invalid setting {name}: {first['msg']}{shown}"


def _describe_parse(error: SettingsError) -> str:
    # pydantic-settings names the field in its message: 'error parsing value for field "x" ...'.
    match = re.search(r'field "(\w+)"', str(error))
    if match is None:
        return f"invalid setting: {error}"
    name = "PAPERBOARD_" + match[1].upper()
    return f'invalid setting {name}: must be JSON, e.g. ["hf", "arxiv:cs.LG"] for a list'


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning any validation problem into a one-line :class:`ConfigError`."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise ConfigError(_describe(error)) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file is not valid TOML: {error}") from None
    except UnicodeDecodeError:
        raise ConfigError(
            f"config file {_config_file()} is not a TOML text file (it is not UTF-8)"
        ) from None
    except OSError as error:
        raise ConfigError(
            f"config file {error.filename} cannot be read: {error.strerror}"
        ) from None
    except SettingsError as error:
        raise ConfigError(_describe_parse(error)) from None


def remember_served_url(settings: Settings, url: str) -> None:
    """Note the address ``paperboard serve`` serves, so that mail and feeds made by other
    commands (``digest send``, the worker, ``mcp``) link to it while no base URL is set."""
    with contextlib.suppress(OSError):  # a read-only home only loses the convenience
        atomic_write(settings.served_url_file, url + "\n", fsync=False)


def with_served_url(settings: Settings) -> Settings:
    """``settings`` with the address last served as the base URL when none is set."""
    if "base_url" in settings.model_fields_set:
        return settings
    try:
        url = settings.served_url_file.read_text("utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return settings
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return settings  # not ours: ignored, as if absent
    return settings.model_copy(update={"base_url": url.rstrip("/")})


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings, read once."""
    return load_settings()
