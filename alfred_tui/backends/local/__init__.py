"""The local engine: the databases as processes on this machine.

:class:`~alfred_tui.backends.local.backend.LocalBackend` is the engine's
class; :mod:`.runner` and the per-server runners start, stop and watch the
processes, :mod:`.processes` recognises them.
"""
