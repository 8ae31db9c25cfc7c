"""`python -m alfred_tui` runs the same CLI as the `alfred-tui` script."""

from alfred_tui.cli import main

main()
