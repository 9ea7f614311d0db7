"""cockpit backend plugin: haproxy (being written)."""
