"""`python -m index.prepare_model`: make sure the configured embedding model
can be loaded, converting the bundled default on first use."""

from __future__ import annotations

import click

from errors import exit_on_error
from index.embedder import load_embedder
from settings import load_settings


@click.command()
@exit_on_error
def main() -> None:
    embedder = load_embedder(load_settings())
    info = embedder.info
    click.echo(f"模型就绪：{info.id}（{info.dim} 维）")


if __name__ == "__main__":
    main()
