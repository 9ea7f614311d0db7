"""`cockpit plugins check --write` against plugins that break the contract in each way the issue lists:
each is registered through a PluginHost as a real plugin would be, checked by `check_backend` (what the
CLI runs), and must fail with exactly the lines below; a correct plugin passes and every share it was
moved by the check is back where it was."""

from __future__ import annotations

import asyncio
import math
import re
import time
from pathlib import Path

import pytest

from cockpit.contract import Check, Limits, check_backend, check_health, check_router
from cockpit.hookspecs import ApplyResult, BackendContext, BackendSpec, SignalReading, TrafficReading, hookimpl
from cockpit.plugins import PluginHost

START = {"acme": 1.0, "globex": 0.5, "initech": 0.0}
MOVE = "apply_shares (moved acme, globex by 0.01 and back)"
UNWRITTEN = (
    "FAIL  router     " + MOVE + ": apply_shares claimed tenant {!r} at {}, but read_traffic reads {}: not written"
)


class Router:
    """A correct in-memory router: the backend these test plugins front is a dict."""

    def __init__(self) -> None:
        self.shares = dict(START)
        self.seen: dict[str, ApplyResult] = {}

    async def read_traffic(self) -> TrafficReading:
        return TrafficReading(dict(self.shares), dict.fromkeys(self.shares, 10.0))

    async def apply_shares(self, shares, request_id):
        if request_id not in self.seen:
            self.shares.update(self.write(dict(shares)))
            self.seen[request_id] = self.result(dict(shares))
        return self.seen[request_id]

    def write(self, shares):
        return shares

    def result(self, shares):
        return ApplyResult(applied=shares)


class WritesNothing(Router):
    def write(self, shares):
        return {}


class DropsATenant(Router):
    def result(self, shares):
        return ApplyResult(applied={t: s for t, s in shares.items() if t != "globex"})


class ClaimsUnwritten(Router):
    def write(self, shares):
        return {t: s for t, s in shares.items() if t != "globex"}


class ClaimsUnasked(Router):
    def result(self, shares):
        return ApplyResult(applied={**shares, "umbrella": 0.5})


class BlockingRead(Router):
    async def read_traffic(self) -> TrafficReading:
        time.sleep(0.8)  # a synchronous client inside async def
        return await super().read_traffic()


class SyncRead(Router):
    def read_traffic(self):  # type: ignore[override]
        return TrafficReading(dict(self.shares), {})


class RaisingRead(Router):
    async def read_traffic(self) -> TrafficReading:
        rows: dict[str, float] = {}
        return TrafficReading({"acme": rows["route"]}, {})  # RAISES HERE


class BadReading(Router):
    async def read_traffic(self) -> TrafficReading:
        return TrafficReading({"acme": 1.0, 7: 0.5}, {"acme": math.inf, "globex": 30_000.0})  # type: ignore[dict-item]


def _line_of(marker: str) -> int:
    return next(
        i for i, ln in enumerate(Path(__file__).read_text().splitlines(), 1) if marker in ln and "next(" not in ln
    )


def run_checks(router_cls, write=True, **limits) -> tuple[list[str], Router]:
    made: list[Router] = []

    def factory(role, options, context):
        made.append(router_cls())
        return made[-1]

    class Plugin:
        @hookimpl
        def cockpit_backends(self):
            return [BackendSpec("t", frozenset({"router"}), factory)]

    host = PluginHost(entry_points=False, plugins=[("t", Plugin())])
    results = asyncio.run(check_backend(host, "t", {}, BackendContext(None, "."), write=write, **limits))
    return [r.line() for r in results if not r.ok], (made[0] if made else Router())


def test_a_correct_router_passes_and_is_left_as_it_was():
    fails, router = run_checks(Router)
    assert fails == []
    assert router.shares == START


