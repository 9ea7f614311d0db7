"""The Redis cache store against a real redis-server: namespaces, counters, fork, freeze, pointers, GC."""

from __future__ import annotations

import time

import pytest

from cockpit.errors import ConfigError
from cockpit.hookspecs import BackendContext, CacheStore
from cockpit.plugins import PluginHost

from .conftest import run

OLD = "claude-opus-4-20250514"
NEW = "claude-opus-4-1-20250805"


def by_name(readings):
    return {n.name: n for n in readings}


def test_tiers_get_active_namespaces_keyed_by_provider_revision_and_generation(make_store):
    store = make_store(provider="anthropic", tiers={"old": OLD, "new": NEW})

    async def go():
        first = await store.namespaces()
        again = await make_store(provider="anthropic", tiers={"old": OLD, "new": NEW}).namespaces()
        made = await store.create(OLD)
        return first, again, made, await store.namespaces()

    first, again, made, after = run(go())
    tiers = {n.tier: n for n in first}
    assert set(tiers) == {"old", "new"}
    assert (tiers["old"].revision, tiers["new"].revision) == (OLD, NEW)
    assert tiers["old"].name == f"anthropic:{OLD}:g{tiers['old'].generation}"
    assert tiers["old"].generation != tiers["new"].generation
    assert {n.name for n in again} == {n.name for n in first}  # a second store adopts, does not re-create
    # the same revision again is a new namespace at a new generation, active for no tier
    assert made not in {n.name for n in first}
    assert by_name(after)[made].revision == OLD and by_name(after)[made].tier == ""
    assert by_name(after)[made].generation > max(n.generation for n in first)


def test_entries_and_unknown_namespaces(make_store):
    store = make_store(tiers={"old": OLD})

    async def go():
        ns = (await store.active())["old"]
        await store.put(ns, "prompt-1", b"cached")
        got = await store.get(ns, "prompt-1")
        missing = await store.get(ns, "prompt-2")
        errors = []
        for call in (store.freeze("nope"), store.thaw("nope"), store.fork("nope", NEW), store.put("nope", "k", "v")):
            try:
                await call
            except KeyError as exc:
                errors.append(str(exc))
        return got, missing, errors, await store.usage(ns)

    got, missing, errors, usage = run(go())
    assert got == b"cached" and missing is None
    assert len(errors) == 4 and all("no cache namespace 'nope'" in e for e in errors)
    assert usage == (1, 1)


def test_counters_are_per_namespace_over_a_sliding_window(make_store, clock, redis_server):
    store = make_store(tiers={"old": OLD, "new": NEW}, window_s=60, buckets=6)

    async def go():
        active = await store.active()
        old, new = active["old"], active["new"]
        await store.record_usage(old, 10, 90)
        await store.record_usage(new, 75, 25)
        first = by_name(await store.namespaces())
        clock.advance(70)  # past the window: the old reads no longer count
        await store.record_usage(old, 8, 2)
        second = by_name(await store.namespaces())
        clock.advance(70)
        third = by_name(await store.namespaces())
        return old, new, first, second, third, await store.usage(old), await store.usage(new)

    old, new, first, second, third, old_total, new_total = run(go())
    assert first[old].hit_rate == pytest.approx(0.10)
    assert first[new].hit_rate == pytest.approx(0.75)
    assert second[old].hit_rate == pytest.approx(0.80)  # the window forgot the cold reads
    assert second[new].hit_rate == 0.0  # no reads in the window: nothing proves it warm
    assert third[old].hit_rate == 0.0
    assert old_total == (18, 92) and new_total == (75, 25)  # lifetime counters, per namespace
    # expired buckets are pruned, the lifetime totals stay
    fields = {f.decode() for f in redis_server.client().hkeys(store.k_usage(old))}
    assert fields == {"hits", "misses"}


def _commandstats(client) -> dict[str, int]:
    return {k.removeprefix("cmdstat_"): v["calls"] for k, v in client.info("commandstats").items()}


