"""notification-service's settings: SMTP_URL and MAIL_FROM are checked at start-up."""

import pytest

from flotilla.broker import BrokerSettings
from flotilla.config import ConfigError, Env
from notification_service.config import Config, SmtpSettings


@pytest.mark.parametrize(
    "url, expected",
    [
        ("smtp://maildev:1025", ("maildev", 1025, "none", "", "")),
        ("smtp://relay", ("relay", 25, "none", "", "")),
        (
            "smtp+starttls://u:p%40ss@mail.example.com",
            ("mail.example.com", 587, "starttls", "u", "p@ss"),
        ),
        ("smtps://u:p@mail.example.com", ("mail.example.com", 465, "tls", "u", "p")),
    ],
)
def test_smtp_url(url, expected):
    smtp = SmtpSettings.from_env(Env({"SMTP_URL": url}))
    assert (smtp.host, smtp.port, smtp.security, smtp.username, smtp.password) == expected


@pytest.mark.parametrize(
    "url", ["http://maildev:1025", "smtp://", "smtp://host:notaport", "maildev"]
)
def test_a_bad_smtp_url_stops_the_start(url):
    with pytest.raises(ConfigError, match="SMTP_URL"):
        SmtpSettings.from_env(Env({"SMTP_URL": url}))


@pytest.mark.parametrize(
    "url",
    [
        "",  # the development default (MailDev) is refused
        "smtp://maildev:1025",
        "smtp://user:password@relay.example.com:25",  # a password in the clear
    ],
)
def test_production_refuses_development_and_cleartext_smtp(url):
    with pytest.raises(ConfigError, match="SMTP_URL"):
        SmtpSettings.from_env(Env({"FLOTILLA_ENV": "production", "SMTP_URL": url}))


def test_production_takes_a_tls_relay():
    env = Env({"FLOTILLA_ENV": "production", "SMTP_URL": "smtps://u:secret@relay.example.com"})
    assert SmtpSettings.from_env(env).security == "tls"


@pytest.mark.parametrize("sender", ["nobody", "Flotilla <a@b.c>\r\nBcc: x@y.z"])
def test_a_bad_sender_stops_the_start(sender):
    with pytest.raises(ConfigError, match="MAIL_FROM"):
        Config.from_env(Env({"MAIL_FROM": sender}))


@pytest.mark.parametrize(
    "name, value",
    [
        ("RABBITMQ_PASSWORD", "rabbitmq-dev-password"),
        ("RABBITMQ_PASSWORD", "change-me"),
        ("RABBITMQ_PASSWORD", ""),
        ("SMTP_URL", "smtp://maildev:1025"),
    ],
)
def test_production_refuses_development_secrets_in_files(tmp_path, name, value):
    secret = tmp_path / name.lower()
    secret.write_text(f"{value}\n")
    env = Env({"FLOTILLA_ENV": "production", f"{name}_FILE": str(secret)})
    with pytest.raises(ConfigError, match=name):
        BrokerSettings.from_env(env) if name == "RABBITMQ_PASSWORD" else SmtpSettings.from_env(env)


def test_production_takes_real_secrets_from_files(tmp_path):
    (tmp_path / "password").write_text("a-real-rabbitmq-password\n")
    (tmp_path / "smtp").write_text("smtps://u:secret@relay.example.com\n")
    env = Env(
        {
            "FLOTILLA_ENV": "production",
            "RABBITMQ_PASSWORD_FILE": str(tmp_path / "password"),
            "SMTP_URL_FILE": str(tmp_path / "smtp"),
        }
    )
    assert ":a-real-rabbitmq-password@" in BrokerSettings.from_env(env).url
    assert SmtpSettings.from_env(env).host == "relay.example.com"
