"""Textual widgets shared by the panes: header, tabs, tables, progress."""
