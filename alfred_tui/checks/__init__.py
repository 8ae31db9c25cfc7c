"""Health checks: probe each service, judge its metrics, report for people and machines.

Shared by ``alfred-tui check`` (one pass, then exit) and the UI's overview
(the same probes kept open and polled).
"""
