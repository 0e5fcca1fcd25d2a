"""notification-service settings, read once from the environment."""

from dataclasses import dataclass
from email.utils import parseaddr
from urllib.parse import unquote, urlsplit

from flask import current_app

from flotilla import faults
from flotilla.auth import TokenSettings
from flotilla.broker import BrokerSettings
from flotilla.config import ConfigError, Env, database_url

DEV_SMTP_URL = "smtp://maildev:1025"
# scheme -> (how the connection is secured, default port)
SMTP_SCHEMES = {"smtp": ("none", 25), "smtp+starttls": ("starttls", 587), "smtps": ("tls", 465)}


@dataclass(frozen=True)
class SmtpSettings:
    """Where mail goes: SMTP_URL, e.g. smtps://user:password@smtp.example.com:465."""

    host: str
    port: int
    security: str  # "none", "starttls" or "tls"
    username: str
    password: str
    timeout_seconds: float

    @classmethod
    def from_env(cls, env: Env) -> "SmtpSettings":
        """Read SMTP_URL (or the file SMTP_URL_FILE: it may hold a password)."""
        raw = env.secret("SMTP_URL", DEV_SMTP_URL)
        try:
            url = urlsplit(raw)
            port = url.port
        except ValueError:
            raise ConfigError("SMTP_URL is not a valid URL") from None
        if url.scheme not in SMTP_SCHEMES or not url.hostname:
            raise ConfigError(f"SMTP_URL must look like {' or '.join(SMTP_SCHEMES)}://host:port")
        security, default_port = SMTP_SCHEMES[url.scheme]
        if env.production and url.password and security == "none":
            raise ConfigError("SMTP_URL with a password must use smtps:// or smtp+starttls://")
        return cls(
            host=url.hostname,
            port=port or default_port,
            security=security,
            username=unquote(url.username or ""),
            password=unquote(url.password or ""),
            timeout_seconds=env.number("SMTP_TIMEOUT_SECONDS", 10.0),
        )


@dataclass(frozen=True)
class Config:
    """Everything notification-service needs to start."""

    log_level: str
    tokens: TokenSettings
    database_url: str
    broker: BrokerSettings
    smtp: SmtpSettings
    mail_from: str
    mail_first_retry_seconds: float
    mail_max_retry_seconds: float
    mail_give_up_hours: float
    fault_injection: bool = False  # tests only (flotilla.faults)

    @classmethod
    def from_env(cls, env: Env | None = None) -> "Config":
        """Read the settings; raise ConfigError when one cannot work."""
        env = env or Env()
        mail_from = env.get("MAIL_FROM", "Flotilla <no-reply@flotilla.local>")
        if "@" not in parseaddr(mail_from)[1] or "\n" in mail_from or "\r" in mail_from:
            raise ConfigError(f"MAIL_FROM must be an address, got {mail_from!r}")
        return cls(
            log_level=env.get("LOG_LEVEL", "INFO"),
            tokens=TokenSettings.from_env(env),
            database_url=database_url(env, default_name="notifications"),
            broker=BrokerSettings.from_env(env),
            smtp=SmtpSettings.from_env(env),
            mail_from=mail_from,
            # An SMTP outage delays mail: retried with backoff, given up only after hours.
            mail_first_retry_seconds=env.number("MAIL_FIRST_RETRY_SECONDS", 5.0),
            mail_max_retry_seconds=env.number("MAIL_MAX_RETRY_SECONDS", 600.0),
            mail_give_up_hours=env.number("MAIL_GIVE_UP_HOURS", 24.0),
            fault_injection=faults.enabled(env),
        )


def settings() -> Config:
    """Return the current app's settings."""
    return current_app.config["SETTINGS"]
