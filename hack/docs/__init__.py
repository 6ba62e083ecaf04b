"""Reference documentation generated from the code (metrics, configuration, API fields)."""
