"""The command lines as a user runs them: real processes, exact messages."""

import json
import os
import re
import subprocess
import sys

import pytest

from index.build import update_index
from settings import PROJECT_ROOT, SHIPPED_CORPUS
from tests.fakes import HashingEmbedder


def run(*args, env=None, cwd=PROJECT_ROOT):
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=600,
    )


def assert_one_line_error(result, message):
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [f"错误：{message}"]
    assert result.stdout == ""


def test_ingest_missing_path(tmp_path):
    result = run("ingest", str(tmp_path / "missing"), "--index-dir", str(tmp_path / "ix"))
    assert_one_line_error(result, f"找不到语料路径：{tmp_path / 'missing'}。请检查路径是否正确。")


def test_ingest_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run("ingest", str(tmp_path / "empty"), "--index-dir", str(tmp_path / "ix"))
    assert_one_line_error(
        result,
        f"语料路径中没有文件：{tmp_path / 'empty'}。请放入 .txt/.md/.docx/.pdf/.html 文件。",
    )


@pytest.mark.parametrize("question", ["", "   ", "\t\n", "\x07\x1b"])
def test_search_empty_question(question, tmp_path):
    result = run("index.search", question, "--index-dir", str(tmp_path))
    assert_one_line_error(result, "问题为空：请输入要查询的问题，例如：这项工作取得了哪些成效？")


def test_search_without_index(tmp_path):
    result = run("index.search", "问题", "--index-dir", str(tmp_path / "ix"))
    assert_one_line_error(
        result,
        f"{tmp_path / 'ix'} 中还没有索引。请先建索引：python -m ingest --index-dir {tmp_path / 'ix'}",
    )


def test_search_index_of_another_model(fake_settings):
    update_index(fake_settings, [SHIPPED_CORPUS], embedder=HashingEmbedder(), progress=False)
    index_dir = fake_settings.resolved_index_dir()
    result = run("index.search", "问题", "--index-dir", str(index_dir))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "的索引是用模型 fake-hashing-embedder 建的，当前配置的模型是" in result.stderr
    assert f"python -m ingest --index-dir {index_dir}" in result.stderr


def test_bad_setting_from_environment(tmp_path):
    result = run("index.search", "问题", env={"GHQA_CHUNK_SIZE": "abc"})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("错误：配置项 chunk_size（环境变量 GHQA_CHUNK_SIZE）无效：")


@pytest.mark.slow
def test_ingest_then_search_with_the_default_model(tmp_path):
    """The issue's acceptance check, as the README tells a user to run it."""
    env = {
        "GHQA_DATA_DIR": str(tmp_path),
        "GHQA_MODEL_CACHE_DIR": str(PROJECT_ROOT / "data" / "models"),
    }
    built = run("ingest", "--quiet", env=env)
    assert built.returncode == 0, built.stderr
    assert "案例 15 个" in built.stdout and "索引已写入" in built.stdout

    again = run("ingest", "--quiet", env=env)
    assert "索引已是最新，无需更新" in again.stdout and "新嵌入 0" in again.stdout

    found = run("index.search", "北京的双沟通一共开了多少场职工沟通会？", "--json", env=env)
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    assert len(hits) == 5
    assert {"text", "score", "organisation", "title", "document", "chunk_id"} <= set(hits[0])
    assert "37885" in hits[0]["text"]
    assert (hits[0]["organisation"], hits[0]["title"]) == (
        "北京市总工会",
        "深化“双沟通” 破解建会入会难题",
    )

    text = run("index.search", "江苏康乃馨服务站建了多少家", "-k", "2", "--mode", "dense", env=env)
    assert text.returncode == 0
    assert text.stdout.startswith("[1] ") and "江苏省总工会 · 实施康乃馨服务计划" in text.stdout


@pytest.mark.parametrize("option", ["--forward", "--scale", "--backend local --sizes"])
@pytest.mark.parametrize("value", ["1,x", "0", ","])
def test_bench_sizes_must_be_positive_numbers(option, value):
    """A mistyped list of sizes is a one-line usage error, before any model loads."""
    from click.testing import CliRunner

    from eval.bench import main

    result = CliRunner().invoke(main, [*option.split(), value])
    assert result.exit_code == 2, result.output
    assert "逗号分隔的正整数" in result.output and "Traceback" not in result.output


def test_readme_settings_table_states_the_defaults():
    """Every plain-number default in the README's settings table is the
    settings object's: a changed default must change the documentation too."""
    from settings import Settings

    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("| setting | env | flag | default |", 1)[1].split("\n\n", 1)[0]
    checked = 0
    for row in table.splitlines()[2:]:
        _, _, env, _, defaults, _ = (cell.strip() for cell in row.split("|"))
        names = re.findall(r"`GHQA_([A-Z0-9_]+)`", env)
        values = [v.strip() for v in defaults.split(" / ")]
        if len(names) != len(values):
            continue
        for name, value in zip(names, values, strict=True):
            if re.fullmatch(r"\d+(?:\.\d+)?", value):
                assert Settings.model_fields[name.lower()].default == float(value), name
                checked += 1
    assert checked >= 10
