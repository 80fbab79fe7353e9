"""Elasticsearch backend: the same Store behaviour as the embedded SQLite store, on a cluster.

Client: the official ``elasticsearch`` 8.x client (pinned ``>=8.13,<9``), which talks to ES 8
clusters. Reads go through the write alias; request bodies come from :mod:`store.es_query`,
the index layout from :mod:`store.es_mapping`, highlights from :mod:`store.highlight` (the
same Python code as the embedded store, so snippets are identical).

Writes are bulk ``index`` operations keyed by the post id. With time-based indices behind a
rollover alias an update must reach the index that already holds the post, so each batch first
asks every backing index for its ids with a realtime ``mget`` (also fetching ``seq``, kept
across updates); ids not found go to the write alias. A failed write raises, the processor
keeps the batch in its inbox and delivers it again (at-least-once; the write is idempotent).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from core.config import read_secret
from core.schema import SHANGHAI, Post
from store import es_query as Q
from store.base import (
    TOTAL_CAP,
    Bucket,
    Filters,
    Hit,
    KeywordCount,
    QueryError,
    SearchQuery,
    SearchResult,
    StoreError,
    StoreUnavailable,
    TimeBucket,
    check_breakdown_field,
    check_timeline_args,
    decode_cursor,
    encode_cursor,
)
from store.es_events import EsEventsMixin, events_mappings
from store.es_mapping import (
    IndexNames,
    SeqClock,
    doc_id,
    ilm_policy,
    post_document,
    post_from_source,
    posts_mappings,
    posts_template,
    rollover_conditions,
)
from store.highlight import highlight
from store.querytext import ParsedQuery, parse_query
from store.sqlite import tz_offset_seconds

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

    from core.config import ElasticsearchStoreConfig

log = logging.getLogger(__name__)

INDEX_CACHE_SECONDS = 30.0


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


def make_client(cfg: ElasticsearchStoreConfig) -> Elasticsearch:
    """A client from the config; secrets come from env vars or files and are never logged."""
    from elasticsearch import Elasticsearch

    transport_log = logging.getLogger("elastic_transport.transport")
    if transport_log.level == logging.NOTSET:  # one INFO line per request is noise in `yuqing run`
        transport_log.setLevel(logging.WARNING)
    kwargs: dict[str, Any] = {
        "hosts": list(cfg.hosts),
        "request_timeout": cfg.request_timeout,
        "retry_on_timeout": True,
        "max_retries": 2,
    }
    api_key = read_secret(cfg.api_key_env, cfg.api_key_file)
    if api_key:
        kwargs["api_key"] = api_key
    elif cfg.username:
        password = read_secret(cfg.password_env, cfg.password_file)
        if password is None:
            where = " or ".join(
                x
                for x in (f"${cfg.password_env}" if cfg.password_env else "", cfg.password_file)
                if x
            )
            raise StoreError(
                f"elasticsearch: username {cfg.username!r} is set but no password was found"
                f" (looked in {where or 'nothing: set password_env or password_file'})"
            )
        kwargs["basic_auth"] = (cfg.username, password)
    if any(h.startswith("https://") for h in cfg.hosts):
        kwargs["verify_certs"] = cfg.verify_certs
        if cfg.ca_certs:
            kwargs["ca_certs"] = cfg.ca_certs
        if not cfg.verify_certs:
            kwargs["ssl_show_warn"] = False
    try:
        return Elasticsearch(**kwargs)
    except (ValueError, TypeError) as exc:
        raise StoreError(f"elasticsearch: invalid connection settings: {_one_line(exc)}") from None


def is_unavailable(exc: BaseException) -> bool:
    """Errors that mean "try again later" (cluster down, overloaded), not "this post is bad"."""
    from elasticsearch import ApiError, ConnectionTimeout, TransportError
    from elasticsearch import ConnectionError as EsConnectionError

    if isinstance(exc, EsConnectionError | ConnectionTimeout):
        return True
    if isinstance(exc, ApiError):
        return exc.meta.status in (429, 502, 503, 504)
    return isinstance(exc, TransportError)


class ElasticsearchStore(EsEventsMixin):
    backend = "elasticsearch"
    # back-off of bulk retries after 429 (doubling up to 30 s); tests shorten it
    bulk_initial_backoff = 1.0

    def __init__(
        self,
        cfg: ElasticsearchStoreConfig,
        max_query_chars: int = 500,
        *,
        client: Elasticsearch | None = None,
        check: bool = True,
    ) -> None:
        self.cfg = cfg
        self.max_query_chars = max_query_chars
        self.names = IndexNames(cfg.index_prefix)
        self.es = client if client is not None else make_client(cfg)
        self._seq = SeqClock()
        self._indices: list[str] = []
        self._indices_at = 0.0
        self._lock = threading.Lock()
        self.server: dict[str, Any] = {}
        if check:
            self.server = self.check_connection()
            if cfg.auto_setup and not self._is_set_up():
                self.setup()

    # ---- connection and index management ----------------------------------------------------
    def check_connection(self) -> dict[str, Any]:
        """Reach the cluster once; any failure is one clear line (StoreError), no traceback."""
        from elasticsearch import ApiError, AuthenticationException, UnsupportedProductError

        hosts = ", ".join(self.cfg.hosts)
        try:
            info = self.es.info().body
        except AuthenticationException:
            raise StoreError(
                f"elasticsearch at {hosts}: authentication failed (check username/password or API key)"
            ) from None
        except UnsupportedProductError:
            raise StoreError(f"{hosts} is not an Elasticsearch cluster") from None
        except ApiError as exc:
            raise StoreError(
                f"elasticsearch at {hosts}: HTTP {exc.meta.status}: {_one_line(exc)}"
            ) from None
        except Exception as exc:
            raise StoreError(f"cannot reach elasticsearch at {hosts}: {_one_line(exc)}") from None
        version = str(info.get("version", {}).get("number", "?"))
        if not version.startswith("8."):
            raise StoreError(
                f"elasticsearch at {hosts} is version {version}; this build supports 8.x"
            )
        emulator = info.get("version", {}).get("build_hash") == "noida"
        return {"version": version, "cluster": info.get("cluster_name"), "emulator": emulator}

    def _is_set_up(self) -> bool:
        try:
            return bool(
                self.es.indices.exists_alias(name=self.names.posts_alias)
                and self.es.indices.exists(index=self.names.events_index)
            )
        except Exception as exc:
            raise self._error("index check", exc) from None

    def ilm_supported(self) -> bool:
        from elasticsearch import ApiError

        try:
            self.es.ilm.get_status()
            return True
        except ApiError as exc:
            if exc.meta.status in (400, 404, 405):
                return False
            raise

    def setup(self) -> list[str]:
        """Create or upgrade the ILM policy, the template, the first index and the alias.

        Idempotent: run it on every deployment. Returns one line per step for ``yuqing es setup``.
        """
        report: list[str] = []
        n = self.names
        cfg = self.cfg
        with_ilm = self.ilm_supported()
        if with_ilm:
            self.es.ilm.put_lifecycle(
                name=n.policy,
                policy=ilm_policy(
                    cfg.rollover_max_age, cfg.rollover_max_primary_shard_size, cfg.delete_after
                ),
            )
            report.append(
                f"ILM policy {n.policy}: rollover at {cfg.rollover_max_age} or "
                f"{cfg.rollover_max_primary_shard_size}"
                + (f", delete after {cfg.delete_after}" if cfg.delete_after else "")
            )
        else:
            report.append(
                "ILM: not supported by this cluster (the noida-db emulator has none); "
                "run `yuqing es rollover` periodically (e.g. daily from cron) instead"
            )
        body = posts_template(n, cfg.shards, cfg.replicas, with_ilm)
        existed = self.es.indices.exists_index_template(name=n.template)
        self.es.indices.put_index_template(name=n.template, **body)
        report.append(
            f"index template {n.template}: {'updated' if existed else 'created'}"
            f" (version {body['version']})"
        )
        if self.es.indices.exists_alias(name=n.posts_alias):
            indices = sorted(self.es.indices.get_alias(name=n.posts_alias).body)
            # new fields reach existing indices too (mappings only grow; settings stay)
            self.es.indices.put_mapping(index=",".join(indices), **_mapping_update())
            report.append(f"alias {n.posts_alias}: {len(indices)} index(es), mappings upgraded")
        else:
            self.es.indices.create(
                index=n.first_posts_index, aliases={n.posts_alias: {"is_write_index": True}}
            )
            report.append(f"index {n.first_posts_index} created behind alias {n.posts_alias}")
        if self.es.indices.exists(index=n.events_index):
            self.es.indices.put_mapping(index=n.events_index, **events_mappings())
            report.append(f"index {n.events_index}: mappings upgraded")
        else:
            self.es.indices.create(
                index=n.events_index,
                settings={"number_of_shards": 1, "number_of_replicas": cfg.replicas},
                mappings=events_mappings(),
            )
            report.append(f"index {n.events_index} created")
        self._indices_at = 0.0
        return report

    def rollover(self, force: bool = False) -> dict[str, Any]:
        """Roll the write alias over now (force) or when the configured conditions are met."""
        kwargs: dict[str, Any] = {"alias": self.names.posts_alias}
        if not force:
            kwargs["conditions"] = rollover_conditions(
                self.cfg.rollover_max_age, self.cfg.rollover_max_primary_shard_size
            )
        res = self.es.indices.rollover(**kwargs).body
        self._indices_at = 0.0
        return res

    def backing_indices(self, fresh: bool = False) -> list[str]:
        """The concrete indices behind the alias (cached briefly; a new one is always the write
        index, which the alias reaches anyway, so a stale list never misroutes an update)."""
        now = time.monotonic()
        with self._lock:
            if fresh or not self._indices or now - self._indices_at > INDEX_CACHE_SECONDS:
                try:
                    self._indices = sorted(
                        self.es.indices.get_alias(name=self.names.posts_alias).body
                    )
                except Exception as exc:
                    raise self._error("listing indices", exc) from None
                self._indices_at = now
            return list(self._indices)

    def refresh(self) -> None:
        """Make every write visible to search now (tests; ES refreshes each second by itself)."""
        try:
            self.es.indices.refresh(index=f"{self.names.posts_alias},{self.names.events_index}")
        except Exception as exc:
            raise self._error("refresh", exc) from None

    def _error(self, what: str, exc: Exception) -> StoreError:
        if isinstance(exc, StoreError):
            return exc
        cls = StoreUnavailable if is_unavailable(exc) else StoreError
        return cls(f"elasticsearch {what} failed: {_one_line(exc)}")

    # ---- writes -----------------------------------------------------------------------------
    def _locate(self, ids: list[str], fields: list[str] | bool) -> dict[str, list[dict]]:
        """id -> the hits holding it (index, _source) across every backing index, realtime."""
        if not ids:
            return {}
        found: dict[str, list[dict]] = {}
        indices = self.backing_indices()
        docs = [{"_index": ix, "_id": doc_id(i)} for ix in indices for i in ids]
        by_doc_id = {doc_id(i): i for i in ids}
        for start in range(0, len(docs), 2000):
            try:
                res = self.es.mget(docs=docs[start : start + 2000], source=fields).body
            except Exception as exc:
                raise self._error("lookup", exc) from None
            for d in res.get("docs", []):
                if d.get("found"):
                    found.setdefault(by_doc_id[d["_id"]], []).append(d)
                elif "error" in d:
                    err = d["error"]
                    kind = err.get("type") if isinstance(err, dict) else str(err)
                    if kind == "index_not_found_exception":
                        self._indices_at = 0.0  # deleted by ILM; re-list next time
                        continue
                    raise StoreError(f"elasticsearch lookup failed: {kind}")
        return found

    def upsert(self, posts: list[Post]) -> None:
        self._write(posts, None)

    def upsert_with_seq(self, posts: list[Post], seqs: list[int]) -> None:
        """Upsert keeping given insertion numbers (migration copies the embedded rowids)."""
        self._write(posts, seqs)

    def _write(self, posts: list[Post], seqs: list[int] | None) -> None:
        if not posts:
            return
        from elasticsearch import helpers

        last: dict[str, tuple[Post, int | None]] = {}
        for i, p in enumerate(posts):
            if p.id in last:  # same id twice in one batch: the last version wins, first seq stays
                last[p.id] = (p, last[p.id][1])
            else:
                last[p.id] = (p, seqs[i] if seqs is not None else None)
        where = self._locate(list(last), ["seq"])
        actions: list[dict[str, Any]] = []
        for pid, (post, given_seq) in last.items():
            held = sorted(where.get(pid, []), key=lambda d: d["_index"])
            seq = given_seq
            target = self.names.posts_alias
            if held:
                target = held[-1]["_index"]
                if seq is None:
                    seq = (held[-1].get("_source") or {}).get("seq")
                for extra in held[:-1]:  # a copy left in an older index by a race: remove it
                    actions.append(
                        {"_op_type": "delete", "_index": extra["_index"], "_id": extra["_id"]}
                    )
            if not isinstance(seq, int):
                seq = self._seq.next()
            actions.append(
                {
                    "_op_type": "index",
                    "_index": target,
                    "_id": doc_id(pid),
                    "_source": post_document(post, seq),
                }
            )
        failures: list[dict] = []
        try:
            for ok, item in helpers.streaming_bulk(
                self.es,
                actions,
                chunk_size=self.cfg.bulk_chunk,
                max_retries=self.cfg.bulk_max_retries,
                initial_backoff=self.bulk_initial_backoff,
                max_backoff=30,
                retry_on_status=(429,),
                raise_on_error=False,
                raise_on_exception=True,
                refresh=self.cfg.write_refresh,
            ):
                if not ok:
                    op, info = next(iter(item.items()))
                    if op == "delete" and info.get("status") == 404:
                        continue
                    failures.append(info)
        except Exception as exc:
            raise self._error("bulk write", exc) from None
        if failures:
            statuses = {f.get("status") for f in failures}
            first = failures[0]
            err = first.get("error")
            reason = err.get("reason") if isinstance(err, dict) else err
            msg = (
                f"elasticsearch rejected {len(failures)} of {len(actions)} writes;"
                f" first: {first.get('_id')}: {reason}"
            )
            if statuses & {429, 502, 503, 504}:
                raise StoreUnavailable(msg)
            raise StoreError(msg)

    # ---- reads ------------------------------------------------------------------------------
    def get(self, post_id: str) -> Post | None:
        found = self.get_many([post_id])
        return found[0] if found else None

    def get_many(self, ids: list[str]) -> list[Post]:
        where = self._locate(list(dict.fromkeys(ids)), True)
        out: list[Post] = []
        for i in ids:
            held = sorted(where.get(i, []), key=lambda d: d["_index"])
            if held:
                out.append(post_from_source(held[-1]["_source"]))
        return out

    def duplicate_counts(self, ids: list[str]) -> dict[str, int]:
        if not ids:
            return {}
        res = self._search(Q.duplicate_counts_body(ids), "duplicate counts")
        return {b["key"]: b["doc_count"] for b in res["aggregations"]["dups"]["buckets"]}

    def _search(self, body: dict[str, Any], what: str) -> dict[str, Any]:
        from elasticsearch import BadRequestError

        try:
            return self.es.search(index=self.names.posts_alias, **_kwargs(body)).body
        except BadRequestError as exc:
            text = str(exc)
            if "too_many_buckets" in text:
                raise QueryError(
                    "too many buckets for one answer; narrow the time range or use a daily interval"
                ) from None
            raise self._error(what, exc) from None
        except Exception as exc:
            raise self._error(what, exc) from None

    def _parse(self, q: str | None) -> ParsedQuery | None:
        if q is None or not q.strip():
            return None
        return parse_query(q, self.max_query_chars)

    @staticmethod
    def _no_match(parsed: ParsedQuery | None, q: str | None) -> bool:
        return bool(q and q.strip()) and (parsed is None or parsed.empty)

    def search(self, query: SearchQuery) -> SearchResult:
        parsed = self._parse(query.q)
        if self._no_match(parsed, query.q):
            return SearchResult(total=0, hits=[])
        use_text = parsed is not None and not parsed.empty
        mode: Q.SortMode = query.sort if (query.sort != "relevance" or use_text) else "time"
        after = None
        if query.cursor:
            after = Q.check_cursor(mode, decode_cursor(query.cursor, Q.cursor_len(mode)))
        body = Q.search_body(query.filters, parsed, mode, query.size, after)
        res = self._search(body, "search")
        total_info = res["hits"]["total"]
        total, relation = int(total_info["value"]), total_info.get("relation", "eq")
        if relation == "gte" or total > TOTAL_CAP:
            total, relation = TOTAL_CAP, "gte"
        raw = res["hits"]["hits"]
        more = len(raw) > query.size
        raw = raw[: query.size]
        tokens = parsed.all_tokens() if parsed else []
        posts = [post_from_source(h["_source"]) for h in raw]
        dup = self.duplicate_counts([p.id for p in posts])
        hits = []
        for h, post in zip(raw, posts, strict=True):
            hl: dict[str, str] = {}
            if query.highlight and tokens:
                for name, value in (("title", post.title), ("text", post.text)):
                    snippet = highlight(value or "", tokens)
                    if snippet:
                        hl[name] = snippet
            score = h.get("_score") if use_text else None
            hits.append(
                Hit(post=post, score=score, highlights=hl, duplicate_count=dup.get(post.id, 0))
            )
        next_cursor = None
        if more and raw:
            if mode == "relevance":
                next_cursor = encode_cursor([(after[0] if after else 0) + query.size])
            else:
                next_cursor = encode_cursor(list(raw[-1]["sort"]))
        return SearchResult(
            total=total, total_relation=relation, hits=hits, next_cursor=next_cursor
        )

    def count(self, filters: Filters, q: str | None = None) -> int:
        parsed = self._parse(q)
        if self._no_match(parsed, q):
            return 0
        try:
            res = self.es.count(index=self.names.posts_alias, **Q.count_body(filters, parsed))
        except Exception as exc:
            raise self._error("count", exc) from None
        return int(res.body["count"])

    def timeline(
        self,
        filters: Filters,
        interval: Literal["hour", "day"] = "hour",
        split: str | None = None,
        q: str | None = None,
    ) -> list[TimeBucket]:
        check_timeline_args(interval, split)
        parsed = self._parse(q)
        if self._no_match(parsed, q):
            return []
        body = Q.timeline_body(filters, parsed, interval, split, tz_offset_seconds())
        res = self._search(body, "timeline")
        out: list[TimeBucket] = []
        for b in res["aggregations"]["timeline"]["buckets"]:
            n = int(b["doc_count"])
            if n <= 0:
                continue
            tb = TimeBucket(
                t=datetime.fromtimestamp(b["key"] / 1000, UTC).astimezone(SHANGHAI), count=n
            )
            if split is not None:
                by: dict[str, int] = {}
                terms = b["by"]
                for s in terms["buckets"]:
                    key = s["key"] or "unknown"
                    by[key] = by.get(key, 0) + int(s["doc_count"])
                rest = n - sum(int(s["doc_count"]) for s in terms["buckets"])
                if rest > 0:  # posts without a value (and any beyond MAX_SPLIT_TERMS)
                    by["unknown"] = by.get("unknown", 0) + rest
                tb.by = by
            out.append(tb)
        return out

    def breakdown(
        self, filters: Filters, field: str, size: int = 50, q: str | None = None
    ) -> list[Bucket]:
        check_breakdown_field(field)
        size = max(1, min(int(size), 5000))
        parsed = self._parse(q)
        if self._no_match(parsed, q):
            return []
        res = self._search(Q.breakdown_body(filters, parsed, field, size), "breakdown")
        return [
            Bucket(
                key=b["key"], count=int(b["doc_count"]), negative=int(b["negative"]["doc_count"])
            )
            for b in res["aggregations"]["breakdown"]["buckets"]
        ]

    def keywords(
        self, filters: Filters, size: int = 30, q: str | None = None
    ) -> list[KeywordCount]:
        size = max(1, min(int(size), 500))
        parsed = self._parse(q)
        if self._no_match(parsed, q):
            return []
        res = self._search(Q.keywords_body(filters, parsed, size), "keywords")
        return [
            KeywordCount(word=b["key"], count=int(b["doc_count"]))
            for b in res["aggregations"]["keywords"]["buckets"]
        ]

    def iter_posts(self, filters: Filters, batch_size: int = 1000) -> Iterator[Post]:
        after: list[Any] | None = None
        while True:
            res = self._search(Q.iter_body(filters, batch_size, after), "scan")
            hits = res["hits"]["hits"]
            if not hits:
                return
            for h in hits:
                yield post_from_source(h["_source"])
            after = list(hits[-1]["sort"])

    def info(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "backend": self.backend,
            "hosts": list(self.cfg.hosts),
            "alias": self.names.posts_alias,
        }
        try:
            out["posts"] = int(self.es.count(index=self.names.posts_alias).body["count"])
            out["indices"] = self.backing_indices(fresh=True)
        except Exception as exc:
            raise self._error("info", exc) from None
        if self.server:
            out.update(
                {
                    "version": self.server.get("version"),
                    "cluster": self.server.get("cluster"),
                    "emulator": bool(self.server.get("emulator")),
                }
            )
        return out

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a dead connection is not worth an error
            self.es.close()


def _kwargs(body: dict[str, Any]) -> dict[str, Any]:
    """A JSON request body as client keyword arguments (``_source`` is ``source`` there)."""
    out = dict(body)
    if "_source" in out:
        out["source"] = out.pop("_source")
    return out


def _mapping_update() -> dict[str, Any]:
    """The put-mapping body that brings an existing index up to the current template."""
    m = posts_mappings()
    return {"dynamic": m["dynamic"], "properties": m["properties"], "_meta": m["_meta"]}
