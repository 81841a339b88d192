"""The production pipeline: Redis limits, the registry, real adapters from settings."""

from __future__ import annotations

from typing import cast

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from capgate.adapters.composition import build_handlers, load_overrides
from capgate.adapters.object_store import ObjectStore
from capgate.adapters.s3_store import S3ObjectStore
from capgate.bootstrap import bootstrap
from capgate.settings import ObjectStoreKind, Settings
from capgate.workers.assembly import build_pipeline
from capgate.workers.deps import DeadLetterHook
from capgate.workers.observe import observe_pipeline
from capgate.workers.pipeline import Pipeline
from capgate.workers.policy import PolicyBook
from capgate.workers.ratelimit import LimitStore, RedisLimitStore

__all__ = ["dead_letter_hooks", "object_store", "policy_book", "production_pipeline"]


def policy_book(settings: Settings) -> PolicyBook:
    """The retry policies, with the overrides from ``CAPGATE_RETRY_POLICIES``."""
    return PolicyBook.model_validate(settings.retry_policies or {})


def dead_letter_hooks(settings: Settings) -> tuple[DeadLetterHook, ...]:
    """The callables named in ``CAPGATE_DEAD_LETTER_HOOKS``, in order."""
    # load_overrides already resolves and checks "module:attribute"; its keys
    # only label error messages, so each hook is labelled by its position.
    labels = {
        f"CAPGATE_DEAD_LETTER_HOOKS[{i}]": t for i, t in enumerate(settings.dead_letter_hooks)
    }
    return tuple(cast(DeadLetterHook, hook) for hook in load_overrides(labels).values())


def object_store(settings: Settings) -> ObjectStore | None:
    """The S3 store when ``CAPGATE_OBJECT_STORE=s3``; None keeps the filesystem default."""
    if settings.object_store is not ObjectStoreKind.S3:
        return None
    assert settings.s3_bucket is not None  # Settings refuses s3 without a bucket
    return S3ObjectStore(
        bucket=settings.s3_bucket,
        prefix=settings.s3_prefix,
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
    )


def production_pipeline(settings: Settings, limiter: LimitStore | None = None) -> Pipeline:
    """The pipeline a worker process runs (built once per process)."""
    # No ping per checkout: a stale connection fails one attempt, which goes
    # straight back to the queue (StoreUnavailableError.stale_connection).
    runtime = bootstrap(settings, ping=False)
    if limiter is None:
        # No client-side retries: redis-py's default (3 retries with backoff)
        # made each fail-closed answer take ~3 s while the store was down.
        client = redis.Redis.from_url(
            settings.rate_limit_url,
            socket_timeout=2,
            socket_connect_timeout=2,
            retry=Retry(NoBackoff(), 0),
        )
        limiter = RedisLimitStore(client)
    handlers = build_handlers(
        secret=settings.secret.get_secret_value(),
        storage_root=settings.storage_root,
        eml_folder=settings.eml_folder,
        object_store=object_store(settings),
        link_base_url=settings.release_link_base_url,
        message_id_domain=settings.message_id_domain,
        admin_capabilities=settings.admin_capabilities,
        overrides=load_overrides(settings.adapter_overrides),
        provider_gate=limiter,
    )
    # Observed: each committed audit row also moves the metrics and logs one line.
    return observe_pipeline(
        build_pipeline(
            runtime,
            limiter=limiter,
            handlers=handlers,
            policies=policy_book(settings),
            hooks=dead_letter_hooks(settings),
            grant_cache_ttl=settings.grant_cache_ttl,
            max_deliveries=settings.max_deliveries,
        )
    )
