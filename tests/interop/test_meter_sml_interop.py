"""The meter's sealed readings against code we did not write (S1, D6, issue 6 tests):

* smllib (SmlLib) parses every SML file a simulated MicroPython meter sealed and gets the same
  values our decoder gets (server ID, OBIS, status, time, unit, scaler, value, seconds index,
  pagination, listSignature) and the same per-message CRCs;
* the 320-byte block is rebuilt here from smllib's values and the table of
  docs/sealed-readings.md, without meterseal.security.sealed, and pyca/cryptography (OpenSSL)
  verifies the meter's signature over it with the key CERT_EM certifies."""
import hashlib
import time

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec as cec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature
from smllib.reader import SmlStreamReader

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "system"))
from meter_help import make_ca, meter_board, provision_fully  # noqa: E402

from host_tools import readings as rd  # noqa: E402
from host_tools.console import BoardConsole  # noqa: E402
from meterseal.proto import sml  # noqa: E402
from meterseal.security import sealed  # noqa: E402

# EMOC status mapping (docs/sealed-readings.md): block bit i <- status word bit MAP[i]
MAP = {0: 17, 3: 31, 4: 16, 5: 11, 6: 9, 7: 8}


@pytest.fixture(scope="module")
def meter_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("smlmeter")
    p, directory = make_ca(d)
    b = meter_board(d / "m", scale=1440)
    with b:
        cert, _ = provision_fully(b, p, directory)
        with BoardConsole(b.url(), timeout=10) as con:
            deadline = time.monotonic() + 30
            while con.request("meter")["readings"]["last"] < 3:
                assert time.monotonic() < deadline
                time.sleep(0.2)
            got, _ = rd.pull(con)
    return [f for _, f in got], cert


def _smllib(frame):
    r = SmlStreamReader()
    r.add(bytes(frame))
    f = r.get_frame()
    assert f is not None  # smllib checked the frame CRC
    return f.parse_frame()


def _block(g):
    """The signed-data block from smllib's GetList.Res, by the spec table."""
    v = {e.obis: e for e in g.val_list}
    b = bytearray(320)
    b[0:10] = bytes.fromhex(g.server_id)
    r = v["0100011100ff"]
    t = r.val_time
    b[10:14] = int(t.timestamp() + t.utcoffset().total_seconds()).to_bytes(4, "little")
    status = 0
    for i, src in MAP.items():
        if (r.status >> src) & 1:
            status |= 1 << i
    b[14] = status
    b[15:19] = v["810060080001"].value.to_bytes(4, "little")
    b[19:23] = v["8180817101ff"].value.to_bytes(4, "little")
    b[23:29] = bytes.fromhex("0100011100ff")
    b[29] = r.unit
    b[30] = r.scaler & 0xFF
    b[31:39] = r.value.to_bytes(8, "little", signed=True)
    sig = bytes.fromhex(g.list_signature)
    b[39:41] = sig[64:66]
    c = v["8182815401ff"]
    cid = bytes.fromhex(c.value) if all(ch in "0123456789abcdef" for ch in c.value) \
        else c.value.encode()
    b[41:41 + len(cid)] = cid
    ct = c.val_time
    b[169:173] = int(ct.timestamp() + ct.utcoffset().total_seconds()).to_bytes(4, "little")
    assert v["00af737672ff"].value == 4  # signature version of the EMOC form
    return bytes(b), sig


def test_smllib_reads_the_same_values(meter_files):
    files, _ = meter_files
    for frame in files:
        ours = [m.body for m in sml.decode_frame(frame)]
        theirs = [m.message_body for m in _smllib(frame)]
        assert [type(x).__name__ for x in theirs] == ["SmlOpenResponse"] + \
            ["SmlGetListResponse"] * 4 + ["SmlCloseResponse"]
        for o, t in zip(ours[1:5], theirs[1:5]):
            assert t.server_id == o.server_id.hex() and t.list_signature == o.list_signature.hex()
            tv = {e.obis: e for e in t.val_list}
            assert sorted(tv) == sorted(e.obj_name.hex() for e in o.val_list)
            for e in o.val_list:
                x = tv[e.obj_name.hex()]
                if isinstance(e.value, sml.Time):
                    assert x.value == e.value.value  # seconds index
                elif isinstance(e.value, bytes):
                    assert x.value in (e.value.hex(), e.value.decode("latin-1"))
                else:
                    assert x.value == e.value
                assert (x.unit, x.scaler) == (e.unit, e.scaler)
                assert x.status == e.status
                if e.val_time is not None:
                    assert x.val_time.timestamp() == e.val_time.value
                    assert x.val_time.utcoffset().total_seconds() == 60 * (
                        e.val_time.local_offset + e.val_time.season_offset)


def test_cryptography_verifies_the_seals_over_an_independent_block(meter_files):
    files, cert = meter_files
    key = cert.public_key()
    assert isinstance(key.curve, cec.SECP256R1)
    n = 0
    for frame in files:
        for m in _smllib(frame):
            g = m.message_body
            if type(g).__name__ != "SmlGetListResponse":
                continue
            block, sig = _block(g)
            der = encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                       int.from_bytes(sig[32:64], "big"))
            key.verify(der, hashlib.sha256(block).digest(), cec.ECDSA(Prehashed(hashes.SHA256())))
            n += 1
            # and the firmware builds the same block from its own parse
            res = [x.body for x in sml.decode_frame(frame) if isinstance(x.body, sml.GetListRes)
                   and x.body.list_signature.hex() == g.list_signature][0]
            assert sealed.build_block(res) == block
            # one changed byte of the block: OpenSSL says no
            bad = bytearray(block)
            bad[31] ^= 1
            with pytest.raises(Exception):
                key.verify(der, hashlib.sha256(bytes(bad)).digest(),
                           cec.ECDSA(Prehashed(hashes.SHA256())))
    assert n == 4 * len(files) >= 12
