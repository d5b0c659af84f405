"""Settings from the environment and a TOML file, with one-line errors for bad values."""

from pathlib import Path

import pytest

from paperboard.core.config import ARXIV_MIN_DELAY, load_settings
from paperboard.core.errors import ConfigError


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "PAPERBOARD_HOME",
        "PAPERBOARD_DATABASE_URL",
        "PAPERBOARD_ARXIV_API_URL",
        "PAPERBOARD_CONFIG",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.home == Path("paperboard-data")
    assert settings.db_url == f"sqlite:///{tmp_path / 'paperboard-data' / 'paperboard.db'}"
    assert settings.arxiv_api_url == "https://export.arxiv.org/api/query"
    assert settings.arxiv_oai_url == "https://oaipmh.arxiv.org/oai"
    assert settings.hf_api_url == "https://huggingface.co"


def test_environment_and_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text('home = "/srv/papers"\narxiv_api_url = "http://127.0.0.1:9/api/query"\n')
    monkeypatch.setenv("PAPERBOARD_CONFIG", str(config))
    monkeypatch.delenv("PAPERBOARD_HOME", raising=False)
    monkeypatch.setenv("PAPERBOARD_ARXIV_API_URL", "http://127.0.0.1:8/api/query")
    settings = load_settings()
    assert settings.home == Path("/srv/papers")  # from the file
    assert settings.arxiv_api_url == "http://127.0.0.1:8/api/query"  # environment wins


def test_arxiv_hosts_always_get_three_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERBOARD_ARXIV_DELAY", "0")
    settings = load_settings()
    assert settings.arxiv_delay_for("https://export.arxiv.org/api/query") == ARXIV_MIN_DELAY
    assert settings.arxiv_delay_for("https://oaipmh.arxiv.org/oai") == ARXIV_MIN_DELAY
    assert settings.arxiv_delay_for("http://127.0.0.1:8000/api/query") == 0


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("PAPERBOARD_HTTP_RETRIES", "many", "PAPERBOARD_HTTP_RETRIES"),
        ("PAPERBOARD_ARXIV_DELAY", "-1", "PAPERBOARD_ARXIV_DELAY"),
        ("PAPERBOARD_ARXIV_API_URL", "ftp://x", "PAPERBOARD_ARXIV_API_URL"),
        ("PAPERBOARD_DATABASE_URL", "mysql://x", "PAPERBOARD_DATABASE_URL"),
    ],
)
def test_bad_values_give_one_line(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, fragment: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert fragment in str(error.value) and "\n" not in str(error.value)


def test_bad_config_through_the_cli(cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PAPERBOARD_BATCH_SIZE", "0")
    result = cli("stats")
    assert result.exit_code == 2
    assert result.stderr.startswith("paperboard: error: invalid setting PAPERBOARD_BATCH_SIZE")
    monkeypatch.delenv("PAPERBOARD_BATCH_SIZE")
    broken = tmp_path / "broken.toml"
    broken.write_text("home = [unclosed\n")
    monkeypatch.setenv("PAPERBOARD_CONFIG", str(broken))
    result = cli("stats")
    assert result.exit_code == 2 and "not valid TOML" in result.stderr
    monkeypatch.setenv("PAPERBOARD_CONFIG", str(tmp_path / "missing.toml"))
    assert cli("stats").exit_code == 2


def test_unreachable_database_is_one_line(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERBOARD_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    result = cli("stats")
    assert result.exit_code == 1
    assert result.stderr.startswith("paperboard: error: cannot reach the database")
    assert result.stderr.count("\n") == 1
