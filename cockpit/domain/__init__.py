"""Pure data and logic: no I/O, no asyncio, no textual. Everything here is unit-testable."""
