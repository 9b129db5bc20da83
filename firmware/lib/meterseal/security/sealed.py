# Sealed readings: the EDL40 signed-data block of German charging-point and eHZ meters, as the
# S.A.F.E. Transparenzsoftware checks it (protocols-reference.md 4.5 and its errata; the wire
# and block layout with byte orders are in docs/sealed-readings.md).
#
# Profile "meterseal-edl40-emoc-p256 v1": MeterSeal meters sign in the EMOC form only: ECDSA
# P-256 over SHA-256 of the 320-byte block, listSignature = r(32) || s(32) || logbook(2),
# signature-version entry 00 AF 73 76 72 FF = 4, status as Unsigned32, reading as Integer64 in
# Wh with a scaler, 10-byte server ID. Verification also takes the classic P-192 form (50-byte
# listSignature) that older EDL40 meters send. The block depends on the *types* on the wire
# (status only from Unsigned32, reading only from Integer64 or Unsigned8..32), so the rules
# below follow the public verifier byte for byte; anything it would refuse, we refuse.
import hashlib

from meterseal.compat import const
from meterseal.proto import sml
from meterseal.proto import sml_tl as tl
from meterseal.crypto.errors import DecodeError, InvalidKey, InvalidSignature

# meterseal.crypto.ecdsa is imported only by the verify functions: a meter seals through its
# keystore's signer and never needs the curve code (about 30 KB of RAM) for that.

PROFILE = "meterseal-edl40-emoc-p256 v1"
SIGNATURE_VERSION = const(4)
BLOCK_LEN = const(320)

OBIS_READING = b"\x01\x00\x01\x11\x00\xff"  # 1-0:1.17.0*255 signed energy reading
OBIS_CONTRACT = b"\x81\x82\x81\x54\x01\xff"  # 129-130:129.84.1*255 contract id
OBIS_SECONDS_INDEX = b"\x81\x00\x60\x08\x00\x01"  # 129-0:96.8.0*1
OBIS_PAGINATION = b"\x81\x80\x81\x71\x01\xff"  # 129-128:129.113.1*255
OBIS_HISTORICAL = b"\x01\x00\x01\x11\x00\x64"  # 1-0:1.17.0*100
OBIS_HISTORICAL_COMP = b"\x01\x00\x01\x11\x00\xc8"  # 1-0:1.17.0*200
OBIS_RESISTANCE = b"\x00\xaf\x6c\x6c\x72\xff"  # 0-175:108.108.114*255 powerline resistance
OBIS_STOPWATCH = b"\x00\xaf\x64\x75\x72\xff"  # 0-175:100.117.114*255
OBIS_PRICE = b"\x00\xaf\x70\x72\x63\xff"  # 0-175:112.114.99*255
OBIS_SIGNATURE_VERSION = b"\x00\xaf\x73\x76\x72\xff"  # 0-175:115.118.114*255

_UNIT_WH = const(30)  # DLMS unit code Wh
_CLASSIC_SIG = const(50)  # P-192 r||s + 2 logbook bytes
_EMOC_SIG = const(66)  # P-256 r||s + 2 logbook bytes
MAX_OFFSET_S = const(64800)  # java.time.ZoneOffset allows +-18 h; the block holds UTC + offset
_CONTRACT_LEN = const(128)

# Block offsets (SAFE SMLSignature.java).
_O_TIME = const(10)
_O_STATUS = const(14)
_O_SECONDS = const(15)
_O_PAGINATION = const(19)
_O_OBIS = const(23)
_O_UNIT = const(29)
_O_SCALER = const(30)
_O_VALUE = const(31)
_O_LOGBOOK = const(39)
_O_CONTRACT = const(41)
_O_CONTRACT_TIME = const(169)
_O_HIST = const(173)
_O_HIST_COMP = const(181)
_O_RESISTANCE = const(189)
_O_STOPWATCH = const(191)
_O_PRICE = const(195)

# EMOC status: block bit i <- status word bit _EMOC_BITS[i] (None: always 0).
_EMOC_BITS = (17, None, None, 31, 16, 11, 9, 8)


