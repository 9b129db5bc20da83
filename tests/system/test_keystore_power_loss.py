"""Power loss during keystore changes (issue 5: "never a half-written keystore").

A MicroPython process at the ESP32 heap generates keys, replaces secrets and erases the keystore
on a simulated board's littlefs image, and is killed with SIGKILL at random moments, 20 times.
After each kill the keystore must open "ok" or "empty" (never damaged), every key must sign,
every secret must be whole, and the contents must be those before or after the operation the
kill interrupted, with every completed operation kept.
"""
import os
import random
import signal
import subprocess
import time
from pathlib import Path

from host_tools.paths import FIRMWARE_LIB
from host_tools.sim import micropython_command
from host_tools import frozen

WRITER = Path(__file__).with_name("keystore_writer.py")


def _spawn(state, seq, erase_first):
    env = frozen.mp_env()
    cmd = frozen.mp_command() + [str(WRITER), str(state), str(seq)]
    if erase_first:
        cmd.append("erase")
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _apply(model, seq, op):
    m = dict(model)
    if op == "erase":
        return {}
    if op == "gen":
        m["k%d" % seq] = "key"
    else:
        m["s%d" % (seq % 3)] = seq
    return m


def _parse(out):
    text = out.decode(errors="replace")
    have, ops, status, ready = {}, [], None, False
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "status":
            status = parts[1]
        elif parts[0] == "have" and len(parts) == 3:
            have[parts[1]] = "key" if parts[2] == "key" else int(parts[2])
        elif parts[0] == "ready":
            ready = True
        elif parts[0] == "start" and len(parts) == 3:
            ops.append([int(parts[1]), parts[2], False])
        elif parts[0] == "done" and len(parts) == 2 and ops and ops[-1][0] == int(parts[1]):
            ops[-1][2] = True
        else:
            raise AssertionError("writer said: " + text[-2000:])
    return status, have, ready, ops


def test_sigkill_during_keystore_changes_never_leaves_a_damaged_keystore(tmp_path):
    # The erased chip, made here: hal/sim.py would make it with a 4 KiB buffer on a heap the
    # writer's imports have already cut into pieces.
    (tmp_path / "flash.img").write_bytes(b"\xff" * 128 * 4096)
    rng = random.Random(5)
    allowed = [{}]  # the keystore contents acceptable at the next open
    seq = 0
    kills = mid_op = 0
    cut = {"gen": 0, "put": 0, "erase": 0}
    while kills < 20:
        p = _spawn(tmp_path, seq, kills % 2 == 1)
        time.sleep(rng.uniform(0.15, 0.8))
        p.send_signal(signal.SIGKILL)
        out, _ = p.communicate(timeout=30)
        status, have, ready, ops = _parse(out)
        if not ready:
            continue  # killed before it had looked: nothing to check, nothing changed
        kills += 1
        assert status in ("ok", "empty"), "keystore %s after kill %d" % (status, kills)
        assert all(v != -1 for v in have.values()), "a torn secret: %s" % have
        assert have in allowed, "after kill %d the keystore holds %s, expected one of %s" % (
            kills, sorted(have.items()), [sorted(a.items()) for a in allowed])
        model = have
        for s, op, done in ops:
            if done:
                model = _apply(model, s, op)
            else:
                allowed = [model, _apply(model, s, op)]
                mid_op += 1
                cut[op] += 1
                break
        else:
            allowed = [model]
        seq = max([seq] + [s + 1 for s, _, _ in ops])
    assert mid_op >= 15, "only %d kills hit an operation: the test would prove little" % mid_op
    assert cut["gen"] and cut["put"] and cut["erase"], cut  # each kind was cut at least once
    print("kills %d, mid-operation %d: %s" % (kills, mid_op, cut))
