from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import InvalidInput
from core.settings import PLACEHOLDER_SECRET, load_settings


def test_environment_sections_and_nested_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SOC_ES_URL", "http://es.example:9200")
    monkeypatch.setenv("SOC_ES_HEAP", "2g")
    monkeypatch.setenv("SOC_API_IDLE_TIMEOUT_MINUTES", "7")
    monkeypatch.setenv("SOC_JAVA_HOME", "/opt/java")
    monkeypatch.setenv("SOC_DATA_DIR", str(tmp_path))
    s = load_settings()
    assert s.es.url == "http://es.example:9200"
    assert s.es.heap == "2g"
    assert s.api.idle_timeout_minutes == 7
    assert s.java_home_dir == Path("/opt/java")
    assert s.data_dir == tmp_path
    assert not s.managed_es


def test_yaml_file_with_env_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "soc.yml"
    cfg.write_text("index_prefix: qa\nes:\n  port: 9333\napi:\n  port: 8100\n")
    monkeypatch.setenv("SOC_API_PORT", "8200")
    s = load_settings(cfg)
    assert s.index_prefix == "qa"
    assert s.es.port == 9333
    assert s.api.port == 8200  # the environment wins over the file
    assert s.index("alerts") == "qa-alerts"
    assert s.es_url == "http://127.0.0.1:9333"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("es: {port: 1, port: 2}", "duplicate key"),
        ("es:\n  port: not-a-number\n", "es.port"),
        ("- just\n- a list\n", "mapping of sections"),
        ("es:\n  colour: blue\n", "colour"),
        ("es: [unclosed", "invalid YAML"),
    ],
)
def test_malformed_settings_file_is_one_clear_error(tmp_path: Path, text: str, needle: str) -> None:
    cfg = tmp_path / "bad.yml"
    cfg.write_text(text)
    with pytest.raises(InvalidInput) as err:
        load_settings(cfg)
    assert needle in err.value.message
    assert str(cfg) in err.value.message


def test_placeholder_secrets_refused_outside_demo(tmp_path: Path) -> None:
    s = load_settings(data_dir=tmp_path)
    assert s.api.secret_key.get_secret_value() == PLACEHOLDER_SECRET
    with pytest.raises(InvalidInput, match="SOC_API_SECRET_KEY"):
        s.check_secrets()
    load_settings(data_dir=tmp_path, demo=True).check_secrets()
    load_settings(data_dir=tmp_path, api={"secret_key": "k" * 40}, audit={"secret_key": "a" * 40}).check_secrets()


def test_masked_output_hides_secrets(tmp_path: Path) -> None:
    s = load_settings(data_dir=tmp_path, es={"password": "hunter2-secret"}, api={"secret_key": "topsecret" * 5})
    text = repr(s.masked())
    assert "hunter2-secret" not in text
    assert "topsecret" not in text
    assert s.masked()["es"]["password"] == "**********"


def test_several_es_urls_are_validated_split_and_redacted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SOC_ES_URL", " http://es1:9200, http://ops:pw-1234@es2:9200 ,http://es3:9201/")
    s = load_settings(data_dir=tmp_path)
    assert s.es_urls == ["http://es1:9200", "http://ops:pw-1234@es2:9200", "http://es3:9201/"]
    assert not s.managed_es
    shown = s.masked()["es"]["url"]
    assert shown == "http://es1:9200,http://******@es2:9200,http://es3:9201/"
    assert "pw-1234" not in repr(s.masked()) and "pw-1234" not in s.es_url_display


def test_es_urls_from_a_yaml_list(tmp_path: Path) -> None:
    cfg = tmp_path / "soc.yml"
    cfg.write_text("es:\n  url:\n    - http://a:9200\n    - http://b:9200\n")
    assert load_settings(cfg, data_dir=tmp_path).es_urls == ["http://a:9200", "http://b:9200"]


@pytest.mark.parametrize(("url", "needle"), [
    ("http://a:9200,es2:9200", "'es2:9200' is not an http(s)://host[:port] URL"),
    ("http://a:9200,ftp://b", "'ftp://b' is not"),
    ("http://a:99999", "'http://a:99999' is not"),
    ("http://a:9200,https://b:9200", "same scheme"),
    ("http://u:hunter2@a:9200,nonsense", "'nonsense' is not"),
])
def test_bad_es_urls_are_one_clear_error(tmp_path: Path, url: str, needle: str) -> None:
    with pytest.raises(InvalidInput, match="es.url") as err:
        load_settings(data_dir=tmp_path, es={"url": url})
    assert needle in err.value.message
    assert "hunter2" not in err.value.message