def _le(block, off, v, n):
    for i in range(n):
        block[off + i] = (v >> (8 * i)) & 0xFF


def _kind(e, name):
    k = getattr(e, name + "_tl")
    if k is None:
        v = getattr(e, name)
        k = tl.int_kind(v) if isinstance(v, int) and not isinstance(v, bool) else 0
    return k


def _number(e, what):
    # jSML reads Integer64 from TL 56-59 and Unsigned8/16/32 from 62-65; the verifier takes
    # only those (getUIntOrLong) and refuses the rest.
    k = _kind(e, "value")
    if not isinstance(e.value, int) or not (0x56 <= k <= 0x59 or 0x62 <= k <= 0x65):
        raise DecodeError(what + ": not Integer64 or Unsigned8..32")
    return e.value


def _local_seconds(t, what):
    # UTC seconds + (localOffset + seasonTimeOffset) minutes, as 32-bit (SMLUtils, timeToBytes).
    if not isinstance(t, sml.Time) or t.kind != sml.Time.LOCAL:
        raise DecodeError(what + ": needs a localTimestamp")
    off = (t.local_offset + t.season_offset) * 60
    if off > MAX_OFFSET_S or off < -MAX_OFFSET_S:
        raise DecodeError(what + ": time offset out of range")
    return (t.value + off) & 0xFFFFFFFF


def _status_byte(e, emoc):
    if e.status is None or _kind(e, "status") not in (0x64, 0x65):
        return 0  # the verifier reads the status only from an Unsigned32
    w = e.status
    if not emoc:
        return w & 0xFF
    b = 0
    for i in range(8):
        src = _EMOC_BITS[i]
        if src is not None and (w >> src) & 1:
            b |= 1 << i
    return b


def _entries(res):
    got = {}
    for e in res.val_list or ():
        name = e.obj_name
        if name in got:
            # The public verifier lets the last one win; a display could show the first.
            raise DecodeError("duplicate entry " + _hex(name))
        got[name] = e
    return got


def _hex(b):
    import binascii

    return binascii.hexlify(b).decode()


def signature_version(res):
    e = _entries(res).get(OBIS_SIGNATURE_VERSION)
    return None if e is None else _number(e, "signature version")