@pytest.mark.parametrize(
    ("cls", "expected"),
    [
        (
            WritesNothing,
            [
                UNWRITTEN.format("acme", 0.99, 1.0),
                UNWRITTEN.format("globex", 0.49, 0.5),
            ],
        ),
        (
            DropsATenant,
            [f"FAIL  router     {MOVE}: apply_shares dropped tenant 'globex': in neither applied nor failed"],
        ),
        (
            ClaimsUnwritten,
            [UNWRITTEN.format("globex", 0.49, 0.5)],
        ),
        (
            ClaimsUnasked,
            [f"FAIL  router     {MOVE}: apply_shares reported tenant 'umbrella', which it was not asked to set"],
        ),
    ],
)
def test_a_broken_write_path_fails_naming_the_tenant_and_nothing_is_left_moved(cls, expected):
    fails, router = run_checks(cls)
    assert fails == expected
    assert router.shares == START  # the check restored what it moved (DropsATenant did write both)


def test_a_read_that_blocks_the_event_loop_fails_with_its_latency():
    fails, _ = run_checks(BlockingRead, write=False)
    (line,) = fails
    m = re.fullmatch(
        r"FAIL  router     read_traffic: read_traffic blocked the event loop for (\d+\.\d\d) s \(bound 0\.25 s\): .*",
        line,
    )
    assert m and 0.75 <= float(m.group(1)) < 3.0, line


def test_latency_is_reported_when_the_loop_stays_free():
    results = asyncio.run(check_router(Router()))
    assert re.fullmatch(r"PASS  router     read_traffic: 3 tenants; \d+ ms, event loop free", results[0].line())


def test_a_plain_def_is_named_at_create_and_by_the_check():
    fails, _ = run_checks(SyncRead)
    assert fails == [
        "FAIL  router     create: backend 't': SyncRead.read_traffic is a plain def; the 'router' role requires "
        "async def read_traffic(...)"
    ]
    (line,) = [r.line() for r in asyncio.run(check_router(SyncRead()))]
    assert line == (
        "FAIL  router     read_traffic: read_traffic is a plain def; the router role requires async def "
        "read_traffic(...) (it returned TrafficReading, not an awaitable)"
    )


def test_an_exception_names_the_plugin_s_file_and_line():
    fails, _ = run_checks(RaisingRead)
    n = _line_of("# RAISES HERE")
    assert fails == [
        f"FAIL  router     read_traffic: KeyError: 'route' (at tests/test_contract_checks.py:{n} in read_traffic)"
    ]


def test_bad_tenant_keys_and_rates_are_named():
    fails, _ = run_checks(BadReading)
    assert fails == [
        "FAIL  router     read_traffic: tenant key 7 is int, not a string (tenant names are str)",
        "FAIL  router     read_traffic: rate for 'acme' is inf (not finite): report it as unknown instead",
        "FAIL  router     read_traffic: rate for 'globex' is 30,000 rps, above the bound of 20,000 per tenant "
        "(per-minute figures? rates are requests per second)",
    ]


# Health --------------------------------------------------------------------------------------------


class Health:
    def __init__(self, severities=None, rates=None):
        self.severities = severities if severities is not None else {"acme": 0.5}
        self._rates = rates

    async def regressions(self):
        return self.severities

    async def rates(self):
        if isinstance(self._rates, Exception):
            raise self._rates
        return self._rates if self._rates is not None else {"acme": 10.0}


def health_lines(h, threshold=0.2) -> list[str]:
    return [r.line() for r in asyncio.run(check_health(h, limits=Limits(threshold=threshold)))]


def test_a_health_plugin_returning_a_list_is_told_the_expected_type():
    assert health_lines(Health(severities=["acme"]))[0] == (
        "FAIL  health     regressions: regressions returned list; expected a Mapping[str, float] "
        "(tenant -> severity 0..1) or a SignalReading"
    )


