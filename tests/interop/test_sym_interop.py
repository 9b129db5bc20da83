"""The firmware's symmetric primitives against implementations we did not write.

pycryptodome (AES-CBC/CTR/CCM, CMAC), pyca/cryptography (AES key wrap, AES-CCM, CMAC, HKDF) and
the standard library's hmac check random keys and messages, first with the firmware package
under CPython, then with outputs computed by the MicroPython interpreter (subprocess) so the
cryptolib-backed code paths of the boards are checked too. METERSEAL_FUZZ_SCALE multiplies the
number of random cases.
"""
import hashlib
import hmac
import json
import os
import random
import subprocess
from pathlib import Path

import pytest
from Crypto.Cipher import AES
from Crypto.Hash import CMAC
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from cryptography.hazmat.primitives.cmac import CMAC as PycaCMAC
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import (InvalidUnwrap, aes_key_unwrap,
                                                    aes_key_wrap)

from meterseal.crypto import aes, ccm, cmac, kdf, keywrap
from meterseal.crypto.errors import InvalidTag
from host_tools import frozen

ROOT = Path(__file__).resolve().parents[2]
SCALE = int(os.environ.get("METERSEAL_FUZZ_SCALE", "1"))
_LENGTHS = (0, 1, 15, 16, 17, 31, 32, 33, 64, 100, 255, 256, 257, 1023, 1024, 1025, 3000)


def _rng(name):
    return random.Random("sym-" + name)


def _key(rng):
    return rng.randbytes(rng.choice((16, 16, 16, 32)))


def _ref_ccm(key, nonce, data, aad, t):
    c = AES.new(key, AES.MODE_CCM, nonce=nonce, mac_len=t)
    c.update(aad)
    ct, tag = c.encrypt_and_digest(data)
    return ct + tag


def test_cbc_ctr_against_pycryptodome():
    rng = _rng("cbcctr")
    for _ in range(60 * SCALE):
        key, iv = _key(rng), rng.randbytes(16)
        data = rng.randbytes(16 * rng.choice((0, 1, 2, 63, 64, 65, 200)))
        ref = AES.new(key, AES.MODE_CBC, iv=iv).encrypt(data)
        assert aes.cbc_encrypt(key, iv, data) == ref
        assert aes.cbc_decrypt(key, iv, ref) == data
        msg = rng.randbytes(rng.choice(_LENGTHS))
        ctr = rng.randbytes(16)
        if ctr[:8] == b"\xff" * 8:
            continue
        ref = AES.new(key, AES.MODE_CTR, nonce=b"", initial_value=ctr).encrypt(msg)
        assert aes.ctr_crypt(key, ctr, msg) == ref


def test_ctr_carry_against_pycryptodome():
    # pycryptodome with an 8-byte nonce and a 64-bit counter: our whole-block counter agrees as
    # long as the low 64 bits do not wrap; the carry out of the low bytes is the interesting bit.
    key = bytes(range(16))
    nonce = bytes(range(8))
    for start in (0xFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFFFF, 2**64 - 40):
        msg = bytes(600)
        ref = AES.new(key, AES.MODE_CTR, nonce=nonce, initial_value=start).encrypt(msg)
        assert aes.ctr_crypt(key, nonce + start.to_bytes(8, "big"), msg) == ref


def test_cmac_against_pycryptodome_and_cryptography():
    rng = _rng("cmac")
    for _ in range(80 * SCALE):
        key = _key(rng)
        msg = rng.randbytes(rng.choice(_LENGTHS))
        ref = CMAC.new(key, msg, ciphermod=AES).digest()
        c = PycaCMAC(algorithms.AES(key))
        c.update(msg)
        assert c.finalize() == ref
        assert cmac.cmac(key, msg) == ref
        t = rng.randrange(8, 17)
        cmac.verify_cmac(key, msg, ref[:t])
        bad = bytearray(ref[:t])
        bad[rng.randrange(t)] ^= 1 << rng.randrange(8)
        with pytest.raises(InvalidTag):
            cmac.verify_cmac(key, msg, bytes(bad))


