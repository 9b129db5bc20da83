# The tiny test helper that firmware tests use instead of pytest, so that one test module runs
# unchanged under CPython (collected by pytest) and under the MicroPython interpreter (run by
# mp_driver.py, see conftest.py). Test functions are plain `def test_*():` with `assert`.
import os
import sys

IS_MICROPYTHON = sys.implementation.name == "micropython"


class Skip(Exception):
    pass


def skip(reason):
    """Skip the running test (pytest.skip under CPython)."""
    if not IS_MICROPYTHON:
        import pytest

        pytest.skip(reason)
    raise Skip(reason)


class raises:
    """with raises(InvalidSignature): ...   (optionally match= a substring of str(exc))."""

    def __init__(self, exc, match=None):
        self.exc = exc
        self.match = match
        self.value = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            raise AssertionError("did not raise " + self.exc.__name__)
        if not issubclass(exc_type, self.exc):
            return False
        self.value = exc
        if self.match is not None and self.match not in str(exc):
            raise AssertionError("raised %r, expected text %r" % (exc, self.match))
        return True


def vectors_dir():
    """Folder of prepared vector files (made by conftest.py from the pinned vector packages)."""
    d = os.getenv("METERSEAL_VECTORS")
    if not d:
        raise RuntimeError("METERSEAL_VECTORS is not set (run the tests through pytest)")
    return d


def vector_lines(name):
    """Yield the lines of a prepared vector file, one at a time (fits a board-sized heap)."""
    with open(vectors_dir() + "/" + name) as f:
        while True:
            line = f.readline()
            if not line:
                return
            line = line.rstrip("\n")
            if line and not line.startswith("#"):
                yield line


def unhex(s):
    import binascii

    return binascii.unhexlify(s)


class Rng:
    """xorshift32: the same sequence under both interpreters (their `random` modules differ), so
    a fuzz failure found under one replays under the other."""

    def __init__(self, seed):
        self.s = seed

    def next(self):
        x = self.s
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.s = x
        return x

    def below(self, n):
        return self.next() % n

    def bytes(self, n):
        return bytes(self.next() & 0xFF for _ in range(n))


def fuzz_count(n_cpython, n_micropython):
    """Cases for a fuzz test: its CI size times METERSEAL_FUZZ_SCALE (`make fuzz`)."""
    try:
        scale = int(os.getenv("METERSEAL_FUZZ_SCALE") or "1")
    except (AttributeError, ValueError):
        scale = 1
    return (n_micropython if IS_MICROPYTHON else n_cpython) * scale


class MemStorage:
    """The part of hal.storage.Storage that tables and counters use, in memory."""

    def __init__(self):
        self.files = {}

    def read(self, name):
        return self.files.get(name)

    def write_atomic(self, name, data):
        self.files[name] = bytes(data)

    def remove(self, name):
        self.files.pop(name, None)
