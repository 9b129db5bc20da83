# security/signed_command.py: authentication of signed commands (S2, S4, U2), against commands
# made by the host tools with pyca/cryptography keys and certificates (prep_commands.py).
from meterseal.security import signed_command as sc
from mptest import MemStorage, raises, unhex, vector_lines

DEVICE = "1MSL0012345678"
NOW = 1790000000


def _vectors():
    anchor = None
    out = []
    for line in vector_lines("signed_commands.txt"):
        name, expect, hx = line.split(" ")
        if name == "anchor":
            anchor = unhex(hx)
        else:
            out.append((name, expect, hx))
    return anchor, out


def test_every_vector_gets_its_verdict_in_order():
    anchor, vectors = _vectors()
    guard = sc.ReplayGuard(MemStorage())
    seen = 0
    for name, expect, hx in vectors:
        msg = unhex(hx)
        if expect == "ok":
            c = sc.verify(msg, [anchor], DEVICE, guard, now=NOW)
            assert c.name == "read_registers" and c.roles == ["msp-operator"], name
            assert c.signer == "CN=Operator 1"
        else:
            with raises(sc.Rejected) as e:
                sc.verify(msg, [anchor], DEVICE, guard, now=NOW)
            assert e.value.reason == expect, "%s: %s" % (name, e.value.args)
        seen += 1
    assert seen == 12


def test_clock_not_trusted_skips_age_but_not_replay():
    anchor, vectors = _vectors()
    old = [unhex(h) for n, _, h in vectors if n == "too-old"][0]
    guard = sc.ReplayGuard(MemStorage())
    c = sc.verify(old, [anchor], DEVICE, guard, now=None)
    assert c.counter == 17
    with raises(sc.Rejected) as e:
        sc.verify(old, [anchor], DEVICE, guard, now=None)
    assert e.value.reason == "replay"


def test_replay_table_survives_restart_and_rejection_changes_nothing():
    anchor, vectors = _vectors()
    st = MemStorage()
    valid = unhex([h for n, _, h in vectors if n == "valid"][0])
    wrong_dev = unhex([h for n, _, h in vectors if n == "other-device"][0])
    with raises(sc.Rejected):
        sc.verify(wrong_dev, [anchor], DEVICE, sc.ReplayGuard(st), now=NOW)
    assert st.files == {}  # a rejected command leaves no trace in the replay table
    sc.verify(valid, [anchor], DEVICE, sc.ReplayGuard(st), now=NOW)
    with raises(sc.Rejected) as e:  # a new guard reads the persisted counter
        sc.verify(valid, [anchor], DEVICE, sc.ReplayGuard(st), now=NOW)
    assert e.value.reason == "replay"


def test_peek_reads_the_name_without_trusting_it():
    anchor, vectors = _vectors()
    assert sc.peek(unhex(vectors[0][2])) == "read_registers"


def test_forgetting_a_signer_never_reopens_its_old_commands():
    # 64 signers per class are remembered; the one forgotten raises the class's floor, so its
    # recorded commands stay refused, and another class's flood cannot push it out at all.
    st = MemStorage()
    g = sc.ReplayGuard(st)
    g.accept("institute", 1000, "metrological")
    g.accept("victim", 500, "non-metrological")
    for i in range(64):  # certificates an attacker minted, each with one command
        g.accept("minted%d" % i, 2000 + i, "non-metrological")
    g = sc.ReplayGuard(st)  # after a restart too
    for old in (500, 450):  # its recorded commands
        with raises(sc.Rejected) as e:
            g.check("victim", old, "non-metrological")
        assert e.value.reason == "replay"
    g.check("victim", 2064, "non-metrological")  # a fresh (ms) counter: fine
    with raises(sc.Rejected):
        g.check("institute", 1000, "metrological")  # the other class kept it
    g.check("institute", 1001, "metrological")


def test_counter_beyond_the_range_is_malformed():
    # A counter of 2^64-1 would lock its signer out for good; 2^53-1 is the most accepted.
    from meterseal.crypto import cbor

    class Msg:
        def __init__(self, ctr):
            self.payload = cbor.dumps({"v": 1, "dev": DEVICE, "cmd": "x", "args": {},
                                       "ctr": ctr, "iat": 0})

    assert sc._payload(Msg((1 << 53) - 1))["ctr"] == (1 << 53) - 1
    for ctr in (1 << 53, (1 << 64) - 1, -1):
        with raises(sc.Rejected) as e:
            sc._payload(Msg(ctr))
        assert e.value.reason == "malformed"
