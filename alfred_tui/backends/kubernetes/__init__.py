"""The Kubernetes backend's parts: names, manifests, client access, errors, streams.

:mod:`.names` and :mod:`.manifests` are plain Python (no SDK import), so
``alfred-tui render`` and the tests of the manifests never load the
``kubernetes`` package. Everything that talks to a cluster imports the SDK
inside its functions; :class:`alfred_tui.backends.kubernetes.backend.KubernetesBackend`
ties the parts together.
"""
