# Shared by the test_keystore*.py modules: simulated boards in /tmp (littlefs image under
# MicroPython, a folder under CPython), a deterministic RNG that lets a test know the private
# scalar a keystore generated, and a search of a board's storage for byte strings.
import hashlib
import os
import sys

from meterseal.hal.sim import Board

IS_MICROPYTHON = sys.implementation.name == "micropython"
_MOUNT = "/flash"  # where hal/sim.py mounts the image under MicroPython
_n = [0]


def rmtree(path):
    try:
        mode = os.stat(path)[0]
    except OSError:
        return
    if mode & 0x4000:
        for name in os.listdir(path):
            rmtree(path + "/" + name)
        os.rmdir(path)
    else:
        os.remove(path)


def unmount():
    if IS_MICROPYTHON:
        try:
            os.umount(_MOUNT)
        except OSError:
            pass


def fresh_board(tag="b", blocks=48, keystore="sim-file"):
    """A new simulated board with its own eFuse secret (so two boards differ)."""
    _n[0] += 1
    pid = os.getpid() if hasattr(os, "getpid") else 0
    d = "/tmp/meterseal-ks-%s-%d-%d" % (tag, pid, _n[0])
    rmtree(d)
    os.mkdir(d)
    unmount()
    if IS_MICROPYTHON:
        # The erased chip, made here in small pieces: hal/sim.py writes it a 4 KiB block at a
        # time, which a fragmented heap late in a test run may not have in one piece.
        blank = b"\xff" * 512
        with open(d + "/flash.img", "wb") as f:
            for _ in range(blocks * 8):
                f.write(blank)
    cfg = {"board": "esp32", "state_dir": d, "uarts": {}, "keystore": keystore,
           "flash": {"fs_bytes": blocks * 4096, "block_bytes": 4096}}
    return Board(cfg)


def reopen(board):
    """The same board after a reset: storage mounted again from its image or folder."""
    unmount()
    return Board(board.config)


def switch_to(board):
    """Make `board` the mounted one again (MicroPython mounts one image at /flash)."""
    return reopen(board)


class DetRng:
    """A deterministic stand-in for board.random_bytes: the test knows every byte it gives."""

    def __init__(self, seed):
        self.seed = seed
        self.count = 0

    def __call__(self, n):
        out = b""
        while len(out) < n:
            self.count += 1
            out += hashlib.sha256(self.seed + str(self.count).encode()).digest()
        return out[:n]


def storage_files(board):
    """(path, bytes) of every file of the board's storage, walking folders."""
    st = board.storage
    out = []
    stack = [""]
    while stack:
        sub = stack.pop()
        for name in st.listdir(sub):
            rel = sub + "/" + name if sub else name
            if os.stat(st.path(rel))[0] & 0x4000:
                stack.append(rel)
            else:
                out.append((rel, st.read(rel)))
    return out


def medium_contains(board, needles):
    """The needles found anywhere on the board's medium: the raw littlefs image under
    MicroPython (deleted files and stale blocks included), every file of the folder under
    CPython. Streams the image in chunks with an overlap, so a 128 KiB heap suffices."""
    found = []
    if not IS_MICROPYTHON:
        for _, data in storage_files(board):
            for n in needles:
                if n in data and n not in found:
                    found.append(n)
        return found
    keep = max(len(n) for n in needles) - 1
    tail = b""
    with open(board.state_dir + "/flash.img", "rb") as f:
        while True:
            chunk = f.read(4096)
            if not chunk:
                break
            buf = tail + chunk
            for n in needles:
                if n not in found and n in buf:
                    found.append(n)
            tail = buf[-keep:] if keep > 0 else b""
    return found
