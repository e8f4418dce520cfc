"""``python -m bridge`` runs the ``zalo-bridge`` command line."""

from bridge.cli.entry import main

main()
