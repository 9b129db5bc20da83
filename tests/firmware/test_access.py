# security/access.py: the paper's Table 1 as the meter's access-control table (S4, D2, D4), who
# may change which entry, and what a file planted on the flash can and cannot change.
from meterseal.security import access as A
from meterseal.security import roles as R
from mptest import MemStorage, raises

INST, LOC, MFC = R.METROLOGICAL_INSTITUTE, R.LOCAL_OPERATOR, R.MANUFACTURER
SM, OP, EP, DISP, DCS, CUST = (R.MSP_SECURITY, R.MSP_OPERATOR, R.ENERGY_PROVIDER, R.DISPLAY,
                               R.DATA_COLLECTION, R.CUSTOMER)

# The meter's column of Table 1, written out independently of access.DEFAULT.
EXPECTED = {
    "read_registers": {EP, SM, OP, DISP, DCS},
    "read_profile": {EP, SM, OP, DISP, DCS},
    "read_access_table": {SM, OP},
    "set_time": {INST, LOC},
    "set_parameter": {INST, LOC},
    "read_logbook": {INST},
    "reset_logbook": {INST},
    "install": {MFC},
    "erase": {MFC},
    "update_crl": {SM, INST},  # not in Table 1: revocation (S4), a fixed row
}


def _may(t, name, role, args=None):
    try:
        return t.authorise(name, args or {}, [role]) == role
    except A.Denied as e:
        assert e.reason == "role", e.args
        return False


def test_default_table_is_table_1_for_every_command_and_role():
    t = A.AccessTable(MemStorage())
    n = 0
    for name in EXPECTED:
        for role in R.ALL:
            assert _may(t, name, role) == (role in EXPECTED[name]), (name, role)
            n += 1
    assert n == 90
    assert sorted(A.CLASSES) == sorted(EXPECTED)  # nothing unlisted


def test_classes_name_their_trust_anchors():
    assert A.anchor_slots("set_time") == ("institute",)
    assert A.anchor_slots("read_logbook") == ("institute",)
    assert A.anchor_slots("read_registers") == ("msp",)
    assert A.anchor_slots("install") == ("manufacturer",)
    assert A.anchor_slots("no_such") == ()
    # set_access_entry takes the class of the entry it changes; fixed entries have none
    assert A.anchor_slots("set_access_entry", {"command": "set_parameter"}) == ("institute",)
    assert A.anchor_slots("set_access_entry", {"command": "read_profile"}) == ("msp",)
    assert A.anchor_slots("set_access_entry", {"command": "erase"}) == ()
    assert A.anchor_slots("set_access_entry", {}) == ()


def test_who_may_change_which_entry():
    t = A.AccessTable(MemStorage())
    for role in R.ALL:
        assert _may(t, "set_access_entry", role, {"command": "set_time"}) == (role == INST)
        assert _may(t, "set_access_entry", role, {"command": "read_registers"}) == (role == SM)
    with raises(A.Denied) as e:
        t.authorise("set_access_entry", {"command": "install"}, [MFC, SM, INST])
    assert e.value.reason == "fixed"
    with raises(A.Denied) as e:
        t.authorise("frobnicate", {}, [INST])
    assert e.value.reason == "unknown"


def test_a_changed_entry_persists_and_only_differences_are_stored():
    st = MemStorage()
    t = A.AccessTable(st)
    old = t.set_entry("set_parameter", [INST])
    assert sorted(old) == sorted([INST, LOC])
    assert not _may(t, "set_parameter", LOC)
    t2 = A.AccessTable(st)
    assert t2.allowed("set_parameter") == [INST] and not _may(t2, "set_parameter", LOC)
    assert b"read_registers" not in st.files["security/access.json"]
    assert t2.describe()["set_parameter"] == ["metrological", [INST]]
    with raises(A.Denied) as e:
        t2.set_entry("set_time", ["root"])
    assert e.value.reason == "value"
    with raises(A.Denied) as e:
        t2.set_entry("erase", [SM])
    assert e.value.reason == "fixed"


def test_a_planted_table_file_cannot_touch_fixed_entries():
    st = MemStorage()
    st.write_atomic("security/access.json", b'{"v": 1, "rows": {"install": ["customer"], '
                    b'"erase": ["customer"], "set_time": ["customer"], "read_logbook": "x"}}')
    t = A.AccessTable(st)
    assert not _may(t, "install", CUST) and _may(t, "install", MFC)
    assert _may(t, "set_time", CUST)  # a changeable entry: the logbook and the seal guard it
    assert _may(t, "read_logbook", INST)  # malformed row ignored
    st.write_atomic("security/access.json", b"not json")
    assert _may(A.AccessTable(st), "set_time", LOC)


def test_first_matching_role_of_a_certificate_is_the_acting_role():
    t = A.AccessTable(MemStorage())
    assert t.authorise("read_registers", {}, [CUST, DISP, EP]) == DISP
    with raises(A.Denied, match="needs one of the roles"):
        t.authorise("read_logbook", {}, [])


def test_peek_reads_name_and_args_without_trusting_them():
    from meterseal.crypto import cbor, cose

    class Zero:
        def sign_digest(self, d):
            return b"\x01" * 64

    payload = cbor.dumps({"v": 1, "cmd": "set_time", "args": {"time": 5}})
    msg = cose.sign1(payload, Zero(), x5chain=b"\x30\x03\x02\x01\x01")
    assert A.peek(msg) == ("set_time", {"time": 5})
    assert len(A.claimed_signer(msg)) == 32
    assert A.claimed_signer(cose.sign1(payload, Zero())) is None
    assert A.peek(b"\xd2\x84garbage") == (None, None)
    assert A.claimed_signer(b"\xd2\x84garbage") is None
    assert A.peek(cbor.dumps({"v": 1, "cmd": "set_time", "args": {}})) == (None, None)
    assert A.peek(cose.sign1(cbor.dumps({"cmd": 7}), Zero()))[0] is None
    assert A.peek(cose.sign1(b"\x01", Zero())) == (None, None)  # payload not a map
