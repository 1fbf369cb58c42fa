"""Command line: python3 -m camfleet_camera --url URL[,URL...] --id ID [options]. See README.md."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import sys

from . import verify
from .log import log
from .offers import Options
from .session import EXIT_OK, EXIT_USAGE, Identity, Session
from .state import StateDir

DEVICE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")  # section 2; never ':'


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        log("error", message=f"usage: {message}")
        sys.exit(EXIT_USAGE)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python3 -m camfleet_camera", description="A camfleet camera (device protocol 1).")
    p.add_argument("--url", required=True, help="pod base URLs, comma-separated (http://host:port)")
    p.add_argument("--id", required=True, dest="device_id", help="device id")
    cred = p.add_mutually_exclusive_group()
    cred.add_argument("--secret", help="device secret (else the one saved in --state-dir)")
    cred.add_argument("--enroll-token", help="enrollment token, used when no secret is known")
    p.add_argument("--state-dir", help="where the secret, firmware and downloads live (default: a temp dir)")
    p.add_argument("--model", default="camfleet-camera-py")
    p.add_argument("--firmware", default="1.0.0", help="firmware version (a version saved after an install wins)")
    p.add_argument("--label", action="append", default=[], metavar="K=V", help="a label (repeatable)")
    p.add_argument("--trusted-key", action="append", default=[], metavar="FILE.pem",
                   help="a pinned Ed25519 public key (repeatable)")
    p.add_argument("--require-signature", action="store_true", help="refuse unsigned or unknown-key patches")
    p.add_argument("--download-rate", type=float, metavar="BYTES_PER_SECOND", help="throttle downloads")
    p.add_argument("--reboot", action="store_true", help="report installed, restart, register the new version")
    p.add_argument("--progress-interval", type=float, default=1.0, metavar="SECONDS")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    urls = [u.strip() for u in args.url.split(",") if u.strip()]
    if not urls or not all(u.startswith(("http://", "https://")) for u in urls):
        parser.error("--url takes http(s):// base URLs")
    if not DEVICE_ID.match(args.device_id):
        parser.error("--id: 1-128 letters, digits, '.', '_' and '-', starting with a letter or digit")
    labels: dict[str, str] = {}
    for item in args.label:
        key, eq, value = item.partition("=")
        if not eq or not key:
            parser.error(f"--label takes k=v, not {item!r}")
        labels[key] = value
    if args.download_rate is not None and args.download_rate <= 0:
        parser.error("--download-rate must be positive")
    if args.progress_interval <= 0:
        parser.error("--progress-interval must be positive")
    try:
        keys = verify.load_pinned_keys(args.trusted_key)
    except (OSError, ValueError) as e:
        parser.error(f"--trusted-key: {e}")

    state = StateDir(args.state_dir)
    secret = args.secret or state.load_secret()
    if secret is None and not args.enroll_token:
        parser.error("no credentials: give --secret, --enroll-token, or a --state-dir holding a secret")
    identity = Identity(args.device_id, secret, args.enroll_token, args.model, labels)
    options = Options(keys, args.require_signature, args.download_rate, args.reboot, args.progress_interval)
    firmware = state.load_firmware() or args.firmware
    log("start", deviceId=args.device_id, stateDir=str(state.path), firmwareVersion=firmware,
        trustedKeys=sorted(keys), urls=urls)
    loop = asyncio.new_event_loop()
    code = loop.run_until_complete(_run(Session(urls, identity, state, options, firmware)))
    # Not asyncio.run(): it would wait for a download thread still blocked in the network (up to
    # its 30 s timeout). Everything worth keeping is on disk already (files are flushed as written).
    sys.stdout.flush()
    os._exit(code)


async def _run(session: Session) -> int:
    task = asyncio.get_running_loop().create_task(session.run())
    for sig in (signal.SIGTERM, signal.SIGINT):
        # A clean close: the session's `finally` closes the socket with 1000; partial files stay.
        asyncio.get_running_loop().add_signal_handler(sig, task.cancel)
    try:
        code = await task
    except asyncio.CancelledError:
        code = EXIT_OK
    log("exit", code=code)
    return code


if __name__ == "__main__":
    sys.exit(main())
