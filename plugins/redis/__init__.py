"""cockpit backend plugin: redis (being written)."""