def test_ccm_against_pycryptodome_and_cryptography():
    rng = _rng("ccm")
    for _ in range(80 * SCALE):
        key = _key(rng)
        n = rng.randrange(7, 14)
        t = rng.choice((4, 6, 8, 10, 12, 14, 16))
        nonce = rng.randbytes(n)
        data = rng.randbytes(rng.choice(_LENGTHS))
        aad = rng.randbytes(rng.choice((0, 1, 13, 14, 15, 16, 30, 1030)))
        ref = _ref_ccm(key, nonce, data, aad, t)
        assert AESCCM(key, tag_length=t).encrypt(nonce, data, aad or None) == ref
        assert ccm.encrypt(key, nonce, data, aad, t) == ref
        assert ccm.decrypt(key, nonce, ref, aad, t) == data
        bad = bytearray(ref)
        bad[rng.randrange(len(bad))] ^= 1 << rng.randrange(8)
        with pytest.raises(InvalidTag):
            ccm.decrypt(key, nonce, bytes(bad), aad, t)


@pytest.mark.parametrize("alen", [0xFEFF, 0xFF00, 70000])
def test_ccm_long_associated_data_encodings(alen):
    # SP 800-38C A.2.2: 2-byte length below 0xFF00, 0xFFFE plus 4 bytes from there on.
    rng = _rng("ccm-aad-%d" % alen)
    key, nonce, aad, data = rng.randbytes(16), rng.randbytes(12), rng.randbytes(alen), b"x" * 20
    ref = _ref_ccm(key, nonce, data, aad, 8)
    assert ccm.encrypt(key, nonce, data, aad, 8) == ref
    assert ccm.decrypt(key, nonce, ref, aad, 8) == data


def test_keywrap_against_cryptography():
    rng = _rng("kw")
    for _ in range(60 * SCALE):
        kek = _key(rng)
        kd = rng.randbytes(8 * rng.choice((2, 3, 4, 5, 8, 33)))
        ref = aes_key_wrap(kek, kd)
        assert keywrap.wrap(kek, kd) == ref
        assert keywrap.unwrap(kek, ref) == kd
        bad = bytearray(ref)
        bad[rng.randrange(len(bad))] ^= 1 << rng.randrange(8)
        with pytest.raises(InvalidUnwrap):
            aes_key_unwrap(kek, bytes(bad))
        with pytest.raises(InvalidTag):
            keywrap.unwrap(kek, bytes(bad))


def test_hmac_hkdf_against_stdlib_and_cryptography():
    rng = _rng("kdf")
    for _ in range(60 * SCALE):
        key = rng.randbytes(rng.choice((0, 1, 16, 32, 63, 64, 65, 131)))
        msg = rng.randbytes(rng.choice(_LENGTHS))
        assert kdf.hmac_sha256(key, msg) == hmac.new(key, msg, hashlib.sha256).digest()
        salt = rng.randbytes(rng.choice((0, 16, 32, 80)))
        info = rng.randbytes(rng.choice((0, 5, 40)))
        n = rng.choice((1, 16, 32, 33, 64, 100, 8160))
        ref = HKDF(hashes.SHA256(), n, salt or None, info).derive(key)
        assert kdf.hkdf_sha256(key, salt, info, n) == ref