def build_block(res, emoc=None, logbook=None):
    """The 320-byte signed-data block of GetList.Res `res` (protocols-reference.md 4.5).

    emoc: status mapping of the 66-byte form (default: from the length of res.list_signature);
    logbook: 2 bytes (default: the last 2 bytes of res.list_signature). Raises DecodeError with
    the field that is missing or not what the verifier accepts.
    """
    sig = res.list_signature
    if logbook is None:
        if sig is None or len(sig) < 2:
            raise DecodeError("listSignature missing")
        logbook = sig[-2:]
    if emoc is None:
        emoc = sig is not None and len(sig) == _EMOC_SIG
    if len(logbook) != 2:
        raise DecodeError("logbook: 2 bytes expected")
    if res.server_id is None or len(res.server_id) != 10:
        raise DecodeError("server id: 10 bytes expected")
    ents = _entries(res)
    block = bytearray(BLOCK_LEN)
    block[0:10] = res.server_id

    e = ents.get(OBIS_READING)
    if e is None:
        raise DecodeError("reading 1-0:1.17.0*255 missing")
    value = _number(e, "reading value")
    if e.unit != _UNIT_WH:
        raise DecodeError("reading unit: Wh (30) expected")
    if not isinstance(e.scaler, int) or not -128 <= e.scaler <= 127:
        raise DecodeError("reading scaler missing")
    _le(block, _O_TIME, _local_seconds(e.val_time, "reading time"), 4)
    block[_O_STATUS] = _status_byte(e, emoc)
    block[_O_OBIS : _O_OBIS + 6] = OBIS_READING
    block[_O_UNIT] = _UNIT_WH
    block[_O_SCALER] = e.scaler & 0xFF
    _le(block, _O_VALUE, value, 8)
    block[_O_LOGBOOK : _O_LOGBOOK + 2] = logbook

    e = ents.get(OBIS_SECONDS_INDEX)
    t = e and e.value
    if not isinstance(t, sml.Time) or t.kind != sml.Time.SEC_INDEX or t.value >> 32:
        raise DecodeError("seconds index 129-0:96.8.0*1 missing")
    _le(block, _O_SECONDS, t.value, 4)

    e = ents.get(OBIS_PAGINATION)
    if e is None:
        raise DecodeError("pagination 129-128:129.113.1*255 missing")
    _le(block, _O_PAGINATION, _number(e, "pagination"), 4)

    e = ents.get(OBIS_CONTRACT)
    if e is None or not isinstance(e.value, bytes) or len(e.value) > _CONTRACT_LEN:
        raise DecodeError("contract id 129-130:129.84.1*255 missing or over 128 bytes")
    block[_O_CONTRACT : _O_CONTRACT + len(e.value)] = e.value
    _le(block, _O_CONTRACT_TIME, _local_seconds(e.val_time, "contract id time"), 4)

    for obis, off, n, what in ((OBIS_HISTORICAL, _O_HIST, 8, "historical value"),
                               (OBIS_HISTORICAL_COMP, _O_HIST_COMP, 8, "compensated value"),
                               (OBIS_RESISTANCE, _O_RESISTANCE, 2, "powerline resistance"),
                               (OBIS_STOPWATCH, _O_STOPWATCH, 4, "stopwatch")):
        e = ents.get(obis)
        if e is not None:
            _le(block, off, _number(e, what), n)
    e = ents.get(OBIS_PRICE)
    if e is not None:
        v = _number(e, "price")
        block[_O_PRICE] = (v >> 8) & 0xFF  # big-endian: intTo2Bytes without the reversal
        block[_O_PRICE + 1] = v & 0xFF
    return bytes(block)


def _public_key(public_key):
    from meterseal.crypto import ecdsa

    n = len(public_key)
    if n == 48 or n == 64:
        public_key = b"\x04" + bytes(public_key)
        n += 1
    if n == 49 and public_key[0] == 4:
        return ecdsa.P192, public_key
    if n == 65 and public_key[0] == 4:
        return ecdsa.P256, public_key
    raise InvalidKey("public key: raw X||Y of 48 (P-192) or 64 (P-256) bytes expected")


def verify_digest(digest, list_signature, public_key, version=None):
    """Check a listSignature (r||s||logbook) over the SHA-256 digest of a block.

    The form follows the key: 48-byte key -> P-192 with the 50-byte listSignature (digest cut
    to 24 bytes by ECDSA's bits2int); 64-byte key -> P-256 with the 66-byte EMOC listSignature,
    which needs signature `version` 4. Raises InvalidSignature(reason), InvalidKey.
    """
    from meterseal.crypto import ecdsa

    curve, pub = _public_key(public_key)
    sig = list_signature
    if curve is ecdsa.P192:
        if len(sig) != _CLASSIC_SIG:
            raise InvalidSignature("a P-192 key needs the 50-byte listSignature")
    elif len(sig) != _EMOC_SIG:
        raise InvalidSignature("a P-256 key needs the 66-byte EMOC listSignature")
    elif version != SIGNATURE_VERSION:
        raise InvalidSignature("EMOC form needs signature version 4 (00 AF 73 76 72 FF)")
    try:
        ecdsa.verify_raw(curve, pub, digest, sig[:-2])
    except InvalidSignature:
        raise InvalidSignature("signature does not match")


def verify_res(res, public_key):
    """Check one GetList.Res; returns its 320-byte block, raises InvalidSignature(reason)."""
    _public_key(public_key)
    if res.list_signature is None:
        raise InvalidSignature("no listSignature")
    try:
        block = build_block(res)
        version = signature_version(res)
    except DecodeError as e:
        raise InvalidSignature(e.args[0])
    verify_digest(hashlib.sha256(block).digest(), res.list_signature, public_key, version)
    return block