def test_nan_percent_and_non_string_severities_name_the_tenant():
    lines = health_lines(Health(severities={"acme": math.nan, "globex": 35.0, 3: 0.5}))
    assert [ln for ln in lines if ln.startswith("FAIL")] == [
        "FAIL  health     regressions: tenant key 3 is int, not a string (tenant names are str)",
        "FAIL  health     regressions: severity for 'acme' is NaN: report the tenant as unknown (SignalReading) "
        "instead",
        "FAIL  health     regressions: severity for 'globex' is 35, outside 0..1 (a percent? divide by 100)",
    ]


def test_regressing_counts_only_at_or_above_the_threshold():
    lines = health_lines(Health(severities={"acme": 0.01, "globex": 0.2, "initech": 0.9}), threshold=0.2)
    assert re.fullmatch(
        r"PASS  health     regressions: 3 read, 2 regressing \(severity >= 0\.2\), 1 below the threshold; \d+ ms",
        lines[0],
    )


@pytest.mark.parametrize(
    ("rates", "expected"),
    [
        (
            {"acme": 600.0 * 60},
            "rate for 'acme' is 36,000 rps, above the bound of 20,000 per tenant (per-minute figures? rates are "
            "requests per second)",
        ),
        ({"acme": math.nan}, "rate for 'acme' is nan (not finite): report it as unknown instead"),
        ({"acme": -1.0}, "rate for 'acme' is negative (-1 rps)"),
        (
            [10.0],
            "rates returned list; expected a Mapping[str, float] (tenant -> requests per second) or a SignalReading",
        ),
    ],
)
def test_rates_are_called_and_checked(rates, expected):
    assert health_lines(Health(rates=rates))[1:] == [f"FAIL  health     rates: {expected}"]


def test_rates_that_raise_fail_with_the_plugin_s_line():
    (line,) = health_lines(Health(rates=RuntimeError("no prometheus")))[1:]
    assert line.startswith("FAIL  health     rates: RuntimeError: no prometheus (at tests/test_contract_checks.py:")


def test_a_signal_reading_with_unknowns_passes_with_a_coverage_warning():
    reading = SignalReading({"acme": 10.0}, unknown={"globex": "too few samples: 3 < 20"})
    lines = health_lines(Health(severities=SignalReading({"acme": 0.0, "globex": 0.0}), rates=reading))
    assert lines[1].startswith("PASS  health     rates: warning: partial coverage, 1 of 2 tenants have a rate")


def test_check_results_are_plain_values():
    assert Check("router", "x", False, "why").line() == "FAIL  router     x: why"


# The fault-injecting wrapper of cockpit.testing ------------------------------------------------------


def test_faulty_wrapper_injects_what_the_checks_catch():
    from cockpit.testing import Faulty, failures

    def lines(**faults):
        return failures(asyncio.run(check_router(Faulty(Router(), **faults), write=True)))

    assert lines() == []
    assert lines(lie=True) == [UNWRITTEN.format("acme", 0.99, 1.0), UNWRITTEN.format("globex", 0.49, 0.5)]
    assert lines(drop=frozenset({"acme"})) == [
        f"FAIL  router     {MOVE}: apply_shares dropped tenant 'acme': in neither applied nor failed"
    ]
    (blocked,) = lines(latency_s=0.4, blocking=True, methods=frozenset({"read_traffic"}))
    assert "read_traffic blocked the event loop for 0.4" in blocked
    assert lines(latency_s=0.4) == []  # awaited latency does not block the loop
    (raised,) = lines(error=ConnectionError("router down"), methods=frozenset({"read_traffic"}))
    assert raised.startswith("FAIL  router     read_traffic: ConnectionError: router down (at ")


class PartialRates(Router):
    async def read_traffic(self) -> TrafficReading:
        return TrafficReading(dict(self.shares), {"acme": 10.0})


def test_rates_covering_only_some_tenants_are_a_warning():
    line = asyncio.run(check_router(PartialRates()))[0].line()
    assert line.startswith(
        "PASS  router     read_traffic: 3 tenants (warning: rates cover 1 of 3 tenants; none for globex, initech); "
    )
