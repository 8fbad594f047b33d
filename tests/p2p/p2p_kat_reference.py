#!/usr/bin/env python3
# An independent implementation of the handshake in docs/P2P.md (pyca/cryptography, not
# libsodium), which produced the known-answer vector in docs/P2P.md section 10 and in
# tests/p2p/secure_channel_test.cpp. Not run by ctest; needs python3-cryptography.
import hashlib, struct
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives import hashes, serialization
raw = lambda k: k.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
net = hashlib.sha256(b"cairn-p2p-test-network").digest()
node_a = Ed25519PrivateKey.from_private_bytes(bytes([1]*32))
eph_a = X25519PrivateKey.from_private_bytes(bytes([0x11]*32))
eph_b = X25519PrivateKey.from_private_bytes(bytes([0x22]*32))
pa, pb = raw(eph_a.public_key()), raw(eph_b.public_key())
hello = lambda p: b"CAIRNP2P" + b"\x01" + p
lo, hi = sorted([pa, pb])
th = hashlib.sha256(b"cairn-p2p-v1-transcript" + net + lo + hi).digest()
dh = eph_a.exchange(eph_b.public_key())
okm = HKDF(algorithm=hashes.SHA256(), length=96, salt=th, info=b"cairn-p2p-v1-keys").derive(dh)
key_lo, key_hi, challenge = okm[:32], okm[32:64], okm[64:]
send_a = key_lo if pa == lo else key_hi
def frame(key, counter, pt):
    length = struct.pack(">I", len(pt) + 16)
    nonce = b"\0"*4 + struct.pack("<Q", counter)
    return length + ChaCha20Poly1305(key).encrypt(nonce, pt, length)
sig = node_a.sign(b"cairn-p2p-v1-auth" + th + challenge + pa)
auth = frame(send_a, 0, raw(node_a.public_key()) + sig)
ping = frame(send_a, 1, bytes([1, 1]) + struct.pack("<Q", 1))
print("network_id", net.hex()); print("hello_a", hello(pa).hex()); print("hello_b", hello(pb).hex())
print("a_is_lo", pa == lo)
print("transcript", th.hex()); print("key_lo", key_lo.hex()); print("key_hi", key_hi.hex()); print("challenge", challenge.hex())
print("auth_a", auth.hex()); print("ping_a", ping.hex())
