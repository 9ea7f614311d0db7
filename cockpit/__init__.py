"""cockpit: a terminal incident cockpit that rolls back a bad LLM model upgrade in minutes."""

__version__ = "0.1.0"
