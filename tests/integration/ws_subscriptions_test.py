#!/usr/bin/python3
"""WebSocket subscriptions and /health, /ready against a real cairnd, with an independent
client: Python's `websockets` (Debian's python3-websockets). Transactions are sent with the
`cairn` CLI. Run by ctest (tests/integration/CMakeLists.txt):

    ws_subscriptions_test.py CAIRND CAIRN

Covers each topic (newBlocks, tx, account, records), unsubscribe, resume with from_height
(no gap, no duplicate across a reconnect), a slow consumer closed with 1008 while the node
keeps committing and a fast subscriber keeps receiving, and the readiness endpoints.
Waits are polls with deadlines; nothing sleeps to synchronise.
"""
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import websockets

CAIRND, CAIRN = sys.argv[1], sys.argv[2]
DEADLINE = 30.0  # seconds for any one wait


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print("ok - " + msg, flush=True)


class Node:
    """cairnd --dev on a free port; config edited between a first (initialising) start and the
    real one."""

    def __init__(self, home):
        self.home = home
        self.proc = None
        self.url = None

    def start(self):
        log = open(self.home + ".log", "ab")
        self.proc = subprocess.Popen(
            [CAIRND, "--dev", "--home", self.home, "--rpc-listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=log)
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline().decode()
            if not line:
                fail("cairnd exited before serving RPC; see " + self.home + ".log")
            if line.startswith("rpc: "):
                self.url = line.split()[1]
                return
        fail("cairnd did not serve RPC in time")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=DEADLINE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    @property
    def ws_url(self):
        return self.url.replace("http://", "ws://")

    def cairn(self, *args):
        out = subprocess.run([CAIRN, "--rpc", self.url, *args], capture_output=True, timeout=60)
        if out.returncode != 0:
            fail("cairn %s: %s" % (" ".join(args), out.stderr.decode()))
        return out.stdout.decode().strip()


def http_get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class Rpc:
    """One WebSocket connection: calls with ids, notifications by subscription."""

    def __init__(self, ws):
        self.ws = ws
        self.next_id = 1
        self.notes = {}  # subscription id -> [result]

    async def call(self, method, params=None):
        rid = self.next_id
        self.next_id += 1
        req = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            req["params"] = params
        await self.ws.send(json.dumps(req))
        while True:
            msg = json.loads(await asyncio.wait_for(self.ws.recv(), DEADLINE))
            if msg.get("method") == "subscription":
                p = msg["params"]
                self.notes.setdefault(p["subscription"], []).append(p["result"])
                continue
            if msg.get("id") != rid:
                fail("answer out of order: %r" % msg)
            return msg

    async def wait_for(self, sub, count):
        """Reads until subscription `sub` has `count` notifications (or the deadline)."""
        deadline = time.monotonic() + DEADLINE
        while len(self.notes.get(sub, [])) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                fail("subscription %s: %d of %d events" % (sub, len(self.notes.get(sub, [])), count))
            msg = json.loads(await asyncio.wait_for(self.ws.recv(), left))
            if msg.get("method") == "subscription":
                p = msg["params"]
                self.notes.setdefault(p["subscription"], []).append(p["result"])
        return self.notes[sub]


async def subscribe(rpc, *params):
    ans = await rpc.call("subscribe", list(params))
    if "result" not in ans:
        fail("subscribe %r: %r" % (params, ans))
    return ans["result"]


def contiguous(heights):
    return all(b == a + 1 for a, b in zip(heights, heights[1:]))


async def main():
    tmp = tempfile.mkdtemp(prefix="cairn-ws-test-")
    home = os.path.join(tmp, "node")
    node = Node(home)
    node.start()  # initialises the dev home
    node.stop()
    cfg_path = os.path.join(home, "config.json")
    cfg = json.load(open(cfg_path))
    # Empty blocks every 50 ms: the chain moves without transactions. A slow consumer is found
    # within a few blocks: a small send buffer and queue, and up to 64 subscriptions each.
    cfg["consensus"]["empty_blocks"] = True
    cfg["consensus"]["block_interval_ms"] = 50
    cfg["rpc"]["ws_queue_messages"] = 64
    cfg["rpc"]["ws_send_buffer_bytes"] = 4096
    cfg["rpc"]["max_ws_connections"] = 8
    json.dump(cfg, open(cfg_path, "w"), indent=2)
    node.start()
    try:
        await run(node, home)
    finally:
        node.stop()

    # /ready when short of peers: one configured peer that is never there.
    cfg = json.load(open(cfg_path))
    cfg.setdefault("p2p", {})["peers"] = [{"address": "127.0.0.1:1", "node_id": "ab" * 32}]
    json.dump(cfg, open(cfg_path, "w"), indent=2)
    node.start()
    try:
        status, body = http_get(node.url + "/ready")
        reply = json.loads(body)
        check(status == 503 and reply["ready"] is False and
              reply["reason"].startswith("peers: 0 connected, 1 wanted"),
              "/ready answers 503 with a reason when its configured peer is missing: %r" % reply)
        status, _ = http_get(node.url + "/health")
        check(status == 200, "/health is still 200 (alive, not ready)")
    finally:
        node.stop()
    print("PASS", flush=True)


async def run(node, home):
    admin = os.path.join(home, "admin_key.json")

    # /health and /ready: plain GETs on the RPC port.
    status, body = http_get(node.url + "/health")
    check(status == 200 and body == "ok\n", "/health answers 200 ok")
    status, body = http_get(node.url + "/ready")
    check(status == 200 and json.loads(body) == {"ready": True},
          "/ready answers 200 {ready: true} on a solo dev chain (no peers configured)")

    async with websockets.connect(node.ws_url, max_size=2**22) as ws:
        rpc = Rpc(ws)
        # Every existing method works over the socket.
        st = await rpc.call("getStatus")
        check(st["result"]["chain_id"] == "cairn-dev", "getStatus over WebSocket")
        bad = await rpc.call("noSuchMethod")
        check(bad["error"]["code"] == -32601, "unknown method over WebSocket is -32601")

        # newBlocks: consecutive heights.
        blocks = await subscribe(rpc, "newBlocks")
        got = await rpc.wait_for(blocks, 5)
        heights = [b["height"] for b in got]
        check(contiguous(heights) and all("tx_count" in b and "hash" in b for b in got),
              "newBlocks: 5 consecutive headers with tx_count %s" % heights)

        # account + records + tx.
        alice_key = os.path.join(os.path.dirname(home), "alice.json")
        node.cairn("keys", "new", "--out", alice_key)
        alice = [w for w in node.cairn("keys", "show", "--key", alice_key).split()
                 if len(w) == 64][0]
        admin_addr = [w for w in node.cairn("keys", "show", "--key", admin).split()
                      if len(w) == 64][0]
        acct = await subscribe(rpc, "account", {"address": alice})
        recs = await subscribe(rpc, "records", {"namespace": admin_addr,
                                                "prefix": b"doc".hex()})
        node.cairn("send", "register", "--key", admin, "--pubkey", alice, "--wait")
        node.cairn("send", "transfer", "--key", admin, "--to", alice, "--amount", "7", "--wait")
        changes = await rpc.wait_for(acct, 2)
        check([c["kind"] for c in changes[:2]] == ["register", "transfer"] and
              all(c["address"] == alice for c in changes),
              "account: alice's register and transfer, in order")
        node.cairn("send", "put", "--key", admin, "--name", "img-1", "--value", "x", "--wait")
        node.cairn("send", "put", "--key", admin, "--name", "doc-1", "--value", "y", "--wait")
        got = await rpc.wait_for(recs, 1)
        check(len(got) == 1 and bytes.fromhex(got[0]["key"]) == b"doc-1" and
              bytes.fromhex(got[0]["value"]) == b"y",
              "records: only the put under prefix 'doc' in admin's namespace")

        # tx, live: a transaction that cannot commit until its predecessor arrives.
        nonce = json.loads(node.cairn("--json", "account", alice))["next_nonce"]
        later = node.cairn("send", "transfer", "--key", alice_key, "--to", admin_addr,
                           "--amount", "1", "--nonce", str(nonce + 1))
        tx_sub = await subscribe(rpc, "tx", {"hash": later})
        node.cairn("send", "transfer", "--key", alice_key, "--to", admin_addr, "--amount", "1",
                   "--nonce", str(nonce))
        got = await rpc.wait_for(tx_sub, 1)
        check(got[0]["hash"] == later and got[0]["receipt"]["result"] == "ok",
              "tx: fires on commit with its receipt")
        # tx, already committed: at once.
        tx_again = await subscribe(rpc, "tx", {"hash": later})
        got = await rpc.wait_for(tx_again, 1)
        check(got[0]["height"] > 0, "tx: an already committed transaction fires at once")

        # unsubscribe.
        ans = await rpc.call("unsubscribe", [blocks])
        check(ans["result"] is True, "unsubscribe: true for a live subscription")
        ans = await rpc.call("unsubscribe", [blocks])
        check(ans["result"] is False, "unsubscribe: false the second time")
        seen = len(rpc.notes.get(blocks, []))
        await rpc.wait_for(acct, len(rpc.notes[acct]))  # drain what is buffered
        mark = await subscribe(rpc, "newBlocks")
        await rpc.wait_for(mark, 3)
        check(len(rpc.notes.get(blocks, [])) <= seen + 1,
              "unsubscribe: no newBlocks events after the answer (beyond one in flight)")

    # Resume: disconnect, let blocks pass, reconnect from the next height.
    async with websockets.connect(node.ws_url) as ws:
        rpc = Rpc(ws)
        sub = await subscribe(rpc, "newBlocks")
        first = [b["height"] for b in await rpc.wait_for(sub, 5)]
    last = first[-1]
    deadline = time.monotonic() + DEADLINE
    while json.loads(node.cairn("--json", "status"))["height"] < last + 10:
        if time.monotonic() > deadline:
            fail("the chain did not advance")
        await asyncio.sleep(0.05)  # polling the node's height, not synchronising threads
    async with websockets.connect(node.ws_url) as ws:
        rpc = Rpc(ws)
        sub = await subscribe(rpc, "newBlocks", {"from_height": last + 1})
        again = [b["height"] for b in await rpc.wait_for(sub, 25)]
    check(again[0] == last + 1 and contiguous(again),
          "resume: from_height %d replays %d..%d then live, no gap, no duplicate"
          % (last + 1, again[0], again[-1]))

    # Slow consumer: a client that stops reading is closed with 1008 and a reason, while the
    # node keeps committing and a fast subscriber keeps receiving.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    host, port = node.url[len("http://"):].split(":")
    sock.connect((host, int(port)))
    slow = await websockets.connect(node.ws_url, sock=sock, max_queue=1, read_limit=1024,
                                    ping_interval=None)
    slow_rpc = Rpc(slow)
    for _ in range(60):
        await subscribe(slow_rpc, "newBlocks")
    async with websockets.connect(node.ws_url) as fast_ws:
        fast = Rpc(fast_ws)
        fsub = await subscribe(fast, "newBlocks")
        # The slow client reads nothing now; 60 subscriptions x 20 blocks overflow its queue.
        got = [b["height"] for b in await fast.wait_for(fsub, 20)]
        check(contiguous(got), "slow consumer: the fast subscriber got 20 consecutive blocks")
        code, reason = None, ""
        deadline = time.monotonic() + DEADLINE
        try:
            while time.monotonic() < deadline:
                await asyncio.wait_for(slow.recv(), DEADLINE)
        except websockets.ConnectionClosed as e:
            code, reason = e.code, e.reason
        check(code == 1008 and "slow consumer" in reason,
              "slow consumer: closed with 1008 %r" % reason)
        more = [b["height"] for b in await fast.wait_for(fsub, 30)]
        check(contiguous(more), "the node kept committing: fast subscriber at height %d" % more[-1])

    # A message over max_ws_message_bytes closes the connection (1009).
    async with websockets.connect(node.ws_url, max_size=None) as ws:
        code = None
        try:
            # The server may close before the client has finished sending.
            await ws.send("[" + " " * (2 << 20) + "]")
            await asyncio.wait_for(ws.recv(), DEADLINE)
        except websockets.ConnectionClosed as e:
            code = e.code
        check(code == 1009, "a message over max_ws_message_bytes is closed with 1009")

    # max_ws_connections (8 here): the ninth upgrade is answered 503; HTTP still works.
    conns = []
    deadline = time.monotonic() + DEADLINE
    refused = None
    while refused is None and time.monotonic() < deadline:
        try:
            ws = await websockets.connect(node.ws_url)
            await Rpc(ws).call("getStatus")  # served, so counted
            conns.append(ws)
        except websockets.InvalidStatusCode as e:
            refused = e.status_code
    check(refused == 503 and len(conns) <= 8,
          "max_ws_connections: upgrade %d refused with 503" % (len(conns) + 1))
    status, _ = http_get(node.url + "/health")
    check(status == 200, "HTTP is still served at max_ws_connections")
    for ws in conns:
        await ws.close()


if __name__ == "__main__":
    asyncio.run(main())
