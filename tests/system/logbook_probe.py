# Run under MicroPython by tests/system/test_meter_logbook.py on a stopped simulated
# board's state folder: the files of logbook/ in its littlefs image, as someone with the flash
# in hand sees them. One command per run, one JSON line out:
#   ls | read NAME | write NAME @HEXFILE | remove NAME
import binascii
import json
import sys

from meterseal.hal.sim import Board


def main():
    state, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    with open(state + "/board.json") as f:
        cfg = json.load(f)
    cfg["state_dir"] = state
    cfg["sim_frozen_modules"] = []
    st = Board(cfg).storage
    out = {"cmd": cmd}
    if cmd == "ls":
        out["files"] = st.listdir("logbook")
    elif cmd == "read":
        out["data"] = binascii.hexlify(st.read("logbook/" + args[0]) or b"").decode()
    elif cmd == "write":
        with open(args[1][1:]) as f:
            st.write_atomic("logbook/" + args[0], binascii.unhexlify(f.read().strip()))
    elif cmd == "remove":
        st.remove("logbook/" + args[0])
    print(json.dumps(out))


main()
