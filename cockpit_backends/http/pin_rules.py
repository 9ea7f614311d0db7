"""The documented offline rule of each provider: what a model id says about itself, with no API call.

A provider asks its API first (``classify``); these rules answer when the API cannot be reached, and
decide the cases the API alone cannot (a ``-latest`` alias that happens to answer as itself today). Each
rule is the provider's own documentation, cited in docs/backends/<provider>.md:

anthropic (platform.claude.com, "Model IDs and versions")
    ``…-YYYYMMDD``                  snapshot: a dated id (models before the 4.6 generation)
    ``…-latest``                    alias: points to the newest snapshot
    ``claude-NAME-M-0``             alias: e.g. ``claude-opus-4-0`` -> ``claude-opus-4-20250514``
    ``claude-NAME-M-N``, M.N >= 4.6 snapshot: from the 4.6 generation dateless ids are the model id and
                                    never change (``claude-opus-4-6``)
    ``claude-NAME-M-N``, M.N < 4.6  alias: a convenience alias to the newest dated snapshot of that
                                    minor version (``claude-sonnet-4-5``)
openai (platform.openai.com, "Models": snapshots)
    ``…-YYYY-MM-DD``, ``…-MMDD``    snapshot: a dated snapshot (``gpt-4o-2024-08-06``, ``gpt-4-0613``)
    ``…@rev-…``, ``…@sha256:…``     snapshot: a self-hosted revision or weights hash
    ``…-latest``, undated ``gpt-…``/``o1…``/``chatgpt-…``   alias: points to the newest snapshot
bedrock (docs.aws.amazon.com/bedrock, model ids, inference profiles, ARNs)
    ``PROVIDER.NAME-…-vN:M``, dated, or ``:N``   snapshot: a version-qualified foundation model id
    ``anthropic.claude-…``         the anthropic rule on the id without ``anthropic.`` and ``-vN[:M]``
    ``us.``/``eu.``/``apac.``/``global.``… + a model id   the rule of the model id (a system-defined
                                    cross-region profile routes to that one model)
    ``arn:…:foundation-model/ID``, ``arn:…:inference-profile/ID``   the rule of ID
    ``arn:…:application-inference-profile/…``   unknown: only GetInferenceProfile says what it routes to
vertex (cloud.google.com/vertex-ai, "Model versions and lifecycle"; Claude on Vertex)
    ``NAME@YYYYMMDD``, ``NAME@NNN`` snapshot: a versioned publisher model
    ``gemini-…-NNN``                snapshot: a stable version, "does not change"
    ``…-latest``, ``gemini-1.x-…``/``gemini-2.0-…`` without a version   alias: an auto-updated alias
    ``claude-…``                    the anthropic rule

Anything else is unknown: never taken as pinned.
"""

from __future__ import annotations

import re

from cockpit.domain.pins import PinClass, alias, generic_rule, snapshot, unknown

_DATED8 = re.compile(r".+-\d{8}$")
_CLAUDE = re.compile(r"^claude-([a-z]+)-(\d+)-(\d+)$")
_CLAUDE_OLD = re.compile(r"^claude-(\d+)-(\d+)-([a-z]+)$")  # claude-3-5-sonnet (undated)


def anthropic_rule(ref: str) -> PinClass:
    if _DATED8.match(ref):
        return snapshot(ref, "a dated Anthropic model id")
    if ref.endswith("-latest"):
        return alias(ref, "a '-latest' alias points to the newest snapshot")
    m = _CLAUDE.match(ref)
    if m:
        major, minor = int(m.group(2)), int(m.group(3))
        if minor == 0:
            return alias(ref, "a '-0' alias points to the dated snapshot of that major version")
        if (major, minor) >= (4, 6):
            return snapshot(ref, "a dateless Anthropic model id (4.6 generation and later) never changes")
        return alias(ref, "a dateless id before the 4.6 generation is an alias to the newest dated snapshot")
    if _CLAUDE_OLD.match(ref):
        return alias(ref, "an undated Claude 3 name is an alias to the newest dated snapshot")
    return _generic(ref)


