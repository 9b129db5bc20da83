# RP2040 specifics of the machine HAL. tools/typecheck_boards.py checks a file named
# chip_<board>.py against that board's stubs only; machine_board.py imports it behind
# `sys.platform == "rp2"` (MicroPython's sys.platform on the rp2 port).
#
# The RP2040 has no protected storage: no eFuses, no flash encryption, and the boot ROM
# (BOOTSEL) and SWD read the whole external flash. The board secret is therefore a plain file,
# /data/.secret, readable by anyone who holds the board. It still separates boards from one
# another; it protects nothing against physical access (boards/rp2040/NOTES.md).
import hashlib
import os

from meterseal.compat import const

_NAME = ".secret"
_SECRET_LEN = const(32)
_POOL_LEN = const(64)


def _conditioned_random(n):
    """n <= 32 bytes: SHA-256 over twice as many bytes from os.urandom.

    os.urandom on the rp2 port samples the ring oscillator's RANDOMBIT (directly, or through
    the pico-sdk's pico_rand, depending on the release). The RP2040 datasheet (2.17.5) says
    it "does not meet the requirements of randomness for security systems because it can be
    compromised". Hashing a larger sample evens out bias (a conditioning step in the sense of
    NIST SP 800-90B, 3.1.5); it cannot add entropy that the oscillator did not give.
    """
    return hashlib.sha256(os.urandom(_POOL_LEN)).digest()[:n]


_counter = [0]


def mixed_random(n, secret, source=None):
    """Random bytes for keys: SHA-256(secret || counter || 64 fresh ROSC bytes) per 32-byte
    block. The board secret (made once, with the chip's best effort) carries entropy gathered
    at first boot into every key; the counter keeps blocks apart even if the oscillator sticks."""
    out = b""
    while len(out) < n:
        _counter[0] += 1
        c = _counter[0]
        out += hashlib.sha256(bytes(secret) + bytes([(c >> 24) & 0xFF, (c >> 16) & 0xFF,
                                                      (c >> 8) & 0xFF, c & 0xFF])
                              + (source or os.urandom)(_POOL_LEN)).digest()
    return out[:n]


def load_or_make_secret(storage):
    """The 32-byte board secret, made on first boot, in storage (Storage at /data)."""
    secret = storage.read(_NAME)
    if secret is not None:
        if len(secret) != _SECRET_LEN:
            # Never replace a secret silently: every key derived from it would change.
            raise ValueError("/data/.secret has %d bytes, expected 32" % len(secret))
        return secret
    secret = _conditioned_random(_SECRET_LEN)
    storage.write_atomic(_NAME, secret)  # a power cut leaves no file or the whole secret
    return secret
