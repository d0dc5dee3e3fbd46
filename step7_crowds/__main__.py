"""Start this stage's server: python -m <stage> [--host HOST] [--port PORT]."""

import argparse
import asyncio
import logging

from .app import create_app
from .crowds import serve
from .floods import MESSAGES_PER_SECOND


def main() -> None:
    parser = argparse.ArgumentParser(description="Start this stage's WebSocket server.")
    parser.add_argument("--host", default="localhost", help="default: localhost")
    parser.add_argument("--port", type=int, default=8080, help="default: 8080")
    parser.add_argument("--seed", type=int, help="repeat the robots' choices exactly")
    parser.add_argument(
        "--messages-per-second",
        type=float,
        default=MESSAGES_PER_SECOND,
        help=f"a client's most, pings included (default: {MESSAGES_PER_SECOND:g}; 0: "
        "no limit, for benchmarks)",
    )
    args = parser.parse_args()
    logging.basicConfig()  # every log line as "WARNING:where:what"
    app = create_app(seed=args.seed, messages_per_second=args.messages_per_second)
    asyncio.run(serve(app, args.host, args.port))


if __name__ == "__main__":
    main()
