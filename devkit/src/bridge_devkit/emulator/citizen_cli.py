"""`zalo-oa-emulator citizen run SCRIPT.json --url URL`: play a scripted citizen on an emulator.

A command-line tool: it prints its report on standard output.
"""
# ruff: noqa: T201 - a command-line tool reports on standard output

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import httpx

__all__ = ["citizen_main"]

_USAGE_ERROR = 2


def citizen_main(argv: list[str]) -> int:
    """Run the `citizen` subcommand; return 0 when the script passed, 1 when it did not."""
    parser = argparse.ArgumentParser(
        prog="zalo-oa-emulator citizen",
        description="Play a scripted citizen on a running emulator (POST /_emulator/scripts) "
        "and wait for the outcome.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start a script and wait for it to end")
    run.add_argument(
        "script", type=Path, help="the script, JSON (see GET /_emulator/scripts/schema)"
    )
    run.add_argument(
        "--url", required=True, help="the emulator's base URL, e.g. http://127.0.0.1:8080"
    )
    run.add_argument("--json", action="store_true", help="print the run as JSON")
    args = parser.parse_args(argv)
    try:
        script = json.loads(args.script.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"cannot read {args.script}: {exc}", file=sys.stderr)
        return _USAGE_ERROR
    budget_s = float(script.get("timeout_s", 300.0)) + 10.0 if isinstance(script, dict) else 310.0
    try:
        with httpx.Client(base_url=args.url, timeout=30.0) as client:
            started = client.post("/_emulator/scripts", json=script)
            if started.status_code == 400:  # noqa: PLR2004 - a refused script
                print(f"script refused: {started.text}", file=sys.stderr)
                return _USAGE_ERROR
            started.raise_for_status()
            run = started.json()
            deadline = time.monotonic() + budget_s
            while run["status"] == "running" and time.monotonic() < deadline:
                answer = client.get(f"/_emulator/scripts/{run['id']}", params={"wait_s": 20})
                answer.raise_for_status()
                run = answer.json()
    except httpx.HTTPError as exc:
        print(f"cannot reach the emulator at {args.url}: {exc}", file=sys.stderr)
        return 1
    _print(run, as_json=args.json)
    return 0 if run["status"] == "passed" else 1


def _print(run: dict[str, object], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(run, ensure_ascii=False, indent=2))
        return
    print(f"{run['id']} ({run['user_id']}): {run['status']}")
    steps = run.get("steps")
    for step in steps if isinstance(steps, list) else []:
        detail = f" - {step['detail']}" if step.get("detail") else ""
        print(f"  {step['index']:>2} {step['do']:<13} {step['status']}{detail}")
    if run.get("error"):
        print(f"error: {run['error']}")
