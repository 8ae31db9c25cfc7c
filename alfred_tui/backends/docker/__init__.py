"""The Docker engine: the profile's databases as Compose-labelled containers.

:class:`~alfred_tui.backends.docker.backend.DockerBackend` is the engine's
class; the other modules do one job each. Importing this package imports no
SDK: ``docker`` is loaded inside the functions that talk to the engine.
"""
