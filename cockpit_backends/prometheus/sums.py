"""A shared query's answer summed as it is decoded.

The shared HTTP query returns one series per (tenant, revision, status code): 40,000 rows for 10,000
tenants. Everything the checks and the rates need from it is two sums per (tenant, revision), the requests
and the errors, so the answer is decoded straight into those (labels read as struct fields, not a dict per
series; structs the garbage collector does not track) in one pass, instead of into rows that each reader
walks again. The sums are kept per revision, then per tenant: the query is split by revision (a shard for
the old revision, one for the new, one for every other), and a shard that selects one revision is asked
without the revision label (``sum by (tenant, code)``), so its answer is a third smaller and its sums
need no (tenant, revision) key per row. ``benchmarks/bench_prometheus.py`` measures the whole tick."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import msgspec

PerTenant = dict[str | None, float]  # tenant (None for a series without the tenant label) -> sum


@dataclass(slots=True)
class Sums:
    """Requests and errors in the window per revision and tenant; the answer's sample time; its series."""

    total: dict[str, PerTenant] = field(default_factory=dict)
    errors: dict[str, PerTenant] = field(default_factory=dict)
    time: float = 0.0
    series: int = 0
    recorded_at: float | None = None  # read from recording rules: when Prometheus evaluated them

    def tenants(self) -> set[str]:
        out: set[str | None] = set()
        for per in self.total.values():
            out.update(per)
        out.discard(None)
        return out  # type: ignore[return-value]

    def per_tenant(self) -> dict[str, float]:
        """All requests per tenant, every revision."""
        out: PerTenant = {}
        for per in self.total.values():
            if not out:
                out.update(per)
                continue
            get = out.get
            for t, n in per.items():
                out[t] = get(t, 0.0) + n
        out.pop(None, None)
        return out  # type: ignore[return-value]


class Value(msgspec.Struct, array_like=True, gc=False):
    """A sample's ``[time, "value"]``, decoded into an untracked struct rather than a tuple per series."""

    time: float
    text: str


@lru_cache(maxsize=16)
def decoder(tenant: str, revision: str | None, code: str) -> msgspec.json.Decoder[Any]:
    """A decoder of a vector's result whose series carry (at most) these labels of interest; with
    `revision` None, a shard's answer without the revision label."""
    fields: list[Any] = [("t", str | None, None), ("c", str, "")]
    rename = {"t": tenant, "c": code}
    if revision is not None:
        fields.append(("r", str, ""))
        rename["r"] = revision
    metric = msgspec.defstruct("Metric", fields, rename=rename, gc=False)
    sample = msgspec.defstruct("Sample", [("metric", metric), ("value", Value)], gc=False)
    return msgspec.json.Decoder(list[sample])  # type: ignore[valid-type]


def summed(
    raw: bytes | msgspec.Raw, tenant: str, revision: str, code: str, errors: str, only: str | None = None
) -> Sums:
    """The vector in `raw` (the API answer's ``data.result``) summed per revision and tenant: all its
    requests, and those whose `code` label fully matches the regular expression `errors` (as PromQL's =~).
    With `only`, the query selected that one revision and its answer carries no revision label."""
    samples = decoder(tenant, None if only is not None else revision, code).decode(raw)
    is_error = re.compile(errors).fullmatch
    bad_codes: dict[str, bool] = {}
    out = Sums(series=len(samples))
    total: PerTenant = {}
    errs: PerTenant = {}
    rev = only
    for s in samples:
        m = s.metric
        if only is None and m.r != rev:
            rev = m.r
            total = out.total.setdefault(rev, {})
            errs = out.errors.setdefault(rev, {})
        t = m.t
        try:  # float() reads every value Prometheus writes ("0.5", "NaN", "+Inf")
            v = float(s.value.text)
        except ValueError:
            v = math.nan
        total[t] = total.get(t, 0.0) + v
        bad = bad_codes.get(m.c)
        if bad is None:
            bad = bad_codes[m.c] = is_error(m.c) is not None
        if bad:
            errs[t] = errs.get(t, 0.0) + v
    if only is not None and samples:
        out.total[only], out.errors[only] = total, errs
    if samples:
        out.time = samples[-1].value.time
    return out


def merged(parts: list[Sums]) -> Sums:
    """Several shards' sums as one (a shared query split by revision, summed back). The shards select
    disjoint revisions, so a revision's sums are taken as they are; one met twice is added up."""
    out = Sums()
    for part in parts:
        for mine, theirs in ((out.total, part.total), (out.errors, part.errors)):
            for rev, per in theirs.items():
                have = mine.get(rev)
                if have is None:
                    mine[rev] = per
                    continue
                for t, n in per.items():
                    have[t] = have.get(t, 0.0) + n
        out.series += part.series
        out.time = max(out.time, part.time)
    return out
