"""The configuration file is checked key by key: a mistake is named, never guessed at."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from ronron import config


def _load(tmp_path: Path, toml: str, **env: str) -> config.Config:
    config_file = tmp_path / "ronron.toml"
    config_file.write_text(toml, encoding="utf-8")
    return config.load(
        {"RONRON_CONFIG": str(config_file), "RONRON_DATA_DIR": str(tmp_path / "data"), **env}
    )


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('debug = "false"\n', "debug"),
        ('debug = "maybe"\n', "debug"),
        ("debug = 1\n", "debug"),
        ('allowed_hosts = "localhost"\n', "allowed_hosts"),
        ("allowed_hosts = [1, 2]\n", "allowed_hosts"),
        ('hoster_name = ["a", "b"]\n', "hoster_name"),
        ('hoster_name = "Le PIC\\nX-Injected: 1"\n', "hoster_name"),
        ('hoster_name = "Le PIC\\r"\n', "hoster_name"),
        ('time_zone = "Europe/Paris\\u0000"\n', "time_zone"),
        ("secret_key = 42\n", "secret_key"),
        ("archive_retention_days = -1\n", "archive_retention_days"),
        ('archive_retention_days = "365"\n', "archive_retention_days"),
        ("archive_retention_days = true\n", "archive_retention_days"),
        ('[email]\nport = "abc"\n', "email.port"),
        ("[email]\nport = -25\n", "email.port"),
        ('[email]\nuse_tls = "yes"\n', "email.use_tls"),
        ("[email]\npassword = 1234\n", "email.password"),
        ("[dues]\ncall = 12\n", "dues.call"),
        ('[dues]\namount_association = "-30.00"\n', "dues.amount_association"),
        ("[dues]\namount_individual = -5\n", "dues.amount_individual"),
        ('[dues]\namount_individual = "dix"\n', "dues.amount_individual"),
        ('dues = "12-01"\n', "dues"),
        ("[secrets]\nmax_bytes = 10\n", "secrets.max_bytes"),
        ("[secrets]\nreveals_per_hour = 0\n", "secrets.reveals_per_hour"),
        ("[secrets]\ncredentials_link_days = 31\n", "secrets.credentials_link_days"),
        ('trusted_proxies = ["nginx"]\n', "trusted_proxies"),
    ],
)
def test_a_wrong_value_in_the_file_is_refused_and_named(
    tmp_path: Path, toml: str, key: str
) -> None:
    with pytest.raises(config.ConfigError) as caught:
        _load(tmp_path, toml)
    assert re.search(rf"(^|: ){re.escape(key)}: ", str(caught.value)), str(caught.value)


def test_real_toml_values_are_accepted(tmp_path: Path) -> None:
    loaded = _load(
        tmp_path,
        "debug = false\n"
        'allowed_hosts = ["ronron.example.org"]\n'
        "archive_retention_days = 0\n"
        "[dues]\namount_association = 25\namount_individual = 7.5\n"
        "[email]\nport = 587\nuse_tls = true\n",
    )
    assert loaded.debug is False
    assert loaded.allowed_hosts == ["ronron.example.org"]
    assert loaded.archive_retention_days == 0
    assert str(loaded.dues.amount_association) == "25"
    assert str(loaded.dues.amount_individual) == "7.5"
    assert loaded.email["port"] == 587 and loaded.email["use_tls"] is True


def test_debug_true_in_the_file(tmp_path: Path) -> None:
    assert _load(tmp_path, "debug = true\n").debug is True


def test_environment_is_read_as_the_type_of_the_default(tmp_path: Path) -> None:
    # The file's wrong type is reported as such, not as the variable's mistake.
    with pytest.raises(config.ConfigError, match=r"data_dir: expected a string"):
        _load(tmp_path, "data_dir = 5\n", RONRON_DATA_DIR=str(tmp_path / "data"))
    loaded = _load(tmp_path, "[email]\nport = 587\n", RONRON_EMAIL_PORT="2525")
    assert loaded.email["port"] == 2525
    with pytest.raises(config.ConfigError, match="RONRON_EMAIL_PORT"):
        _load(tmp_path, "", RONRON_EMAIL_PORT="abc")
    with pytest.raises(config.ConfigError, match="RONRON_DEBUG"):
        _load(tmp_path, "", RONRON_DEBUG="maybe")
    with pytest.raises(config.ConfigError, match="RONRON_HOSTER_NAME"):
        _load(tmp_path, "", RONRON_HOSTER_NAME="Le PIC\r\nX: 1")
    with pytest.raises(config.ConfigError, match="archive_retention_days"):
        _load(tmp_path, "", RONRON_ARCHIVE_RETENTION_DAYS="-3")


@pytest.mark.parametrize(
    ("call", "reminder", "cutoff", "call_date"),
    [
        ("12-01", "06-01", "09-01", date(2024, 12, 1)),  # Le PIC: after the cut-off, year before
        ("10-15", "06-01", "09-01", date(2024, 10, 15)),
        ("09-02", "06-01", "09-01", date(2024, 9, 2)),
        ("01-15", "03-01", "09-01", date(2025, 1, 15)),  # before the reminder, same year
        ("07-01", "08-01", "11-30", date(2025, 7, 1)),
    ],
)
def test_call_date_rule(
    tmp_path: Path, call: str, reminder: str, cutoff: str, call_date: date
) -> None:
    loaded = _load(
        tmp_path, f'[dues]\ncall = "{call}"\nreminder = "{reminder}"\ncutoff = "{cutoff}"\n'
    )
    assert loaded.dues.call_date(2025) == call_date
    assert loaded.dues.call_date(2025) < loaded.dues.reminder_date(2025)


@pytest.mark.parametrize(
    ("call", "reminder", "cutoff"),
    [
        ("07-01", "06-01", "09-01"),  # between reminder and cut-off: after the reminder
        ("06-01", "06-01", "09-01"),  # the same day as the reminder
        ("09-01", "06-01", "09-01"),  # on the cut-off day
        ("08-01", "06-01", "11-30"),  # the old guess (month after the reminder's) said Y-1
    ],
)
def test_a_call_that_would_not_precede_the_reminder_is_refused(
    tmp_path: Path, call: str, reminder: str, cutoff: str
) -> None:
    with pytest.raises(config.ConfigError, match=r"dues\.call"):
        _load(tmp_path, f'[dues]\ncall = "{call}"\nreminder = "{reminder}"\ncutoff = "{cutoff}"\n')


def test_repr_hides_secrets(tmp_path: Path) -> None:
    key = "0" * 43 + "="
    loaded = _load(
        tmp_path,
        'secret_key = "very-secret-key-1234"\n'
        f'credentials_key = "{key}"\n'
        'database_url = "postgres://ronron:db-pass-5678@localhost/ronron"\n'
        '[email]\npassword = "smtp-pass-9012"\n',
    )
    shown = repr(loaded)
    assert loaded.secret_key == "very-secret-key-1234"
    assert loaded.email["password"] == "smtp-pass-9012"
    for secret in ("very-secret-key-1234", key, "smtp-pass-9012", "db-pass-5678"):
        assert secret not in shown
    assert "hoster_name='Ronron'" in shown


def test_secrets_limits_and_trusted_proxies(tmp_path: Path) -> None:
    loaded = _load(
        tmp_path,
        "[secrets]\nmax_bytes = 4096\n",
        RONRON_SECRETS_CREATIONS_PER_HOUR="5",
        RONRON_TRUSTED_PROXIES="127.0.0.1, ::1",
    )
    assert loaded.secrets.max_bytes == 4096
    assert loaded.secrets.creations_per_hour == 5
    assert loaded.secrets.reveals_per_hour == 60
    assert loaded.trusted_proxies == ("127.0.0.1", "::1")
