"""The security audit: the spec's Security section as checks with fixes.

:mod:`.profile_checks` reads the profile, :mod:`.live_checks` the running
servers, :mod:`.manifest_checks` Kubernetes manifests; :mod:`.runner` runs
them and :mod:`.output` prints the :class:`~.model.AuditReport`. Nothing here
imports textual, docker or kubernetes.
"""
