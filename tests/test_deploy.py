"""deploy/: the compose file is valid Compose (checked against the Compose
specification's JSON schema, as vendored by check-jsonschema) and agrees with
the code it deploys. No container runtime here, so it is not started; the
replica test runs its parts (Milvus's protocol, PostgreSQL, Redis, nginx with
deploy/nginx.conf) on loopback instead."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from settings import PROJECT_ROOT, Settings

DEPLOY = PROJECT_ROOT / "deploy"


def validate(path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
         str(path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_compose_file_is_valid_compose():
    done = validate(DEPLOY / "compose.yaml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_validator_catches_a_broken_compose_file(tmp_path):
    text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    broken = tmp_path / "compose.yaml"
    broken.write_text(text.replace("    image: redis:7", "    imagee: redis:7"), encoding="utf-8")
    assert validate(broken).returncode != 0


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def test_the_replicas_are_configured_with_settings_that_exist(compose):
    services = compose["services"]
    assert {"milvus", "postgres", "redis", "app1", "app2", "nginx"} <= set(services)
    fields = {f"GHQA_{name.upper()}" for name in Settings.model_fields}
    for name in ("app1", "app2"):
        env = services[name]["environment"]
        assert set(env) <= fields, set(env) - fields
        assert env["GHQA_BACKEND"] == "milvus" and env["GHQA_MILVUS_URI"].endswith(":19530")
        assert env["GHQA_DATABASE_URL"].startswith("postgresql+psycopg://")
        nginx_ip = services["nginx"]["networks"]["ghqa"]["ipv4_address"]
        assert env["GHQA_TRUSTED_PROXIES"] == f"{nginx_ip}/32"
    # BM25 with a jieba analyser and hybrid search need Milvus 2.5 or later.
    version = re.search(r":v(\d+)\.(\d+)", services["milvus"]["image"])
    assert version and (int(version[1]), int(version[2])) >= (2, 5)


def test_nginx_balances_both_replicas_and_takes_the_largest_upload():
    conf = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    assert conf.count("server app1:7860") == conf.count("server app2:7860") == 2
    size = int(re.search(r"client_max_body_size (\d+)m;", conf)[1]) * 2**20
    assert size >= Settings().max_upload_request_bytes
