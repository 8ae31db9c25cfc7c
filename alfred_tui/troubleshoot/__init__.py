"""Runbooks: the spec's Troubleshooting table as live diagnoses with remedies.

One module per runbook, :mod:`.registry` lists them, :mod:`.context` holds the
connections they share, :mod:`.output` prints a report. Nothing here imports
textual: the Troubleshoot pane runs :meth:`Runbook.run` in a worker and shows
the :class:`~.model.RunbookReport` it returns; the remedies that change
something are confirm-first functions (:mod:`alfred_tui.database_actions`).
"""
