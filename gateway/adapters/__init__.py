"""Adapters: I/O behind small protocols (store, GeoIP, user agents, batch writers, jobs,
config file, clock, packaged files)."""
