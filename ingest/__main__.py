"""`python -m ingest [PATH ...]`: build or update the index from a corpus.

Without --kb the index directory mirrors the given paths (default: the shipped
corpus into the default knowledge base). With --kb ID the files are checked as
uploads are and added to that knowledge base (one with the name of a document
already there replaces it), and its index is updated.

This entry point is the wiring edge: the ingest library itself knows nothing
of the index; here its output is handed to `index.build`.
"""

from __future__ import annotations

import getpass
import shlex
import sys
from pathlib import Path

import click

from errors import CorpusEmpty, exit_on_error
from index.build import BuildReport, update_index
from ingest.pipeline import collect_files
from kb.documents import Documents, accept
from kb.logs import AuditLog
from kb.registry import DEFAULT_KB, Registry
from settings import SHIPPED_CORPUS, load_settings


@click.command(
    help="读取语料文件（.txt/.md/.docx/.pdf/.html），建立或增量更新检索索引。"
    "不给路径时使用自带语料。"
)
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--index-dir", type=click.Path(path_type=Path), help="索引目录（默认 data/index）")
@click.option("--model", help="sentence-transformers 模型 id 或本地目录")
@click.option("--chunk-size", type=int, help="每段最多字符数")
@click.option("--chunk-overlap", type=int, help="相邻段落重叠字符数")
@click.option("--profile", help="对所有文件使用这个语料配置（默认按文件内容自动匹配；none 为关闭）")
@click.option("--kb", "kb_id", help="把文件加入这个知识库（python -m kb list 查看）")
@click.option("--rebuild", is_flag=True, help="忽略已有索引，全部重新嵌入")
@click.option("--quiet", is_flag=True, help="不显示进度条")
@exit_on_error
def main(
    paths: tuple[Path, ...],
    index_dir: Path | None,
    model: str | None,
    chunk_size: int | None,
    chunk_overlap: int | None,
    profile: str | None,
    kb_id: str | None,
    rebuild: bool,
    quiet: bool,
) -> None:
    if kb_id and kb_id != DEFAULT_KB:
        add_to_kb(kb_id, paths, model, chunk_size, chunk_overlap, profile)
        return
    settings = load_settings(
        index_dir=index_dir,
        model=model,
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        corpus_profile=profile,
    )
    report = BuildReport(settings.resolved_index_dir())
    try:
        update_index(
            settings,
            list(paths) or [SHIPPED_CORPUS],
            rebuild=rebuild,
            progress=not quiet,
            report=report,
        )
    except KeyboardInterrupt:
        saved = report.embedded + report.resumed
        again = shlex.join([Path(sys.executable).name, "-m", "ingest", *sys.argv[1:]])
        click.echo(
            f"\n已中断：已嵌入的 {saved} 个段落的向量已保存在 {report.checkpoint_dir}。"
            f"重新运行同一命令即可从中断处继续：{again}",
            err=True,
        )
        sys.exit(130)
    print_summary(report)


def add_to_kb(
    kb_id: str,
    paths: tuple[Path, ...],
    model: str | None,
    chunk_size: int | None,
    chunk_overlap: int | None,
    profile: str | None,
) -> None:
    settings = load_settings(
        model=model, chunk_size=chunk_size, chunk_overlap=chunk_overlap, corpus_profile=profile
    )
    registry = Registry(settings)
    registry.get(kb_id)
    if not paths:
        raise CorpusEmpty(f"请给出要加入知识库 {kb_id} 的文件或目录。")
    files = [(path.name, path.read_bytes()) for path in collect_files(list(paths))]
    uploads, problems = accept(files, settings.max_upload_bytes, settings.parse_timeout)
    for problem in problems:
        click.echo(f"警告：跳过 {problem}", err=True)
    if not uploads:
        raise CorpusEmpty("没有可加入的文件（原因见上）。")
    who = f"{getpass.getuser()}@cli"
    report = Documents(registry).change(kb_id, add=uploads, by=who)
    AuditLog(settings).add(who, "上传文档", kb_id, "ok", files=[u.name for u in uploads])
    print_summary(report)


def print_summary(report: BuildReport) -> None:
    for source, reason in report.skipped:
        click.echo(f"警告：跳过 {source}：{reason}", err=True)
    for source, profile, what in report.repairs:
        click.echo(f"修复（语料配置 {profile}）{Path(source).name}：{what}", err=True)
    if report.full_rebuild_reason:
        click.echo(f"说明：{report.full_rebuild_reason}", err=True)
    click.echo(
        f"文件 {report.files} 个（新增 {len(report.added)}，更新 {len(report.changed)}，"
        f"删除 {len(report.removed)}，未变 {len(report.unchanged)}，跳过 {len(report.skipped)}）；"
        f"案例 {report.cases} 个；段落 {report.chunks} 个"
        f"（新嵌入 {report.embedded}，复用 {report.reused}"
        + (f"，从中断处接续 {report.resumed}" if report.resumed else "")
        + "）"
    )
    if report.written:
        rate = f"，{report.embedded / report.seconds:.1f} 段/秒" if report.embedded else ""
        click.echo(
            f"索引已写入 {report.where}（用时 {report.seconds:.1f} 秒{rate}，"
            f"其中模型 {report.embed_seconds:.1f} 秒）"
        )
    else:
        click.echo(f"索引已是最新，无需更新：{report.where}")


if __name__ == "__main__":
    main(prog_name=f"{Path(sys.executable).name} -m ingest")
