"""Textual screens: the panes (one per mode) and the dialogs over them.

Screens talk to :mod:`alfred_tui.control` only; they never import an engine
SDK or a database client (``tests/test_ui_architecture.py`` checks).
"""
