"""``python -m bridge`` runs the ``zalo-bridge`` command line."""

from bridge.cli import main

main()
