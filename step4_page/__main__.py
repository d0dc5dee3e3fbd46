"""Start this stage's server: python -m <stage> [--host HOST] [--port PORT]."""

import argparse

from aiohttp import web

from .app import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description="Start this stage's WebSocket server.")
    parser.add_argument("--host", default="localhost", help="default: localhost")
    parser.add_argument("--port", type=int, default=8080, help="default: 8080")
    parser.add_argument("--seed", type=int, help="repeat the robots' choices exactly")
    args = parser.parse_args()
    web.run_app(create_app(seed=args.seed), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
