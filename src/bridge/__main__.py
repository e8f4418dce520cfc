"""``python -m bridge`` runs the ``zalo-bridge`` command line."""

from bridge.cli.main import main

main()
