# Run under the MicroPython interpreter by tests/system/test_keystore_*.py, on a simulated
# board's state folder (its littlefs image flash.img and eFuse file efuse.bin), exactly as the
# board's firmware mounts them. One command per run, one JSON line out:
#   status | gen NAME | put NAME HEX | secret NAME | sign NAME HEXDIGEST | read NAME |
#   write NAME HEX | erase | files          (HEX may be @FILE holding it)
import binascii
import json
import sys

from meterseal.hal.sim import Board


def hx(b):
    return binascii.hexlify(b).decode()


def main():
    state, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    # "@FILE" stands for the file's content: the unix port dies ("uncaught NLR") on a command
    # line argument of a few hundred characters.
    for i in range(len(args)):
        if args[i].startswith("@"):
            with open(args[i][1:]) as f:
                args[i] = f.read().strip()
    with open(state + "/board.json") as f:
        cfg = json.load(f)
    cfg["state_dir"] = state
    b = Board(cfg)
    out = {"cmd": cmd}
    if cmd == "read":  # raw bytes of an entry's file, as an attacker with the image sees them
        out["data"] = hx(b.storage.read("ks/" + args[0] + ".ks") or b"")
    elif cmd == "write":  # plant raw bytes (tampering, or another board's file)
        b.storage.write_atomic("ks/" + args[0] + ".ks", binascii.unhexlify(args[1]))
    elif cmd == "files":
        out["files"] = b.storage.listdir("ks")
    else:
        # Imported after the board is up, as app.main does: compiling the crypto modules
        # first would leave no 4 KiB piece of heap for a first boot's blank flash block.
        from meterseal.security import keystore

        ks = keystore.open(b)
        try:
            if cmd == "gen":
                out["pub"] = hx(ks.generate(args[0]))
            elif cmd == "put":
                ks.put_secret(args[0], binascii.unhexlify(args[1]))
            elif cmd == "secret":
                out["secret"] = hx(ks.get_secret(args[0]))
            elif cmd == "sign":
                out["sig"] = hx(ks.sign(args[0], binascii.unhexlify(args[1])))
                out["pub"] = hx(ks.public_key(args[0]))
            elif cmd == "erase":
                ks.erase()
        except keystore.KeystoreError as e:
            out["error"] = e.reason
        out["status"] = ks.status()
        out["names"] = ks.names()
    print(json.dumps(out))


main()
