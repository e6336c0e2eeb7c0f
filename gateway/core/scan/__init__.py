"""The consent scan (pure): what a browser saw on a site before a decision, after "Reject all"
and after "Accept all" (`findings.py`), and the report made of it (`report.py` for the table
and JSON, `htmlreport.py` for the page a site owner keeps). The browser itself is driven by
`gateway/adapters/scanner.py`."""
