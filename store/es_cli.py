"""``yuqing es setup|check|rollover`` and ``yuqing migrate --to elasticsearch``.

The connection settings are ``store.elasticsearch`` in the config whatever ``store.backend``
says, so a deployment can prepare and fill the cluster before switching the backend.
"""

from __future__ import annotations

import sys

from core.cli import CliError
from core.config import Settings
from store.base import StoreError


def _open(settings: Settings):
    from store.elasticsearch import ElasticsearchStore

    try:
        store = ElasticsearchStore(settings.store.elasticsearch, check=False)
        store.server = store.check_connection()
    except StoreError as exc:
        raise CliError(str(exc)) from None
    return store


def _where(store) -> str:
    s = store.server
    kind = "noida-db emulator, NOT Elasticsearch" if s.get("emulator") else "Elasticsearch"
    return f"{', '.join(store.cfg.hosts)} ({kind} {s.get('version')}, cluster {s.get('cluster')})"


def cmd_es(args, settings: Settings) -> int:
    store = _open(settings)
    try:
        print(f"es: connected to {_where(store)}")
        if args.es_command == "setup":
            for line in store.setup():
                print(f"es: {line}")
            return 0
        if args.es_command == "rollover":
            if not store.es.indices.exists_alias(name=store.names.posts_alias):
                raise CliError(
                    f"alias {store.names.posts_alias} does not exist; run `yuqing es setup`"
                )
            res = store.rollover(force=args.force)
            if res.get("rolled_over"):
                print(f"es: rolled over {res.get('old_index')} -> {res.get('new_index')}")
            else:
                conds = ", ".join(f"{k}={v}" for k, v in (res.get("conditions") or {}).items())
                print(f"es: no rollover needed ({conds or 'conditions not met'})")
            return 0
        return _check(store)
    except StoreError as exc:
        raise CliError(str(exc)) from None
    finally:
        store.close()


def _check(store) -> int:
    from store.es_mapping import TEMPLATE_VERSION

    n = store.names
    ok = True
    if store.es.indices.exists_index_template(name=n.template):
        tpl = store.es.indices.get_index_template(name=n.template).body["index_templates"][0]
        version = tpl["index_template"].get("version")
        current = version == TEMPLATE_VERSION
        ok &= current
        print(
            f"es: template {n.template} version {version}"
            + (
                ""
                if current
                else f" (this build expects {TEMPLATE_VERSION}: run `yuqing es setup`)"
            )
        )
    else:
        ok = False
        print(f"es: template {n.template} missing: run `yuqing es setup`")
    if store.es.indices.exists_alias(name=n.posts_alias):
        info = store.info()
        print(
            f"es: alias {n.posts_alias}: {info['posts']} posts in {len(info['indices'])} index(es)"
        )
    else:
        ok = False
        print(f"es: alias {n.posts_alias} missing: run `yuqing es setup`")
    if store.ilm_supported():
        print(f"es: ILM available (policy {n.policy})")
    else:
        print("es: ILM not available here: run `yuqing es rollover` periodically")
    return 0 if ok else 1


def cmd_migrate(args, settings: Settings) -> int:
    from core.db import connect
    from store.migrate import migrate
    from store.sqlite import SqliteStore

    if args.batch < 1 or args.batch > 10000:
        raise CliError("--batch must be between 1 and 10000")
    src_path = settings.path(settings.store.sqlite.path)
    if not src_path.exists():
        raise CliError(f"no embedded store at {src_path} to migrate")
    target = _open(settings)
    if not target.es.indices.exists_alias(name=target.names.posts_alias):
        for line in target.setup():
            print(f"es: {line}", file=sys.stderr)
    source = SqliteStore(src_path, settings.server.max_query_chars)
    app_db = connect(settings.path(settings.app_db), durable=True)
    try:
        print(f"migrate: to {_where(target)}", file=sys.stderr)
        res = migrate(
            source,
            target,
            app_db,
            batch=args.batch,
            restart=args.restart,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
        )
    except StoreError as exc:
        raise CliError(f"{exc} (progress is saved; run the command again to resume)") from None
    finally:
        source.close()
        target.close()
        app_db.close()
    print(
        f"migrate: copied {res.copied} posts in {res.seconds:.1f}s"
        + (f" and {res.events} events" if res.events else "")
        + f"; embedded store {res.source_posts} posts, {target.names.posts_alias} {res.target_posts}"
    )
    if res.target_posts < res.source_posts:
        print("migrate: the target has fewer posts than the source", file=sys.stderr)
        return 1
    print(
        "migrate: done. Switch with `store: {backend: elasticsearch}` in the config"
        " (or YUQING__STORE__BACKEND=elasticsearch)."
    )
    return 0


def register(sub) -> None:
    p = sub.add_parser("es", help="Elasticsearch indices: setup | check | rollover")
    es_sub = p.add_subparsers(dest="es_command", metavar="ACTION")
    es_sub.required = True
    es_sub.add_parser("setup", help="create or upgrade the ILM policy, template, index and alias")
    es_sub.add_parser("check", help="connection, template version, alias, post count, ILM")
    r = es_sub.add_parser("rollover", help="roll the write alias over when its conditions are met")
    r.add_argument("--force", action="store_true", help="roll over now, whatever the conditions")
    p.set_defaults(func=cmd_es)

    m = sub.add_parser("migrate", help="copy the embedded store into Elasticsearch (resumable)")
    m.add_argument("--to", required=True, choices=["elasticsearch"], help="target backend")
    m.add_argument("--batch", type=int, default=1000, help="posts per bulk write (default 1000)")
    m.add_argument(
        "--restart", action="store_true", help="forget the checkpoint and copy everything again"
    )
    m.set_defaults(func=cmd_migrate)
