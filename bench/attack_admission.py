#!/usr/bin/env python3
"""R6 (issue 12): the cost of sendTransactions full of one forged transaction, and what it does
to a legitimate client's commit latency. Measurement only (no pass/fail): the regression test
is tests/integration/attack_admission_test.cpp.

Starts `cairnd --dev` in a temporary home, registers and funds one legitimate account, then
runs ATTACKERS threads that each send REQUESTS sendTransactions of COPIES copies of one forged
transfer (the admin's key as sender, a nonce inside the window, a random signature). Meanwhile
it sends LEGIT signed transfers one at a time and times each from sendTransaction to
getTransaction "committed". cairnd's CPU is read from /proc/<pid>/stat (utime + stime).

  nice -n 19 python3 bench/attack_admission.py build/node/cairnd [--copies 10000] [--requests 10]
"""
import argparse
import json
import os
import random
import shutil
import statistics
import struct
import subprocess
import tempfile
import threading
import time
import urllib.request

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization


def raw_pub(priv):
    return priv.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def encode_unsigned(chain, sender, nonce, payload):
    c = chain.encode()
    return bytes([1]) + struct.pack("<I", len(c)) + c + sender + struct.pack("<Q", nonce) + payload


def transfer(to, amount):
    return bytes([1]) + to + struct.pack("<Q", amount)


def register(pub):
    return bytes([3]) + pub + bytes([1])  # role 1: member


def sign(priv, chain, nonce, payload):
    body = encode_unsigned(chain, raw_pub(priv), nonce, payload)
    return (body + priv.sign(b"CAIRN/tx/v1\x00" + body)).hex()


class Rpc:
    def __init__(self, url):
        self.url = url

    def call(self, method, params, timeout=120):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
        req = urllib.request.Request(self.url, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read())


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_committed(rpc, h, deadline_s=60):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        r = rpc.call("getTransaction", {"hash": h})["result"]
        if r["status"] == "committed":
            return True
        time.sleep(0.002)
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cairnd")
    ap.add_argument("--copies", type=int, default=10000)
    ap.add_argument("--requests", type=int, default=10, help="per attacker")
    ap.add_argument("--attackers", type=int, default=2)
    ap.add_argument("--legit", type=int, default=20)
    ap.add_argument("--port", type=int, default=18645)
    ap.add_argument("--seed", type=int, default=12)
    a = ap.parse_args()
    print(f"seed {a.seed}")
    rnd = random.Random(a.seed)
    home = tempfile.mkdtemp(prefix="attack-admission-")
    log = open(home + ".log", "w")
    proc = subprocess.Popen([a.cairnd, "--dev", "--home", home + "/h", "--rpc-listen",
                             f"127.0.0.1:{a.port}"], stdout=log, stderr=subprocess.STDOUT)
    try:
        rpc = Rpc(f"http://127.0.0.1:{a.port}/")
        for _ in range(300):
            try:
                status = rpc.call("getStatus", {})["result"]
                break
            except Exception:
                time.sleep(0.1)
        chain = status["chain_id"]
        with open(home + "/h/admin_key.json") as f:
            admin = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(json.load(f)["private_key"]))
        alice = Ed25519PrivateKey.from_private_bytes(bytes(rnd.getrandbits(8) for _ in range(32)))
        bob = Ed25519PrivateKey.from_private_bytes(bytes(rnd.getrandbits(8) for _ in range(32)))
        n = rpc.call("getAccount", {"address": raw_pub(admin).hex()})["result"]["next_nonce"]
        setup = [sign(admin, chain, n, register(raw_pub(alice))),
                 sign(admin, chain, n + 1, register(raw_pub(bob))),
                 sign(admin, chain, n + 2, transfer(raw_pub(alice), 10**9))]
        res = rpc.call("sendTransactions", {"txs": setup})["result"]
        assert res["accepted"] == 3, res
        for r in res["results"]:
            assert wait_committed(rpc, r["hash"])
        # The forged transfer: admin's nonce n+10 (inside the window, not pending), any signature.
        body = encode_unsigned(chain, raw_pub(admin), n + 10, transfer(raw_pub(alice), 1))
        forged = (body + bytes(rnd.getrandbits(8) for _ in range(64))).hex()

        def legit_latencies(count, nonce0):
            out = []
            for i in range(count):
                tx = sign(alice, chain, nonce0 + i, transfer(raw_pub(bob), 1))
                t0 = time.monotonic()
                r = rpc.call("sendTransaction", {"tx": tx})
                assert "result" in r, r
                assert wait_committed(rpc, r["result"]["hash"])
                out.append((time.monotonic() - t0) * 1000)
            return out

        quiet = legit_latencies(a.legit, 0)
        print(f"legit commit latency, quiet: median {statistics.median(quiet):.0f} ms, "
              f"max {max(quiet):.0f} ms (n={len(quiet)})")

        batch = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "sendTransactions",
                            "params": {"txs": [forged] * a.copies}}).encode()
        codes, walls = {}, []
        lock = threading.Lock()

        def attacker():
            for _ in range(a.requests):
                t0 = time.monotonic()
                req = urllib.request.Request(rpc.url, batch, {"Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=600) as r:
                    out = json.loads(r.read())
                with lock:
                    walls.append(time.monotonic() - t0)
                    for e in out["result"]["results"]:
                        reason = e["error"]["data"]["reason"] if "error" in e else "accepted"
                        codes[reason] = codes.get(reason, 0) + 1

        cpu0 = cpu_s(proc.pid)
        threads = [threading.Thread(target=attacker) for _ in range(a.attackers)]
        for t in threads:
            t.start()
        under = legit_latencies(a.legit, a.legit)
        for t in threads:
            t.join()
        cpu1 = cpu_s(proc.pid)
        requests = a.attackers * a.requests
        print(f"attack: {a.attackers} attackers x {a.requests} requests x {a.copies} copies; "
              f"answers {codes}")
        print(f"cairnd CPU: {cpu1 - cpu0:.2f} s for {requests} requests = "
              f"{(cpu1 - cpu0) / requests:.3f} CPU-s per request (includes the legit client's "
              f"{a.legit} txs and polling); request wall time median {statistics.median(walls):.2f} s")
        print(f"legit commit latency during the attack: median {statistics.median(under):.0f} ms, "
              f"max {max(under):.0f} ms (n={len(under)})")
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
        shutil.rmtree(home, ignore_errors=True)
        os.unlink(home + ".log")


if __name__ == "__main__":
    main()