def test_fork_copies_through_the_namespace_index_without_scanning_the_keyspace(make_store, redis_server):
    store = make_store(tiers={"old": OLD})
    client = redis_server.client()
    # a large unrelated keyspace the fork must not walk
    pipe = client.pipeline(transaction=False)
    for i in range(20_000):
        pipe.set(f"unrelated:{i}", i)
    pipe.execute()

    async def go():
        src = (await store.active())["old"]
        for i in range(1200):  # more than one batch
            await store.put(src, f"p{i}", f"v{i}", ttl_s=600)
        await store.put(src, "short", "v", ttl_s=0.05)
        time.sleep(0.1)  # "short" expires: its index member is stale
        client.config_resetstat()
        forked = await store.fork(src, NEW)
        stats = _commandstats(client)
        return src, forked, stats, await store.namespaces(), await store.entries(forked), await store.entries(src)

    src, forked, stats, readings, n_forked, n_src = run(go())
    assert "scan" not in stats and "keys" not in stats, stats
    assert stats.get("copy", 0) == 1201  # one COPY per indexed entry, nothing else walked
    assert n_forked == 1200 and n_src == 1200  # the stale member was dropped from the source index
    r = by_name(readings)
    assert r[forked].revision == NEW and r[forked].generation > r[src].generation and r[forked].tier == ""
    assert r[src].tier == "old"  # forking moves no pointer
    assert client.get(store.k_entry(forked, "p7")) == b"v7"
    assert 0 < client.pttl(store.k_entry(forked, "p7")) <= 600_000  # copies keep their TTL
    assert client.hget(store.k_meta(forked), "parent").decode() == src


def test_freeze_keeps_entries_past_their_ttl_and_thaw_restores_expiry(make_store, redis_server):
    store = make_store(tiers={"old": OLD})
    client = redis_server.client()

    async def go():
        ns = (await store.active())["old"]
        for i in range(5):
            await store.put(ns, f"k{i}", "v", ttl_s=0.4)
        await store.put(ns, "long", "v", ttl_s=600)
        await store.freeze(ns)
        frozen = by_name(await store.namespaces())[ns].frozen
        await store.put(ns, "during", "v", ttl_s=0.4)  # written while frozen: no expiry yet
        time.sleep(0.8)  # well past the 0.4 s TTLs
        alive = [client.exists(store.k_entry(ns, f"k{i}")) for i in range(5)]
        ttls_frozen = [client.pttl(store.k_entry(ns, k)) for k in ("k0", "long", "during")]
        forked = await store.fork(ns, NEW)  # a fork of a frozen namespace expires normally
        fork_ttl = client.pttl(store.k_entry(forked, "k0"))
        await store.thaw(ns)
        thawed = by_name(await store.namespaces())[ns].frozen
        ttls_thawed = [client.pttl(store.k_entry(ns, k)) for k in ("k0", "long", "during")]
        time.sleep(0.8)
        gone = [client.exists(store.k_entry(ns, f"k{i}")) for i in range(5)] + [
            client.exists(store.k_entry(ns, "during"))
        ]
        return frozen, alive, ttls_frozen, fork_ttl, thawed, ttls_thawed, gone, client.exists(store.k_entry(ns, "long"))

    frozen, alive, ttls_frozen, fork_ttl, thawed, ttls_thawed, gone, long_alive = run(go())
    assert frozen and not thawed
    assert alive == [1] * 5
    assert ttls_frozen == [-1, -1, -1]  # persisted while the incident is open
    assert 0 < fork_ttl <= 400
    assert all(0 < t <= 400 for t in (ttls_thawed[0], ttls_thawed[2]))  # the remaining TTL, not a new one
    assert 590_000 < ttls_thawed[1] <= 600_000
    assert gone == [0] * 6  # expiry resumed after thaw
    assert long_alive == 1


def test_freeze_and_thaw_are_idempotent(make_store, redis_server):
    store = make_store(tiers={"old": OLD})
    client = redis_server.client()

    async def go():
        ns = (await store.active())["old"]
        await store.put(ns, "k", "v", ttl_s=30)
        await store.freeze(ns)
        await store.freeze(ns)  # the engine freezes every namespace it sees on each declare
        await store.thaw(ns)
        await store.thaw(ns)
        return client.pttl(store.k_entry(ns, "k"))

    assert 25_000 < run(go()) <= 30_000


