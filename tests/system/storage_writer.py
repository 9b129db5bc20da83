# Run under the MicroPython interpreter by test_power_loss.py: mounts the simulated board's
# littlefs image (as the board does at boot), checks every file, then rewrites files with
# write_atomic() until it is killed. Each content carries its sequence number and a SHA-256, so a
# torn file cannot pass for a whole one.
import hashlib
import sys

from meterseal.hal.sim import Board

_FILES = 3


def content(seq, f):
    size = 100 + (seq * 7919 + f * 104729) % 9000  # 100..9100 bytes: up to three 4 KiB blocks
    body = bytearray(size)
    x = seq * 31 + f
    for i in range(0, size, 4):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        body[i] = x & 0xFF
    head = b"%08d%02d" % (seq, f)
    return head + bytes(body) + hashlib.sha256(head + bytes(body)).digest()


def check(data, f):
    """The sequence number of a whole file, or -1 for a torn or foreign one."""
    if data is None:
        return 0
    if len(data) < 42 or hashlib.sha256(data[:-32]).digest() != data[-32:]:
        return -1
    seq, ff = int(data[:8]), int(data[8:10])
    return seq if ff == f and content(seq, f) == data else -1


def main():
    state, start = sys.argv[1], int(sys.argv[2])
    cfg = {"board": "esp32", "state_dir": state, "uarts": {},
           "flash": {"fs_bytes": 64 * 4096, "block_bytes": 4096}}
    st = Board(cfg).storage
    for f in range(_FILES):
        print("have", f, check(st.read("data/f%d" % f), f))
    seq = start
    while True:
        for f in range(_FILES):
            print("start", f, seq)
            st.write_atomic("data/f%d" % f, content(seq, f))
            print("done", f, seq)
        seq += 1


main()
