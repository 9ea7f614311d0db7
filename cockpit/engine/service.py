"""The headless engine service behind `cockpit engine`: one leader on SQLite, or leader and standbys on a
shared Redis journal (lease, fencing epoch, takeover), the screen server, and with --http-listen the
metrics and health endpoints (cockpit.engine.metrics). Imported only when `cockpit engine` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import signal
import time
from typing import Any

from cockpit.errors import CockpitError
from cockpit.redact import redact_text


def journal_ref(config: Any) -> str:
    """The journal the configuration names: a redis:// URL as written, else the resolved SQLite path."""
    raw = config.file.cockpit.journal
    if raw.startswith(("redis://", "rediss://", "unix://")):
        return raw
    return str(config.journal_path)


log = logging.getLogger("cockpit.engine")


def say(text: str) -> None:
    """A status line of the headless engine (started, leading, standby, stopping): logged at info."""
    log.info(text)


class EngineService:
    def __init__(self, config: Any, args: argparse.Namespace) -> None:
        from cockpit.engine.server import EngineServer

        self.config = config
        self.args = args
        self.stop = asyncio.Event()
        self.lost = asyncio.Event()
        self.server = EngineServer(config, on_fenced=self._fenced)
        self.fenced_reason = ""
        self.metrics: Any = None  # cockpit.engine.metrics.EngineMetrics with --http-listen
        self.http: Any = None
        self.alerts: Any = None  # cockpit.engine.alerts.AlertIntake with [engine] alerts_listen

    def _beat(self) -> None:
        if self.metrics is not None:
            self.metrics.heartbeat()

    def _fenced(self, exc: BaseException) -> None:
        self.fenced_reason = str(exc)
        self.lost.set()

    async def serve(self, address: Any) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop.set)
        bound = await self.server.start(address)
        say(f"config: {self.config.source or self.config.path}")
        say(f"listening on {bound}")
        try:
            http = getattr(self.args, "http_listen", None)
            if http:
                await self._start_http(http)
            if self.config.file.engine.alerts_listen:
                await self._start_alerts()
            ref = journal_ref(self.config)
            if ref.startswith(("redis://", "rediss://", "unix://")):
                await self._high_availability(ref)
            else:
                await self._single(ref)
        finally:
            if self.alerts is not None:
                await self.alerts.close()
            if self.http is not None:
                await self.http.close()
            await self.server.close()
        return 0

    async def _start_http(self, text: str) -> None:
        from cockpit.engine.metrics import EngineMetrics, MetricsServer
        from cockpit.engine.server import parse_address

        a = parse_address(text, "--http-listen")
        tick_s = self.config.file.cockpit.tick_s
        self.metrics = EngineMetrics(self, stall_after_s=max(30.0, 10 * tick_s + self.args.lease_ttl))
        self.http = MetricsServer(self.metrics)
        try:
            host, port = await self.http.start(a.host, a.port)
        except OSError as exc:
            raise CockpitError(f"--http-listen {text}: cannot listen on {a.host}:{a.port} ({exc.strerror})") from None
        say(f"metrics and health on http://{host}:{port}/metrics (/healthz, /readyz)")

    async def _start_alerts(self) -> None:
        from cockpit.engine.alerts import PATH, AlertIntake, load_token
        from cockpit.engine.server import parse_address

        e = self.config.file.engine
        a = parse_address(e.alerts_listen, "[engine] alerts_listen")
        if a.path:
            raise CockpitError(f"[engine] alerts_listen {e.alerts_listen!r}: expected HOST:PORT")
        self.alerts = AlertIntake(self.server, load_token(e, self.config.dir), e.alerts_max_body_kb * 1024)
        host, port = await self.alerts.start(a.host, a.port)
        say(f"alerts on http://{host}:{port}{PATH} (Alertmanager's webhook declares incidents, never arms)")

    # One engine (SQLite) ------------------------------------------------------------------------------
    async def _single(self, ref: str) -> None:
        from cockpit.engine.journal import Journal

        journal = Journal(ref)
        if self.metrics is not None:
            self.metrics.watch_journal(journal)
        engine, extra = self._build(journal, epoch=None)
        self.server.attach(engine, "leader")
        say(f"leader (journal {ref})")
        try:
            await self._lead(engine, extra)
        finally:
            await self._retire(engine, extra)

    # Several engines (Redis) --------------------------------------------------------------------------
    async def _high_availability(self, url: str) -> None:
        import redis
        import redis.asyncio as aredis

        from cockpit.engine.journal import JournalUnavailable
        from cockpit.engine.journal_redis import FencedError, RedisJournal, RedisUnreachable, parse_redis_url
        from cockpit.engine.lease import Lease

        conn, stream = parse_redis_url(url)
        ttl_ms = int(self.args.lease_ttl * 1000)
        # A renewal that hangs must give up well inside the lease, not after it.
        timeout = min(5.0, ttl_ms / 1000 / 3)
        client = aredis.Redis.from_url(
            conn, socket_connect_timeout=timeout, socket_timeout=timeout, decode_responses=True
        )
        lease = Lease(client, stream, ttl_ms)
        self.server.journal_reader = RedisJournal(url)
        said_standby = False
        outage = 0  # consecutive failures to reach Redis: the retry delay backs off with it
        backoff_cap = 8.0
        try:
            while not self.stop.is_set():
                self._beat()
                try:
                    epoch = await lease.try_acquire()
                    if epoch is None:
                        self.server.standby()  # before saying so: a probe that reads the line sees the role
                        if not said_standby:
                            say(f"standby (lease held by {await lease.holder()})")
                            said_standby = True
                        await self._wait(self.stop, ttl_ms / 4000)
                        continue
                except (redis.RedisError, OSError) as exc:
                    # Redis is gone for now: keep serving screens as a standby, retry with backoff
                    outage += 1
                    delay = min(backoff_cap, ttl_ms / 4000 * 2 ** min(outage, 6)) * random.uniform(0.8, 1.2)
                    if outage == 1 or outage % 10 == 0:
                        say(f"Redis unreachable ({redact_text(str(exc))}); retrying in {delay:.1f} s")
                    self.server.standby()
                    await self._wait(self.stop, delay)
                    continue
                outage = 0
                said_standby = False
                say(f"leader, epoch {epoch} (lease {lease.key}, {ttl_ms} ms)")
                self.lost.clear()
                self.fenced_reason = ""
                renewing = asyncio.create_task(self._renew(lease))
                engine = None
                try:
                    journal = RedisJournal(url, epoch=epoch, token=lease.token, socket_timeout_s=timeout)
                    if self.metrics is not None:
                        self.metrics.watch_journal(journal)
                    engine, extra = self._build(journal, epoch=epoch)
                    engine.actuation_guard = lease.check
                    engine.request_prefix = f"e{epoch}-"
                    # Restoring from the shared journal took time: renew before the first actuation, and
                    # step down at once if the lease went meanwhile.
                    if not await lease.renew():
                        raise FencedError(f"lease {lease.key}: lost while restoring from the journal")
                    self.server.attach(engine, "leader", epoch)
                    await self._lead(engine, extra)
                except FencedError as exc:
                    self.fenced_reason = str(exc)
                except (redis.RedisError, JournalUnavailable, RedisUnreachable, OSError) as exc:
                    # A transient Redis or journal failure never ends the engine: step down (the lease
                    # lapses by itself if Redis cannot hear a release), back off, and compete again.
                    self.fenced_reason = f"stepping down: Redis or the journal failed ({redact_text(str(exc))})"
                    outage += 1
                finally:
                    renewing.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await renewing
                    if engine is not None:
                        await self._retire(engine, extra)
                if self.stop.is_set():
                    with contextlib.suppress(Exception):
                        await lease.release()
                    break
                reason = self.fenced_reason or "the lease lapsed"
                say(f"demoted to standby: {reason}")
                self.server.demote(reason)
                if outage:
                    with contextlib.suppress(Exception):
                        await lease.release()
                    await self._wait(self.stop, min(backoff_cap, ttl_ms / 1000) * random.uniform(0.5, 1.0))
        finally:
            with contextlib.suppress(Exception):
                await client.aclose()

    async def _renew(self, lease: Any) -> None:
        """Extend the lease every third of its time; give up leadership before it can lapse unnoticed."""
        interval = lease.ttl_ms / 3000
        last_ok = time.monotonic()
        while True:
            await asyncio.sleep(interval)
            try:
                if not await lease.renew():
                    self.fenced_reason = "another engine holds the lease"
                    self.lost.set()
                    return
                last_ok = time.monotonic()
            except Exception as exc:
                if time.monotonic() > lease.valid_until or time.monotonic() - last_ok > lease.ttl_ms / 1000 * 0.8:
                    self.fenced_reason = f"cannot renew the lease ({redact_text(str(exc))})"
                    self.lost.set()
                    return

    # The loop --------------------------------------------------------------------------------------------
    def _build(self, journal: Any, epoch: int | None) -> tuple[Any, dict[str, Any]]:
        from cockpit.engine.loop import Engine, run_soon
        from cockpit.engine.session import make_clock
        from cockpit.plugins import PluginHost

        host = PluginHost()
        clock = make_clock(self.config)
        engine = Engine(
            self.config, host, journal, clock, operator=self.args.operator or None, strategy=self.args.strategy
        )
        try:
            engine.start()
        except BaseException:
            run_soon(engine.aclose())  # the plugin objects created before the failure
            journal.close()
            raise
        extra: dict[str, Any] = {"pilot": None, "simulator": None, "finished": engine.journal.last("drill_scorecard")}
        if self.args.autopilot:
            from cockpit.engine.drill import Autopilot, _restore_pilot

            pilot = Autopilot(engine)
            _restore_pilot(pilot, engine)
            extra["pilot"] = pilot
        if engine.backends.names["router"] == "mock":  # a game day on the simulator: it keeps the score
            name = "mock"
            extra["simulator"] = host.create("simulator", name, self.config.options_for(name), engine.context)
        return engine, extra

    @staticmethod
    async def _retire(engine: Any, extra: dict[str, Any]) -> None:
        """An engine stepping down or stopping: its plugins' objects are closed with it (``aclose``), then
        the simulator that kept its score, then its journal; a failure in one never stops the others."""
        with contextlib.suppress(Exception):
            await engine.aclose()
        if extra.get("simulator") is not None:
            with contextlib.suppress(Exception):
                extra["simulator"].close()
        with contextlib.suppress(Exception):
            engine.journal.close()

    async def _lead(self, engine: Any, extra: dict[str, Any]) -> None:
        tick_s = self.config.file.cockpit.tick_s
        pilot = extra["pilot"]
        while not self.stop.is_set() and not self.lost.is_set():
            t0 = time.perf_counter()
            snap = await engine.tick()
            if self.metrics is not None:
                self.metrics.observe_tick(time.perf_counter() - t0)
            self.server.publish(snap)
            if pilot is not None:
                async with self.server._mutate:
                    await pilot.act()
            self._score(engine, extra)
            sleeping = asyncio.ensure_future(engine.clock.sleep(tick_s))
            await self._wait_any(sleeping)

    def _score(self, engine: Any, extra: dict[str, Any]) -> None:
        """A drill on the simulator: the scorecard goes to the journal once the rollback is done."""
        sim = extra["simulator"]
        if sim is None or extra["finished"] is not None or not engine.rollback.done:
            return
        declared = engine.incident.declared_at if engine.incident else None
        card = sim.scorecard(declared, sorted(engine.rollback.scope))
        data = {k: v for k, v in card.items() if k != "history"} | {"stages": engine.rollback.stage}
        engine.journal.append("drill_scorecard", data, engine.clock.now())
        extra["finished"] = data
        say(f"rollback finished at stage {engine.rollback.stage}; scorecard journaled")

    async def _wait_any(self, fut: asyncio.Future[Any]) -> None:
        stop = asyncio.ensure_future(self.stop.wait())
        lost = asyncio.ensure_future(self.lost.wait())
        try:
            await asyncio.wait({fut, stop, lost}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for f in (fut, stop, lost):
                f.cancel()

    @staticmethod
    async def _wait(event: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)
