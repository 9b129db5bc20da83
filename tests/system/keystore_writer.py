# Run under the MicroPython interpreter by test_keystore_power_loss.py, at the ESP32 heap: mounts
# the simulated board's littlefs image as the board does at boot, opens the keystore (which
# finishes an erase that a power loss cut short), reports what it holds, then changes it until
# it is killed. With a third argument "erase" it starts with erase(). Then operation `seq` is
# a function of seq alone, so the test can replay the model:
#   seq odd: generate("k<seq>")      seq even: put_secret("s<seq % 3>", value(seq))
# except that with 20 keys in store (a real board holds a handful) it puts instead of generating.
import binascii
import hashlib
import sys

from meterseal.crypto import ecdsa
from meterseal.hal.sim import Board
from meterseal.security import keystore


def value(seq):
    head = b"%08d" % seq
    return head + hashlib.sha256(head).digest()[:8]


def main():
    state, start = sys.argv[1], int(sys.argv[2])
    erase_first = sys.argv[3:] == ["erase"]
    cfg = {"board": "esp32", "state_dir": state, "uarts": {}, "keystore": "sim-file",
           "flash": {"fs_bytes": 128 * 4096, "block_bytes": 4096}}
    b = Board(cfg)  # after the imports: compiling them needs the heap in one piece
    ks = keystore.open(b)
    print("status", ks.status())
    digest = hashlib.sha256(b"power").digest()
    for name in ks.names():
        if name[0] == "k":
            pub = ks.public_key(name)
            ecdsa.verify_raw(ecdsa.P256, pub, digest, ks.sign(name, digest))  # raises if bad
            print("have", name, "key")
        else:
            v = ks.get_secret(name)
            seq = int(v[:8])
            print("have", name, seq if v == value(seq) else -1)
    nkeys = len([n for n in ks.names() if n[0] == "k"])
    print("ready")
    seq = start
    if erase_first:
        # An erase scrubs every free block (ks_file.py): it takes longer than a few hundred
        # other operations, so the test asks for one in every other run only.
        print("start", seq, "erase")
        ks.erase()
        nkeys = 0
        print("done", seq)
        seq += 1
    while True:
        if seq & 1 and nkeys < 20:
            print("start", seq, "gen")
            ks.generate("k%d" % seq)
            nkeys += 1
        else:
            print("start", seq, "put")
            ks.put_secret("s%d" % (seq % 3), value(seq))
        print("done", seq)
        seq += 1


main()