_OPENAI_DATED = re.compile(r".+-(\d{4}-\d{2}-\d{2}|\d{4})$")
_OPENAI_FAMILY = re.compile(r"^(gpt-|chatgpt-|o\d)")


def openai_rule(ref: str) -> PinClass:
    if ref.endswith("-latest"):
        return alias(ref, "a '-latest' name points to the newest snapshot")
    if _OPENAI_DATED.match(ref):
        return snapshot(ref, "a dated snapshot id")
    if generic_rule(ref).pinned:
        return generic_rule(ref)
    if _OPENAI_FAMILY.match(ref):
        return alias(ref, "an undated OpenAI model name points to its newest snapshot")
    return _generic(ref)


_ARN = re.compile(r"^arn:aws[a-z-]*:bedrock:[a-z0-9-]*:\d*:([a-z-]+)/(.+)$")
_GEO = re.compile(r"^(us|eu|apac|global|us-gov|jp|au|ca)\.([a-z0-9-]+\..+)$")
_BEDROCK_VERSION = re.compile(r"-v\d+(:\d+)?$|:\d+$")


def bedrock_target(ref: str) -> tuple[str, str]:
    """(kind, id): kind is "foundation-model", "inference-profile" (system-defined, geo prefix),
    "application-inference-profile" or another ARN resource type; id is the part after it."""
    m = _ARN.match(ref)
    if m:
        return m.group(1), m.group(2)
    if _GEO.match(ref):
        return "inference-profile", ref
    return "foundation-model", ref


def bedrock_rule(ref: str) -> PinClass:
    kind, ident = bedrock_target(ref)
    if kind == "application-inference-profile":
        return unknown(ref, "an application inference profile: only GetInferenceProfile says what it routes to")
    if kind == "inference-profile":
        g = _GEO.match(ident)
        inner = bedrock_rule(g.group(2)) if g else unknown(ident, "not a system-defined profile id")
        return PinClass(inner.kind, ref, ref if inner.pinned else "", f"a cross-region profile of {inner.reason}")
    if kind != "foundation-model":
        return unknown(ref, f"a Bedrock {kind} ARN: no documented rule")
    if ident.startswith("anthropic.claude-"):
        inner = anthropic_rule(_BEDROCK_VERSION.sub("", ident.removeprefix("anthropic.")))
        if inner.pinned or inner.kind == "alias":
            return PinClass(inner.kind, ref, ref if inner.pinned else "", inner.reason)
    if _DATED8.match(_BEDROCK_VERSION.sub("", ident)) or re.search(r"-v\d+:\d+$|:\d+$", ident):
        return snapshot(ref, "a version-qualified Bedrock foundation model id")
    return unknown(ref, "a Bedrock model id without a version: only GetFoundationModel says what it is")


_VERTEX_AT = re.compile(r"^[a-z0-9.-]+@(\d{8}|\d{3})$")
_GEMINI_STABLE = re.compile(r"^gemini-.+-\d{3}$")
_GEMINI_AUTO = re.compile(r"^gemini-(1\.\d|2\.0)-[a-z-]+$")


def vertex_rule(ref: str) -> PinClass:
    model = ref.rsplit("/", 1)[-1]  # publishers/google/models/NAME
    if _VERTEX_AT.match(model):
        return snapshot(ref, "a versioned Vertex AI publisher model (NAME@VERSION)")
    if _GEMINI_STABLE.match(model):
        return snapshot(ref, "a Gemini stable version (-NNN) does not change")
    if model.endswith("-latest") or _GEMINI_AUTO.match(model):
        return alias(ref, "an auto-updated alias points to the latest stable version")
    if model.startswith("claude-"):
        inner = anthropic_rule(model)
        return PinClass(inner.kind, ref, ref if inner.pinned else "", inner.reason)
    return _generic(ref)


def _generic(ref: str) -> PinClass:
    g = generic_rule(ref)
    return g if g.pinned else unknown(ref, "no documented rule says whether it is pinned")


RULES = {"anthropic": anthropic_rule, "openai-compatible": openai_rule, "bedrock": bedrock_rule, "vertex": vertex_rule}
