"""Run the simulator as its own process on loopback.

    python -m betguard_devkit.simulator --host 127.0.0.1 --port 0 --port-file PATH \\
        --provider-secret S --wallet-secret S [--seed N] [--knobs JSON]

With ``--port 0`` the OS picks a free port; the actual port is written
atomically to ``--port-file`` so a parent process can wait for it. The
simulator fakes money and signatures, so it refuses to listen anywhere but
loopback.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from werkzeug.serving import make_server

from betguard_devkit.simulator.app import create_app
from betguard_devkit.simulator.keepalive import KeepAlive, KeepAliveHandler
from betguard_devkit.simulator.knobs import KnobError, Knobs
from betguard_devkit.simulator.state import SimState

PROVIDER_SECRET_ENV = "SIMULATOR_PROVIDER_SECRET"  # noqa: S105 - a variable name
WALLET_SECRET_ENV = "SIMULATOR_WALLET_SECRET"  # noqa: S105 - a variable name
NOTIFY_SECRET_ENV = "SIMULATOR_NOTIFY_SECRET"  # noqa: S105 - a variable name


class ConfigError(Exception):
    """A start-up setting was refused; the message says which and why."""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m betguard_devkit.simulator",
        description="Game provider and wallet simulator (loopback only).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one")
    parser.add_argument("--port-file", type=Path, help="write the actual port here")
    parser.add_argument("--provider-secret", help=f"defaults to ${PROVIDER_SECRET_ENV}")
    parser.add_argument("--wallet-secret", help=f"defaults to ${WALLET_SECRET_ENV}")
    parser.add_argument("--notify-secret", help=f"defaults to ${NOTIFY_SECRET_ENV}; without "
                        "it the game server's notification endpoint answers 404")
    parser.add_argument("--dialect", default="generic",
                        choices=("generic", "pgsoft", "pragmatic"),
                        help="the provider API to speak (the wallet and controls are the same)")
    parser.add_argument("--seed", type=int, default=None, help="seed for every random choice")
    parser.add_argument("--knobs", default=None, help="initial knobs as a JSON object")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.add_argument(
        "--container",
        action="store_true",
        help="allow a non-loopback --host: only inside a container's private network, or a "
             "drill's network namespace (betguard_devkit/netns.py)",
    )
    return parser.parse_args(argv)


def check_loopback(host: str) -> str:
    """Refuse anything but 127.0.0.0/8, ::1 and localhost."""
    if host == "localhost":
        return host
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        raise ConfigError(f"--host {host!r} is not a loopback address") from None
    if not address.is_loopback:
        raise ConfigError(f"--host {host!r} is not a loopback address; refusing to bind it")
    return str(address)


def secret(flag: str | None, env_name: str, label: str) -> str:
    """Flags win over the environment; an empty secret is refused."""
    value = flag if flag else os.environ.get(env_name, "")
    if not value:
        raise ConfigError(f"the {label} secret is required (--{label}-secret or ${env_name})")
    return value


def initial_knobs(raw: str | None) -> Knobs:
    if raw is None:
        return Knobs()
    try:
        changes = json.loads(raw)
    except ValueError as exc:
        raise ConfigError(f"--knobs is not valid JSON: {exc}") from None
    try:
        return Knobs().updated(changes)
    except KnobError as exc:
        raise ConfigError(f"--knobs: {exc}") from None


def write_port_file(path: Path, port: int) -> None:
    """Write then rename, so a reader never sees a partial file."""
    directory = path.parent if str(path.parent) else Path(".")
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="ascii") as stream:
            stream.write(f"{port}\n")
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def stop_on_signals() -> threading.Event:
    """Turn SIGTERM and SIGINT into an event, so the server can shut down cleanly."""
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stop


def run(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    host = args.host if args.container else check_loopback(args.host)
    provider_secret = secret(args.provider_secret, PROVIDER_SECRET_ENV, "provider")
    wallet_secret = secret(args.wallet_secret, WALLET_SECRET_ENV, "wallet")
    state = SimState(seed=args.seed, knobs=initial_knobs(args.knobs))
    stop = stop_on_signals()
    notify_secret = args.notify_secret or os.environ.get(NOTIFY_SECRET_ENV) or None
    app = create_app(state, provider_secret, wallet_secret, notify_secret, dialect=args.dialect)
    if not args.access_log:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server(host, args.port, KeepAlive(app), threaded=True,
                         request_handler=KeepAliveHandler)
    port = server.server_port
    if args.port_file is not None:
        write_port_file(args.port_file, port)
    shown = f"[{host}]" if ":" in host else host
    print(f"simulator listening on http://{shown}:{port}", flush=True)
    serving = threading.Thread(target=server.serve_forever, name="simulator", daemon=True)
    serving.start()
    try:
        while not stop.wait(timeout=1.0):
            pass
    finally:
        server.shutdown()
        server.server_close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(argv)
    except ConfigError as exc:
        print(f"simulator: {exc}", file=sys.stderr, flush=True)
        return 2
    except OSError as exc:
        print(f"simulator: cannot start: {exc}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
