"""Issue 5 item 7 on simulated boards: the keystore files of a board's littlefs image altered,
truncated, swapped, or copied from another board (two boards = two eFuse secrets) are refused
with their reason by the firmware under MicroPython at the board's heap; erase brings it back to
an empty, provisionable keystore. (The board's boot does not open the keystore yet: the
provisioning console commands will, and their tests start the board process.)"""
import hashlib
import json
import os
import subprocess
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec as cec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature

from host_tools.sim import SimulatedBoard, micropython_command

PROBE = Path(__file__).with_name("keystore_probe.py")
DIGEST = hashlib.sha256(b"sealed reading").digest()


def probe(board, *args):
    args = list(args)
    for i, a in enumerate(args):
        if len(a) > 64:  # long hex goes through a file (see keystore_probe.py)
            path = board.state_dir / ("arg%d.hex" % i)
            path.write_text(a)
            args[i] = "@" + str(path)
    # The board's own environment and heap: the simulator may preload the modules a frozen
    # build holds and give their bytecode extra heap ("sim_frozen_bytes"), as its boot does.
    heap = board.heap_bytes + board.config.get("sim_frozen_bytes", 0)
    proc = subprocess.run([micropython_command(), "-X", "heapsize=%d" % heap,
                           str(PROBE), str(board.state_dir)] + args,
                          env=board.environment(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def provision(board):
    pub = probe(board, "gen", "em")["pub"]
    probe(board, "gen", "tls")
    out = probe(board, "put", "KEY_M-Bus", "11" * 16)
    assert out["status"] == "ok" and out["names"] == ["KEY_M-Bus", "em", "tls"]
    return pub


def signs(board, pub):
    out = probe(board, "sign", "em", DIGEST.hex())
    sig = bytes.fromhex(out["sig"])
    key = cec.EllipticCurvePublicKey.from_encoded_point(cec.SECP256R1(), bytes.fromhex(pub))
    key.verify(encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")),
               DIGEST, cec.ECDSA(Prehashed(hashes.SHA256())))


def refused(board, reason, entry="em", other_reason="not-provisioned"):
    out = probe(board, "sign", entry, DIGEST.hex()) if entry != "KEY_M-Bus" else \
        probe(board, "secret", entry)
    assert out["status"] == "damaged: " + reason, out
    assert out.get("error") == reason and "sig" not in out and "secret" not in out, out
    other = probe(board, "secret", "KEY_M-Bus") if entry != "KEY_M-Bus" else \
        probe(board, "sign", "em", DIGEST.hex())
    assert other.get("error") == other_reason, other


def test_tampered_keystores_are_refused_on_simulated_boards(tmp_path):
    a = SimulatedBoard(tmp_path / "a")
    b = SimulatedBoard(tmp_path / "b")
    pub_a = provision(a)
    signs(a, pub_a)
    em = bytes.fromhex(probe(a, "read", "em")["data"])
    tls = bytes.fromhex(probe(a, "read", "tls")["data"])

    # A flipped byte in the ciphertext, then a truncated file.
    bad = bytearray(em)
    bad[-3] ^= 0x04
    probe(a, "write", "em", bytes(bad).hex())
    refused(a, "tampered")
    probe(a, "write", "em", em[:100].hex())
    refused(a, "truncated")
    # Two entries' files swapped.
    probe(a, "write", "em", tls.hex())
    probe(a, "write", "tls", em.hex())
    refused(a, "tampered")
    probe(a, "write", "em", em.hex())
    probe(a, "write", "tls", tls.hex())
    assert probe(a, "status")["status"] == "ok"
    signs(a, pub_a)

    # Board a's keystore files copied into board b's storage.
    pub_b = provision(b)
    for name in ("em", "tls", "KEY_M-Bus"):
        probe(b, "write", name, probe(a, "read", name)["data"])
    refused(b, "wrong-board", other_reason="wrong-board")  # every entry is foreign
    # erase is the way back, on the image itself.
    out = probe(b, "erase")
    assert out["status"] == "empty" and out["names"] == [], out
    assert probe(b, "files")["files"] == []
    pub_b2 = provision(b)
    assert pub_b2 != pub_b
    signs(b, pub_b2)
