"""`python -m kb`: knowledge bases and accounts, from the server's shell.

    python -m kb list
    python -m kb create ID TITLE [--visibility public|token|users] [--reader NAME|@GROUP ...]
    python -m kb rename ID NEW_TITLE
    python -m kb delete ID [--yes]
    python -m kb user add NAME [--admin] [--group G ...]      (asks for the password)
    python -m kb user list | user delete NAME | user password NAME

Documents are added with `python -m ingest PATH... --kb ID` or on the admin page.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from errors import GhqaError, exit_on_error
from index.storage import storage_for
from kb.accounts import Accounts
from kb.registry import VISIBILITIES, VISIBILITY_NAMES, Registry
from settings import load_settings


@click.group(help="管理知识库和账号。")
def cli() -> None:
    pass


@cli.command("list", help="列出知识库。")
@exit_on_error
def list_kbs() -> None:
    registry = Registry(load_settings())
    for kb in registry.all():
        try:
            counts = storage_for(registry.settings_for(kb.id)).read_manifest()["counts"]
            size = f"{counts['files']} 个文档，{counts['chunks']} 个段落"
        except GhqaError:
            size = "还没有索引"
        readers = f"（读者：{'、'.join(kb.readers)}）" if kb.readers else ""
        click.echo(f"{kb.id}\t{kb.title}\t{VISIBILITY_NAMES[kb.visibility]}{readers}\t{size}")


@cli.command(help="新建知识库。ID 用于网址和 API（小写字母、数字、-），TITLE 是显示的名称。")
@click.argument("kb_id")
@click.argument("title")
@click.option("--visibility", type=click.Choice(VISIBILITIES), default="public", show_default=True)
@click.option("--reader", "readers", multiple=True, help="可读的用户名或 @组名（可多次）")
@exit_on_error
def create(kb_id: str, title: str, visibility: str, readers: tuple[str, ...]) -> None:
    kb = Registry(load_settings()).create(kb_id, title, visibility, readers)
    click.echo(f"已新建知识库 {kb.id}（{kb.title}，{VISIBILITY_NAMES[kb.visibility]}）。")
    click.echo(f"添加文档：python -m ingest 文件或目录 --kb {kb.id}")


@cli.command(help="修改知识库的显示名称（ID 不变，已嵌入的小部件继续可用）。")
@click.argument("kb_id")
@click.argument("title")
@exit_on_error
def rename(kb_id: str, title: str) -> None:
    kb = Registry(load_settings()).update(kb_id, title=title)
    click.echo(f"知识库 {kb.id} 已改名为：{kb.title}")


@cli.command(help="删除知识库及其文档、索引、反馈和密钥。")
@click.argument("kb_id")
@click.option("--yes", is_flag=True, help="不再确认")
@exit_on_error
def delete(kb_id: str, yes: bool) -> None:
    registry = Registry(load_settings())
    kb = registry.get(kb_id)
    if not yes:
        click.confirm(f"删除知识库 {kb.id}（{kb.title}）及其全部文档？", abort=True)
    registry.delete(kb_id)
    click.echo(f"已删除知识库 {kb_id}。")


@cli.group(help="管理登录账号。")
def user() -> None:
    pass


@user.command("add", help="新建账号（密码用 Argon2 散列保存）。")
@click.argument("name")
@click.option("--admin", is_flag=True, help="管理员：可进入 /admin")
@click.option("--group", "groups", multiple=True, help="所属组（可多次）")
@click.password_option(envvar="GHQA_NEW_PASSWORD", help="密码（不给则提示输入）")
@exit_on_error
def add_user(name: str, admin: bool, groups: tuple[str, ...], password: str) -> None:
    account = Accounts(load_settings()).add(name, password, admin, groups)
    role = "管理员" if account.admin else "用户"
    click.echo(f"已新建{role} {account.name}。")


@user.command("list", help="列出账号。")
@exit_on_error
def list_users() -> None:
    for account in Accounts(load_settings()).all():
        groups = "、".join(account.groups) or "—"
        click.echo(f"{account.name}\t{'管理员' if account.admin else '用户'}\t组：{groups}")


@user.command("delete", help="删除账号（它的登录立即失效）。")
@click.argument("name")
@exit_on_error
def delete_user(name: str) -> None:
    Accounts(load_settings()).delete(name)
    click.echo(f"已删除账号 {name}。")


@user.command("password", help="重设密码。")
@click.argument("name")
@click.password_option(envvar="GHQA_NEW_PASSWORD", help="新密码（不给则提示输入）")
@exit_on_error
def set_password(name: str, password: str) -> None:
    Accounts(load_settings()).set_password(name, password)
    click.echo(f"已重设 {name} 的密码。")


if __name__ == "__main__":
    cli(prog_name=f"{Path(sys.executable).name} -m kb")