def verify_sealed(data, public_key):
    """Verify every GetList.Res of an SML file (bytes), a message list or one GetList.Res.

    Returns the verified GetList.Res objects; raises InvalidSignature whose reason names the
    reading (1 = first GetList.Res) and the field, e.g. "reading 1: reading unit: Wh (30)
    expected"; InvalidKey for a malformed key. Only what build_block puts in the block is
    covered by the signature: treat every other field of the file as unauthenticated.
    """
    if isinstance(data, sml.GetListRes):
        ress = [data]
    else:
        if isinstance(data, (bytes, bytearray)):
            try:
                data = sml.decode_frame(data)
            except tl.FrameError as e:
                raise InvalidSignature("sml: " + e.args[0])
        ress = [m.body for m in data if isinstance(m.body, sml.GetListRes)]
    if not ress:
        raise InvalidSignature("no GetList.Res")
    for i in range(len(ress)):
        try:
            verify_res(ress[i], public_key)
        except InvalidSignature as e:
            raise InvalidSignature("reading %d: %s" % (i + 1, e.args[0]))
    return ress


def seal(res, signer, logbook=b"\x00\x00"):
    """Sign GetList.Res `res` in place in the EMOC P-256 form and return it.

    Sets the types the profile fixes (status Unsigned32, reading Integer64) and adds the
    signature-version entry; `signer.sign_digest(digest32)` returns r||s (64 bytes), so the
    private key stays in the keystore. Raises ValueError for a reading the profile refuses.
    """
    ents = _entries(res)
    e = ents.get(OBIS_READING)
    if e is None:
        raise ValueError("reading 1-0:1.17.0*255 missing")
    for name, kind in (("status", tl.U32), ("value", tl.I64)):
        if getattr(e, name + "_tl") not in (None, kind):
            raise ValueError(name + " must be " + ("Unsigned32" if kind == tl.U32 else "Integer64"))
        setattr(e, name + "_tl", kind)
    if e.status is None:
        e.status = 0
    v = ents.get(OBIS_SIGNATURE_VERSION)
    if v is None:
        res.val_list.append(sml.ListEntry(obj_name=OBIS_SIGNATURE_VERSION, value=SIGNATURE_VERSION,
                                          value_tl=tl.U8))
    elif v.value != SIGNATURE_VERSION:
        raise ValueError("signature version must be 4")
    block = build_block(res, emoc=True, logbook=logbook)
    sig = signer.sign_digest(hashlib.sha256(block).digest())
    if len(sig) != 64:
        raise ValueError("signer returned a signature of the wrong length")
    res.list_signature = bytes(sig) + bytes(logbook)
    return res


def make_reading(server_id, value_wh, time, seconds_index, pagination, contract_id,
                 contract_time, scaler=0, status=0):
    """An unsigned GetList.Res in the profile's shape; `time` and `contract_time` are
    sml.Time(Time.LOCAL, utc_seconds, local_offset_min, season_offset_min)."""
    E = sml.ListEntry
    return sml.GetListRes(server_id=server_id, val_list=[
        E(obj_name=OBIS_CONTRACT, val_time=contract_time, value=contract_id),
        E(obj_name=OBIS_READING, status=status, status_tl=tl.U32, val_time=time, unit=_UNIT_WH,
          scaler=scaler, value=value_wh, value_tl=tl.I64),
        E(obj_name=OBIS_SECONDS_INDEX, value=sml.Time(sml.Time.SEC_INDEX, seconds_index)),
        E(obj_name=OBIS_PAGINATION, value=pagination, value_tl=tl.U32),
    ])


def sml_file(res, file_id=b"\x01", tx=1):
    """Open.Res, the GetList.Res and Close.Res as one SML transport frame (bytearray)."""
    def txid(i):
        return bytes((i >> 8 & 0xFF, i & 0xFF))

    return sml.encode_frame([
        sml.Message(sml.OpenRes(req_file_id=file_id, server_id=res.server_id, sml_version=1),
                    txid(tx)),
        sml.Message(res, txid(tx + 1)),
        sml.Message(sml.CloseRes(), txid(tx + 2), abort=0),
    ])
