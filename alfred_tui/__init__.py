"""alfred-tui: the terminal control plane for the Alfred platform's databases."""

__version__ = "0.1.0"
