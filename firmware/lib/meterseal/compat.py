# Everything that differs between MicroPython and CPython lives here and nowhere else.
# MicroPython is the judge: the CPython side only imitates what the boards have.
import sys

IS_MICROPYTHON = sys.implementation.name == "micropython"

if IS_MICROPYTHON:
    from micropython import const  # noqa: F401
    import time as _time

    ticks_ms = _time.ticks_ms
    ticks_us = _time.ticks_us
    ticks_diff = _time.ticks_diff

    def sleep_ms(ms):
        _time.sleep_ms(ms)

else:
    import time as _time

    def const(x):
        return x

    def ticks_ms():
        return int(_time.monotonic() * 1000) & 0x3FFFFFFF

    def ticks_us():
        return int(_time.monotonic() * 1000000) & 0x3FFFFFFF

    def ticks_diff(a, b):
        # Same wrap-around semantics as MicroPython's 30-bit ticks.
        d = (a - b) & 0x3FFFFFFF
        return d - 0x40000000 if d >= 0x20000000 else d

    def sleep_ms(ms):
        _time.sleep(ms / 1000)


def aes_ecb(key):
    """An AES-ECB object with encrypt(block)/decrypt(block) for a 16/24/32-byte key.

    cryptolib on the boards (ESP32 generic, Pico, unix port: ECB and CBC only); pycryptodome on
    CPython. Everything else (CBC chaining, CTR, CMAC, CCM, key wrap) is built on this in crypto/.
    """
    if IS_MICROPYTHON:
        import cryptolib

        return _MpEcb(cryptolib, key)
    from Crypto.Cipher import AES

    return AES.new(bytes(key), AES.MODE_ECB)


def aes_cbc(key, iv):
    """A one-way AES-CBC object (encrypt(data) or decrypt(data), multiples of 16 bytes) that
    chains across calls: cryptolib mode 2 on MicroPython, pycryptodome on CPython."""
    if IS_MICROPYTHON:
        import cryptolib

        return cryptolib.aes(bytes(key), 2, bytes(iv))
    from Crypto.Cipher import AES

    return AES.new(bytes(key), AES.MODE_CBC, iv=bytes(iv))


class _MpEcb:
    # cryptolib.aes objects are one-way: a cipher that has encrypted cannot decrypt. Keep one of
    # each, made on first use.
    def __init__(self, cryptolib, key):
        self._lib = cryptolib
        self._key = bytes(key)
        self._enc = None
        self._dec = None

    def encrypt(self, block):
        if self._enc is None:
            self._enc = self._lib.aes(self._key, 1)
        return self._enc.encrypt(block)

    def decrypt(self, block):
        if self._dec is None:
            self._dec = self._lib.aes(self._key, 1)
        return self._dec.decrypt(block)


def mem_info():
    """(free, allocated) heap bytes, or (None, None) where the interpreter does not say."""
    if IS_MICROPYTHON:
        import gc

        return gc.mem_free(), gc.mem_alloc()
    return None, None


def largest_free_block(limit=1 << 20):
    """The largest buffer the heap can give at once (bytes, at most `limit`), or None under
    CPython. Free heap says little when it is split into small runs; this is what a big frame or
    certificate needs. Found by trying allocations (about 20), so call it on request only."""
    if not IS_MICROPYTHON:
        return None
    lo, hi = 0, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        try:
            bytearray(mid)
            lo = mid
        except MemoryError:
            hi = mid - 1
    return lo


# asyncio: MicroPython has sleep_ms/wait_for_ms; CPython has only the seconds forms.
def asleep_ms(ms):
    import asyncio

    if IS_MICROPYTHON:
        return asyncio.sleep_ms(ms)
    return asyncio.sleep(ms / 1000)


def wait_for_ms(awaitable, ms):
    """Await with a timeout; raises asyncio.TimeoutError (and cancels the awaitable) on expiry."""
    import asyncio

    if IS_MICROPYTHON:
        return asyncio.wait_for_ms(awaitable, ms)
    return asyncio.wait_for(awaitable, ms / 1000)
