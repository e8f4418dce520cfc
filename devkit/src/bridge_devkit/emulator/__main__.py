"""`python -m bridge_devkit.emulator`: the same as the `zalo-oa-emulator` command."""

from bridge_devkit.emulator.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
