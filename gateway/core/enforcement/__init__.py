"""Enforcement on the wire: which cookies pass, which scripts and embeds stay inert, how
the banner gets into HTML, and which cookies an upstream sets."""
