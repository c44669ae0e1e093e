"""``preflab arena``: serve a voting arena, load its content, export its votes, reset it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import click

from preflab.cli._common import console, handle_errors

DEFAULT_DB = "sqlite:///arena.sqlite"
_db_option = click.option(
    "--db", default=None, envvar="PREFLAB_ARENA_DB", show_envvar=True,
    help=f"SQLAlchemy URL: sqlite:///file.sqlite or postgresql://user@host/db [{DEFAULT_DB}].")


def demo_db() -> str:
    return "sqlite:///" + str(Path(tempfile.gettempdir()) / "preflab-arena-demo.sqlite")


@click.group("arena")
def arena() -> None:
    """Collect human preferences: a blind pairwise (or K-wise) voting web arena.

    \b
    Example:
      preflab arena serve --demo
      preflab arena load responses.parquet --db sqlite:///arena.sqlite
      preflab arena export -o votes.parquet --db sqlite:///arena.sqlite
    """


@arena.command("serve")
@_db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=int, help="Worker processes.")
@click.option("--demo", is_flag=True, help="Serve the bundled LLMFAO sample (loads it if needed).")
@click.option("--k", default=2, show_default=True, type=click.IntRange(2, 4),
              help="Responses per battle: 2 = A/B/tie/both bad; 3 or 4 = the voter orders them.")
@click.option("--matchmaking", type=click.Choice(["active", "uniform"]), default="active",
              show_default=True, help="How the next battle's models are chosen.")
@click.option("--admin-token", envvar="PREFLAB_ARENA_ADMIN_TOKEN", show_envvar=True,
              default=None, help="Bearer token for /admin/load, /admin/export, /admin/reset.")
@click.option("--rate-limit", default=30, show_default=True, type=int,
              help="Votes and new battles per minute per voter (0: no limit).")
@click.option("--rate-limit-ip", default=600, show_default=True, type=int,
              help="Votes and new battles per minute per client IP (0: no limit).")
@click.option("--image-root", "image_roots", multiple=True, type=click.Path(file_okay=False),
              help="Directory local images may be served from (repeatable).")
@click.option("--image-host", "image_hosts", multiple=True,
              help="Origin the server may fetch remote images from (proxied to voters through "
                   "opaque per-battle URLs), e.g. https://cdn.example.org.")
@click.option("--sqlite-synchronous", type=click.Choice(["FULL", "NORMAL"]), default="FULL",
              show_default=True, help="SQLite fsync policy (FULL: every vote survives power loss).")
@click.option("--bootstrap-rounds", default=200, show_default=True, type=int,
              help="Bootstrap rounds for the leaderboard's intervals.")
@click.option("--secure-cookies", is_flag=True, help="Mark cookies Secure and send HSTS (HTTPS).")
@click.option("--title", default="preflab arena", show_default=True, help="Page title.")
@click.option("--trusted-proxy", "trusted_proxies", multiple=True,
              help="Reverse-proxy IP whose X-Forwarded-For gives the client IP for rate limits "
                   "(repeatable).")
@click.option("--live", "live", type=click.Path(dir_okay=False), default=None,
              help="Live mode: voters type prompts, two models from this TOML file of "
                   "OpenAI-compatible endpoints answer, both answers stream in (format "
                   "below). Example: --live models.toml")
@handle_errors
def serve(db: str | None, host: str, port: int, workers: int, demo: bool, k: int,
          matchmaking: str, admin_token: str | None, rate_limit: int, rate_limit_ip: int,
          image_roots: tuple[str, ...], image_hosts: tuple[str, ...], sqlite_synchronous: str,
          bootstrap_rounds: int, secure_cookies: bool, title: str,
          trusted_proxies: tuple[str, ...], live: str | None) -> None:
    """Serve the arena: / to vote, /leaderboard for the live board.

    \b
    Live mode (--live models.toml): voters type a prompt, two models answer, both answers
    stream in, then the same blind vote. The models file (API keys come from the
    environment, never from the file; optional [live] section: timeout, max_prompt_chars,
    max_answer_chars, rate_limit, rate_limit_ip, max_concurrent, update_interval):
      [[model]]
      name = "llama-3.1-8b"
      base_url = "http://127.0.0.1:8001/v1"
      model = "meta-llama/Llama-3.1-8B-Instruct"
      api_key_env = ""
      params = { temperature = 0.7, max_tokens = 1024 }
      [[model]]
      name = "gpt-4o-mini"
      base_url = "https://api.openai.com/v1"
      model = "gpt-4o-mini"
      api_key_env = "OPENAI_API_KEY"

    \b
    Example:
      preflab arena serve --demo
      preflab arena serve --db postgresql://arena@localhost/arena --workers 2 --port 8080
      preflab arena serve --live models.toml --db sqlite:///live.sqlite
    """
    import uvicorn

    from preflab.arena._config import CONFIG_ENV, ArenaConfig
    from preflab.arena._store import Store
    from preflab.arena._tables import demo_responses, load_file

    url = db or (demo_db() if demo else DEFAULT_DB)
    if live is not None:  # check the models file (and its keys) before anything starts
        from preflab.arena._live_config import load_live_config
        live = str(Path(live).resolve())
        models = load_live_config(live).models
        console.print(f"live mode: {len(models)} models from {live}")
    config = ArenaConfig(
        db=url, k=k, matchmaking=matchmaking, admin_token=admin_token, rate_limit=rate_limit,
        rate_limit_ip=rate_limit_ip, image_roots=tuple(str(Path(r).resolve()) for r in image_roots),
        image_hosts=image_hosts, sqlite_synchronous=sqlite_synchronous,
        bootstrap_rounds=bootstrap_rounds, secure_cookies=secure_cookies, hsts=secure_cookies,
        title=title, live=live)
    store = Store(url, sqlite_synchronous=sqlite_synchronous)
    if demo and store.counts()["responses"] == 0:
        n = load_file(store, demo_responses())
        console.print(f"loaded {n} responses from the LLMFAO sample (CC BY 4.0, D. Ustalov)")
    store.dispose()
    os.environ[CONFIG_ENV] = config.to_json()
    console.print(f"arena on http://{host}:{port}/  (database {url})")
    uvicorn.run("preflab.arena._app:app_from_env", factory=True, host=host, port=port,
                workers=workers, log_level="warning", access_log=False,
                proxy_headers=bool(trusted_proxies),
                forwarded_allow_ips=",".join(trusted_proxies) or None, server_header=False)


@arena.command("load")
@click.argument("responses", type=click.Path(exists=True, dir_okay=False))
@_db_option
@click.option("--replace", is_flag=True, help="Replace the arena's content instead of adding.")
@handle_errors
def load(responses: str, db: str | None, replace: bool) -> None:
    """Load a responses table (prompt_id, model, text and/or image; optional prompt).

    \b
    Example:
      preflab arena load responses.parquet --db sqlite:///arena.sqlite --replace
    """
    from preflab.arena._store import Store
    from preflab.arena._tables import load_file

    store = Store(db or DEFAULT_DB)
    n = load_file(store, responses, replace=replace)
    counts = store.counts()
    store.dispose()
    console.print(f"loaded {n} responses ({counts['responses']} in the arena)")


@arena.command("export")
@_db_option
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Comparisons table to write (.parquet, .csv, .jsonl).")
@click.option("--rankings", "rankings_path", type=click.Path(dir_okay=False), default=None,
              help="Where to write K-wise orderings [<output stem>.rankings.parquet if any].")
@handle_errors
def export(db: str | None, output: str, rankings_path: str | None) -> None:
    """Export votes as the comparisons table (and rankings table) `preflab rank` reads.

    \b
    Example:
      preflab arena export -o votes.parquet --db sqlite:///arena.sqlite
      preflab rank votes.parquet
    """
    from preflab.arena._store import Store
    from preflab.arena._tables import comparisons_table, rankings_table
    from preflab.data._io import write_table

    store = Store(db or DEFAULT_DB)
    comp = comparisons_table(store)
    ranks = rankings_table(store)
    store.dispose()
    write_table(comp, output)
    msg: list[Any] = [f"wrote {comp.num_rows} votes to {output}"]
    if ranks.num_rows or rankings_path:
        out = Path(output)
        target = rankings_path or str(out.with_name(out.stem + ".rankings.parquet"))
        write_table(ranks, target)
        msg.append(f"and {ranks.num_rows} rankings to {target}")
    console.print(" ".join(msg))


@arena.command("reset")
@_db_option
@click.option("--content", is_flag=True, help="Also delete the loaded responses.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@handle_errors
def reset(db: str | None, content: bool, yes: bool) -> None:
    """Delete all votes, rankings and battles (and with --content, the responses).

    \b
    Example:
      preflab arena reset --db sqlite:///arena.sqlite --yes
    """
    from preflab.arena._store import Store

    url = db or DEFAULT_DB
    if not yes:
        click.confirm(f"Delete every vote in {url}?", abort=True)
    store = Store(url)
    store.reset(content=content)
    store.dispose()
    console.print("arena reset")


commands: list[click.Command] = [arena]
