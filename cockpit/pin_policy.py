"""Which model references count as pinned, asked of the configured provider.

Loading cockpit.toml refuses an alias where a pin is required with no network call: a dated, ``@rev-…``
or ``@sha256:…`` id is pinned for every provider; anything else goes to the configured provider's
documented offline rule (``BackendSpec.pin_rule``). ``cockpit lint`` and ``cockpit pin`` ask the
provider's API (``classify``), falling back to the same rule when it cannot answer, and say so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cockpit.domain.pins import PinClass, alias, describe, generic_rule, unknown
from cockpit.domain.revisions import is_pinned, require_pinned
from cockpit.errors import CockpitError, ConfigError

Rule = Callable[[str], PinClass]


def provider_rule(provider: str, host: Any = None) -> Rule | None:
    """The named provider backend's documented offline rule, or None when it has none (or is unknown)."""
    from cockpit.plugins import PluginHost

    try:
        spec = (host or PluginHost()).backends().get(provider)
    except CockpitError:
        return None
    return getattr(spec, "pin_rule", None) if spec is not None else None


def require_pinned_by(provider: str, ref: object, where: str) -> None:
    """Raise one sentence when `ref` is not a pinned revision by the provider's offline rule."""
    if isinstance(ref, str) and is_pinned(ref):
        return
    rule = provider_rule(provider) if isinstance(ref, str) and ref else None
    if rule is None:
        require_pinned(ref, where)  # the generic rule's sentence
        return
    c = rule(str(ref))
    if c.pinned:
        return
    raise ConfigError(
        f"{where}: {ref!r} {describe(c)}, by the {provider} provider's documented offline rule; "
        "use a pinned id (`cockpit lint` asks the provider, `cockpit pin` resolves and locks)"
    )


async def classify(provider: Any, value: str, rule: Rule | None = None, why: str = "") -> PinClass:
    """Ask the provider; without its ``classify``, the generic rule then ``resolve``; without a provider,
    its documented offline rule (saying why it is offline), else unknown. Never raises."""
    if provider is not None and hasattr(provider, "classify"):
        try:
            return await provider.classify(value)
        except Exception as exc:  # a plugin's failure is the answer's reason, never a traceback
            return unknown(value, f"the provider failed: {type(exc).__name__}: {exc}")
    if provider is None:
        if rule is not None:
            return rule(value).when_offline(why or "no provider")
        g = generic_rule(value)
        return g if g.pinned else unknown(value, f"no provider backend to resolve it ({why or 'none configured'})")
    g = generic_rule(value)
    if g.pinned:
        return g
    try:
        revision = await provider.resolve(value)
    except LookupError:  # the provider does not know the name: a plain sentence, no exception's name
        return unknown(value, "unknown to the provider")
    except Exception as exc:
        return unknown(value, f"the provider could not resolve it: {str(exc).strip(chr(34) + chr(39)) or 'no reason'}")
    return alias(value, "not a dated, '@rev-…' or '@sha256:…' id", str(revision))
