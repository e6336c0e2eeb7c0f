"""First-party analytics: the ingestion pipeline, its values, the stats, page tokens."""