def test_active_pointer_flips_back_on_rollback(make_store):
    store = make_store(tiers={"old": OLD, "new": OLD})

    async def go():
        active = await store.active()
        swapped = await store.fork(active["new"], NEW)  # the model swap forks, it does not migrate
        replaced = await store.set_active("new", swapped)
        during = {n.name: n.tier for n in await store.namespaces()}
        back = await store.flip("new")  # the rollback
        after = {n.name: n.tier for n in await store.namespaces()}
        forward = await store.flip("new")
        try:
            await store.flip("old")
        except KeyError as exc:
            no_previous = str(exc)
        return active, swapped, replaced, during, back, after, forward, no_previous

    active, swapped, replaced, during, back, after, forward, no_previous = run(go())
    assert replaced == active["new"]
    assert during[swapped] == "new" and during[active["new"]] == ""
    assert back == active["new"] and after[active["new"]] == "new" and after[swapped] == ""
    assert forward == swapped
    assert "no previous namespace" in no_previous


def test_gc_spares_active_previous_and_frozen_namespaces(make_store, redis_server):
    store = make_store(tiers={"old": OLD, "new": NEW})
    client = redis_server.client()

    async def go():
        active = await store.active()
        previous_target = await store.create(NEW)
        await store.set_active("new", previous_target)
        await store.set_active("new", active["new"])  # previous_target is now the rollback target
        frozen = await store.create(NEW)
        await store.put(frozen, "k", "v")
        await store.freeze(frozen)
        garbage = await store.fork(active["old"], NEW)
        await store.put(garbage, "k", "v")
        await store.record_usage(garbage, 1, 1)
        collected = await store.gc()
        names = {n.name for n in await store.namespaces()}
        await store.thaw(frozen)
        collected_after_thaw = await store.gc()
        return active, previous_target, frozen, garbage, collected, names, collected_after_thaw

    active, previous_target, frozen, garbage, collected, names, after_thaw = run(go())
    assert collected == [garbage]
    assert names == {active["old"], active["new"], previous_target, frozen}
    for key in (store.k_meta(garbage), store.k_index(garbage), store.k_usage(garbage), store.k_entry(garbage, "k")):
        assert not client.exists(key), key
    assert after_thaw == [frozen]


def test_options_are_validated_strictly():
    host = PluginHost()
    ctx = BackendContext(clock=None, config_dir=".", tiers={"old": "blue", "new": "green"})
    bad = [
        ({"nope": 1}, "plugins.redis: unknown option 'nope'"),
        ({"url": "http://x"}, "plugins.redis.url"),
        ({"url": "redis://127.0.0.1:6379/abc"}, "plugins.redis.url: database"),
        ({"prefix": ""}, "plugins.redis.prefix"),
        ({"provider": "a b"}, "plugins.redis.provider"),
        ({"tiers": {"old": 3}}, "plugins.redis.tiers.old"),
        ({"window_s": 0}, "plugins.redis.window_s"),
        ({"buckets": 2.5}, "plugins.redis.buckets"),
    ]
    for options, message in bad:
        with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
            host.create("cache", "redis", options, ctx)
    store = host.create("cache", "redis", {"tiers": {"old": OLD}}, ctx)
    assert isinstance(store, CacheStore)
    assert store.o.tiers == (("blue", OLD),)  # role names map to the tier names the autoscaler knows


def test_an_unreachable_server_is_one_sentence_without_the_password(make_store, redis_server):
    from .conftest import free_port

    store = make_store(url=f"redis://user:s3cret@127.0.0.1:{free_port()}/0")
    with pytest.raises(ConnectionError) as err:
        run(store.namespaces())
    message = str(err.value)
    assert "s3cret" not in message and "user" not in message
    assert message.startswith("redis at redis://127.0.0.1:") and "unreachable" in message
