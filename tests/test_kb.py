"""`python -m kb` and `python -m ingest --kb`: knowledge bases and accounts
from the server's shell, with the one-line errors users see."""

import pytest
from click.testing import CliRunner

from ingest.__main__ import main as ingest_main
from kb.__main__ import cli
from kb.accounts import Accounts
from kb.documents import Documents
from kb.registry import Registry
from settings import PROJECT_ROOT, Settings
from tests.documents import docx_bytes, pdf_bytes


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("GHQA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GHQA_MODEL_CACHE_DIR", str(PROJECT_ROOT / "data" / "models"))
    return Settings()


def run(command, *args, input=None, env=None):
    return CliRunner().invoke(command, list(args), input=input, env=env)


def test_create_list_rename_delete(env):
    created = run(
        cli, "create", "policy", "政策文件", "--visibility", "users", "--reader", "@staff"
    )
    assert created.exit_code == 0, created.output
    assert "已新建知识库 policy（政策文件，登录用户）" in created.output
    listed = run(cli, "list").output.splitlines()
    assert listed[0].startswith("default\t工会创新案例\t公开")
    assert listed[1] == "policy\t政策文件\t登录用户（读者：@staff）\t还没有索引"
    assert run(cli, "rename", "policy", "政策法规").exit_code == 0
    assert Registry(env).get("policy").title == "政策法规"
    again = run(cli, "create", "policy", "x")
    assert again.exit_code == 1 and again.output == "错误：知识库 policy 已经存在。\n"
    bad = run(cli, "create", "../x", "x")
    assert bad.exit_code == 1 and bad.output.startswith("错误：知识库标识 '../x' 无效")
    assert run(cli, "delete", "policy", "--yes").exit_code == 0
    assert [kb.id for kb in Registry(env).all()] == ["default"]
    default = run(cli, "delete", "default", "--yes")
    assert default.exit_code == 1 and "默认知识库不能删除" in default.output
    missing = run(cli, "rename", "nope", "x")
    assert missing.output.startswith("错误：没有标识为 'nope' 的知识库。")


def test_accounts_are_stored_with_argon2(env):
    added = run(cli, "user", "add", "alice", "--group", "staff", input="s3cret-pass\ns3cret-pass\n")
    assert added.exit_code == 0 and "已新建用户 alice" in added.output
    admin = run(cli, "user", "add", "root", "--admin", env={"GHQA_NEW_PASSWORD": "another-pass"})
    assert admin.exit_code == 0 and "已新建管理员 root" in admin.output
    short = run(cli, "user", "add", "eve", env={"GHQA_NEW_PASSWORD": "short"})
    assert short.exit_code == 1 and short.output == "错误：密码至少 8 个字符。\n"
    assert run(cli, "user", "list").output.splitlines() == [
        "alice\t用户\t组：staff",
        "root\t管理员\t组：—",
    ]
    accounts = Accounts(env)
    assert accounts.verify("alice", "s3cret-pass").groups == ("staff",)
    assert accounts.verify("alice", "wrong-pass") is None
    assert accounts.verify("nobody", "s3cret-pass") is None
    database = b"".join(p.read_bytes() for p in env.state_dir().glob("state.db*"))  # and its WAL
    assert b"$argon2id$" in database and b"s3cret-pass" not in database
    assert run(cli, "user", "delete", "alice").exit_code == 0
    assert accounts.get("alice") is None


def test_ingest_adds_files_to_a_knowledge_base(env, tmp_path):
    run(cli, "create", "cases", "案例")
    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "暖心驿站.docx").write_bytes(docx_bytes())
    (folder / "职工书屋.pdf").write_bytes(pdf_bytes())
    (folder / "伪装.pdf").write_bytes(b"MZ\x90\x00" + b"\0" * 100)
    first = run(ingest_main, str(folder), "--kb", "cases", "--quiet")
    assert first.exit_code == 0, first.output
    assert "警告：跳过 伪装.pdf：内容是可执行程序，不是文档，已拒绝。" in first.output
    assert "文件 2 个（新增 2" in first.output
    names = sorted(d.name for d in Documents(Registry(env)).list("cases"))
    assert names == ["暖心驿站.docx", "职工书屋.pdf"]
    again = run(ingest_main, str(folder / "暖心驿站.docx"), "--kb", "cases", "--quiet")
    assert again.exit_code == 0 and "索引已是最新" in again.output
    unknown = run(ingest_main, str(folder), "--kb", "nope", "--quiet")
    assert unknown.exit_code == 1 and unknown.output.startswith(
        "错误：没有标识为 'nope' 的知识库。"
    )