# Under MicroPython: read one job (JSON, hex fields) per stdin line, print one JSON result per
# line (the whole batch at once would not fit the 128 KiB heap).
_MP_SNIPPET = r"""
import sys, json, binascii
from meterseal.crypto import aes, cmac, ccm, keywrap, kdf
from meterseal.crypto.errors import InvalidTag
u = binascii.unhexlify
h = lambda b: binascii.hexlify(b).decode()
while True:
    line = sys.stdin.readline()
    if not line:
        break
    j = json.loads(line)
    k = u(j["key"]); m = u(j["msg"]); iv = u(j["iv"]); a = u(j["aad"]); n = u(j["nonce"])
    t = j["tag_len"]; m16 = m[:len(m) & ~15]; kd = u(j["kd"])
    r = {"cbc": h(aes.cbc_encrypt(k, iv, m16)), "ctr": h(aes.ctr_crypt(k, iv, m)),
         "cmac": h(cmac.cmac(k, m)), "ccm": h(ccm.encrypt(k, n, m, a, t)),
         "wrap": h(keywrap.wrap(k, kd)), "hmac": h(kdf.hmac_sha256(a, m)),
         "hkdf": h(kdf.hkdf_sha256(m, a, n, j["okm_len"]))}
    r["cbc_back"] = aes.cbc_decrypt(k, iv, u(j["ref_cbc"])) == m16
    r["unwrap_back"] = keywrap.unwrap(k, u(j["ref_wrap"])) == kd
    r["ccm_back"] = ccm.decrypt(k, n, u(j["ref_ccm"]), a, t) == m
    try:
        ccm.decrypt(k, n, u(j["bad_ccm"]), a, t)
        r["ccm_bad"] = "accepted"
    except InvalidTag:
        r["ccm_bad"] = "InvalidTag"
    try:
        keywrap.unwrap(k, u(j["bad_wrap"]))
        r["wrap_bad"] = "accepted"
    except InvalidTag:
        r["wrap_bad"] = "InvalidTag"
    print(json.dumps(r))
"""


def _flip(rng, b):
    bad = bytearray(b)
    bad[rng.randrange(len(bad))] ^= 1 << rng.randrange(8)
    return bytes(bad)


def test_micropython_outputs_match_third_party():
    mp = os.environ.get("MICROPYTHON") or str(ROOT / ".venv" / "bin" / "micropython")
    rng = _rng("micropython")
    jobs, refs = [], []
    for i in range(40 * SCALE):
        key = _key(rng)
        msg = rng.randbytes(rng.choice(_LENGTHS[:-1]))
        iv = rng.randbytes(8) + rng.randbytes(4) + b"\x00\x00\x00\x01"
        aad = rng.randbytes(rng.choice((0, 1, 14, 20, 64, 100)))
        nonce = rng.randbytes(rng.randrange(7, 14))
        t = rng.choice((4, 6, 8, 10, 12, 14, 16))
        kd = rng.randbytes(8 * rng.choice((2, 3, 4)))
        okm_len = rng.choice((16, 32, 42, 100))
        m16 = msg[:len(msg) & ~15]
        ref = {
            "cbc": AES.new(key, AES.MODE_CBC, iv=iv).encrypt(m16).hex(),
            "ctr": AES.new(key, AES.MODE_CTR, nonce=iv[:8],
                           initial_value=iv[8:]).encrypt(msg).hex(),
            "cmac": CMAC.new(key, msg, ciphermod=AES).hexdigest(),
            "ccm": _ref_ccm(key, nonce, msg, aad, t).hex(),
            "wrap": aes_key_wrap(key, kd).hex(),
            "hmac": hmac.new(aad, msg, hashlib.sha256).hexdigest(),
            "hkdf": HKDF(hashes.SHA256(), okm_len, aad or None, nonce).derive(msg).hex(),
            "cbc_back": True, "unwrap_back": True, "ccm_back": True,
            "ccm_bad": "InvalidTag", "wrap_bad": "InvalidTag",
        }
        refs.append(ref)
        jobs.append({"key": key.hex(), "msg": msg.hex(), "iv": iv.hex(), "aad": aad.hex(),
                     "nonce": nonce.hex(), "tag_len": t, "kd": kd.hex(), "okm_len": okm_len,
                     "ref_cbc": ref["cbc"], "ref_wrap": ref["wrap"], "ref_ccm": ref["ccm"],
                     "bad_ccm": _flip(rng, bytes.fromhex(ref["ccm"])).hex(),
                     "bad_wrap": _flip(rng, bytes.fromhex(ref["wrap"])).hex()})
    env = frozen.mp_env()
    res = subprocess.run(frozen.mp_command() + ["-c", _MP_SNIPPET],
                         input="".join(json.dumps(j) + "\n" for j in jobs), env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    got = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(got) == len(refs)
    for i, (g, r) in enumerate(zip(got, refs)):
        assert g == r, (i, jobs[i])
