"""State that replicas share: the database (SQLite by default, PostgreSQL by
URL, schema made by the Alembic migrations) and the rate limit (Redis). Two
app objects over one database stand for two replicas behind a load balancer."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from kb import state
from kb.accounts import Accounts, Keys
from kb.logs import AuditLog, Feedback
from kb.registry import Registry
from settings import Settings
from tests.databases import postgres, redis_server
from web.policy import Policy
from web.ratelimit import RedisRateLimiter

PASSWORD = "replica-pass-1"


@pytest.fixture(scope="module")
def postgres_url():
    with postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    if request.param == "sqlite":
        return None
    url = request.getfixturevalue("postgres_url")
    # A fresh schema per test: drop what an earlier test made (migrations recreate it).
    engine = create_engine(url)
    with engine.begin() as db:
        state.metadata.drop_all(db)
        db.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    state.engine_for.cache_clear()
    return url


def replica(tmp_path, name: str, database_url: str | None) -> Settings:
    """One replica's settings: its own local folder, the shared database."""
    shared = {"database_url": database_url} if database_url else {"data_dir": tmp_path / "shared"}
    return Settings(model="fake-hashing-embedder", **{"data_dir": tmp_path / name, **shared})


def test_the_migrations_make_exactly_the_schema_the_code_uses(database, tmp_path):
    settings = replica(tmp_path, "a", database)
    engine = state.engine(settings)
    with engine.connect() as db:
        assert compare_metadata(MigrationContext.configure(db), state.metadata) == []
    state.migrate(engine)  # running again changes nothing


def test_replicas_share_sign_ins_keys_settings_feedback_and_audit(database, tmp_path):
    a, b = replica(tmp_path, "a", database), replica(tmp_path, "b", database)
    Accounts(a).add("alice", PASSWORD, groups=("staff",))
    Registry(a).create("policy", "政策文件", "users", ["@staff"])
    policy_a, policy_b = Policy(a, Registry(a)), Policy(b, Registry(b))
    cookie = policy_a.session_cookie(Accounts(a).get("alice"))
    on_b = policy_b.identify({"cookie": f"ghqa_session={cookie}"}, "10.0.0.7")
    assert on_b.name == "alice"
    assert [kb.id for kb in policy_b.readable(on_b)] == ["default", "policy"]
    _, token = Keys(a).create("policy", ["http://oa.example"])
    assert Keys(b).verify(token).kb == "policy"
    Feedback(a).add("policy", True, "问题", "问题", {"answer": "回答[1]"})
    assert Feedback(b).read("policy")[0]["answer"] == {"answer": "回答[1]"}
    AuditLog(b).add("alice", "新建密钥", "policy", "ok", key="k1")
    assert AuditLog(a).read()[0] == {**AuditLog(a).read()[0], "who": "alice", "key": "k1"}
    Registry(b).delete("policy")
    assert Feedback(a).read("policy") == [] and Keys(a).verify(token) is None


def test_legacy_feedback_files_move_into_the_database(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", model="fake-hashing-embedder")
    legacy = settings.legacy_feedback_path()
    legacy.parent.mkdir(parents=True)
    legacy.write_text(
        '{"time": "2026-01-01T00:00:00", "liked": true, "question": "旧问题", "searched": "旧问题",'
        ' "answer": {"answer": "旧回答"}}\n{"torn',
        encoding="utf-8",
    )
    feedback = Feedback(settings)
    assert feedback.import_jsonl(legacy, "default") == 1
    assert feedback.read("default")[0]["question"] == "旧问题"
    assert not legacy.exists() and legacy.with_suffix(".jsonl.imported").exists()
    assert feedback.import_jsonl(legacy, "default") == 0  # once only


def test_the_rate_limit_is_shared_by_replicas_through_redis():
    with redis_server() as url:
        a, b = RedisRateLimiter(url, 3), RedisRateLimiter(url, 3)
        assert [a.retry_after("ip:1"), b.retry_after("ip:1"), a.retry_after("ip:1")] == [0, 0, 0]
        assert 1 <= b.retry_after("ip:1") <= 60  # the fourth, on the other replica
        assert a.retry_after("ip:2") == 0  # other callers are counted apart
        assert a.reachable()
    # Redis gone: answering goes on (not limited), and health says so.
    assert a.retry_after("ip:1") == 0 and not a.reachable()
