"""Idle chats from aiohttp's client, offering compression the way browsers do, or not.

    python -m bench.compression ws://127.0.0.1:8080/robots/ada --greeting --idle 2000
    python -m bench.compression ws://127.0.0.1:8080/robots/ada --greeting --idle 2000 \\
        --offer-deflate

A server that accepts permessage-deflate keeps a compressor for every chat, idle or
not. picows (bench.load) cannot offer the extension, so this client is aiohttp's own;
it only holds quiet chats, so its speed does not matter. It prints how many chats
opened and how many of them the server agreed to compress.
"""

import argparse
import asyncio
import json

import aiohttp

from bench.load import BATCH, allow_many_sockets


async def open_chat(
    session: aiohttp.ClientSession, url: str, offer: bool, greeting: bool
) -> aiohttp.ClientWebSocketResponse:
    ws = await session.ws_connect(url, compress=15 if offer else 0)
    if greeting:
        await ws.receive(timeout=10)
    return ws


async def idle_load(url: str, chats: int, hold: float, offer: bool, greeting: bool):
    connector = aiohttp.TCPConnector(limit=0)  # no cap on connections at once
    async with aiohttp.ClientSession(connector=connector) as session:
        open_ones, errors = [], 0
        for start in range(0, chats, BATCH):
            batch = min(BATCH, chats - start)
            results = await asyncio.gather(
                *(open_chat(session, url, offer, greeting) for _ in range(batch)),
                return_exceptions=True,
            )
            open_ones += [r for r in results if not isinstance(r, BaseException)]
            errors += sum(1 for r in results if isinstance(r, BaseException))
        print(f"  ... {len(open_ones)} idle chats open", flush=True)
        await asyncio.sleep(hold)
        compressed = sum(1 for ws in open_ones if ws.compress)
        await asyncio.gather(*(ws.close() for ws in open_ones))
    return {"opened": len(open_ones), "compressed": compressed, "errors": errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--idle", type=int, required=True, help="this many quiet chats")
    parser.add_argument("--hold", type=float, default=2, help="seconds to hold them")
    parser.add_argument("--offer-deflate", action="store_true", help="as browsers do")
    parser.add_argument("--greeting", action="store_true", help="read a greeting first")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args()
    allow_many_sockets()
    result = asyncio.run(
        idle_load(args.url, args.idle, args.hold, args.offer_deflate, args.greeting)
    )
    print(json.dumps(result) if args.json else result)


if __name__ == "__main__":
    main()
