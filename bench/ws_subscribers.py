#!/usr/bin/python3
"""N concurrent WebSocket subscribers to newBlocks on one node, for bench/ws_subscribers.sh.

    ws_subscribers.py URL N READY_FILE OUT_JSON

Opens N connections (each one subscription to newBlocks), touches READY_FILE once all are
subscribed, and on SIGTERM/SIGINT writes OUT_JSON: deliveries, connections closed by the
server, and the delivery latency per notification = the time it was received minus the
block's timestamp_ms (the proposer's clock when it built the block; the same host's clock
here). That latency includes consensus (proposal to commit) as well as the fan-out: the
per-block minimum over subscribers is what consensus costs, the spread above it is delivery.
"""
import asyncio
import json
import signal
import sys
import time

import websockets

URL, N, READY, OUT = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
lat = []          # ms per delivery
per_block = {}    # height -> [min latency, max latency, count]
closed = {"count": 0, "reasons": {}}


async def subscriber(i, subscribed, stop):
    try:
        async with websockets.connect(URL.replace("http://", "ws://"), max_queue=None,
                                      ping_interval=None, open_timeout=60) as ws:
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "subscribe",
                                      "params": ["newBlocks"]}))
            json.loads(await ws.recv())
            subscribed.append(i)
            while not stop.is_set():
                msg = await ws.recv()
                now = time.time() * 1000.0
                h = json.loads(msg)["params"]["result"]
                d = now - h["timestamp_ms"]
                lat.append(d)
                b = per_block.setdefault(h["height"], [d, d, 0])
                b[0] = min(b[0], d)
                b[1] = max(b[1], d)
                b[2] += 1
    except websockets.ConnectionClosed as e:
        if not stop.is_set():
            closed["count"] += 1
            closed["reasons"][str(e.code)] = closed["reasons"].get(str(e.code), 0) + 1
    except (OSError, asyncio.TimeoutError) as e:
        closed["count"] += 1
        closed["reasons"][type(e).__name__] = closed["reasons"].get(type(e).__name__, 0) + 1


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))], 1)


async def main():
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    subscribed = []
    tasks = []
    for i in range(N):
        tasks.append(asyncio.create_task(subscriber(i, subscribed, stop)))
        if i % 50 == 49:
            await asyncio.sleep(0.05)  # pacing the connects, not synchronising
    while len(subscribed) + closed["count"] < N:
        await asyncio.sleep(0.1)
    open(READY, "w").write(str(len(subscribed)))
    lat.clear()
    per_block.clear()
    await stop.wait()
    for t in tasks:
        t.cancel()
    spread = [b[1] - b[0] for b in per_block.values() if b[2] > 1]
    report = {
        "subscribers": N, "subscribed": len(subscribed), "closed_by_server": closed,
        "deliveries": len(lat), "blocks": len(per_block),
        "latency_ms": {"p50": pct(lat, 50), "p99": pct(lat, 99), "max": pct(lat, 100)},
        "first_delivery_ms": {"p50": pct([b[0] for b in per_block.values()], 50),
                              "p99": pct([b[0] for b in per_block.values()], 99)},
        "fanout_spread_ms": {"p50": pct(spread, 50), "p99": pct(spread, 99)},
    }
    json.dump(report, open(OUT, "w"), indent=1)


asyncio.run(main())
