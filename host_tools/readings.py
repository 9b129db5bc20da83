"""Sealed readings on the host (issue 6 item 5, S1, U1): pull them from a meter, keep them as
they came, check each one against CERT_EM and its chain to the institute root.

The file `readings pull` writes is the SML files the meter sealed, one after the other, unchanged
(docs/meter.md "Readings file"): each is a complete SML transport v1 frame (escape, start, ...,
end, CRC), so the file is also a valid SML byte stream that any SML reader takes. Reading n's
Open.Res carries n as its 4-byte reqFileId (a label: the signatures cover the values, the seconds
index and the pagination, not the label).

Library functions; cmd_readings.py prints.
"""
import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature as CryptoInvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .cert_status import ChainStatus, StatusError
from .errors import EXIT_CHECK_FAILED, ToolError
from .pki_files import load_certs, load_crl

_START = b"\x1b\x1b\x1b\x1b\x01\x01\x01\x01"
_ESC = b"\x1b\x1b\x1b\x1b"
REGISTERS = ("1-0:1.8.0*255", "1-0:1.8.1*255", "1-0:1.8.2*255", "1-0:2.8.0*255")


class VerifyFailed(ToolError):
    exit_code = EXIT_CHECK_FAILED


# --- pulling ------------------------------------------------------------------------------------

def pull(con, first=None, progress=None):
    """[(n, sml_file_bytes)] of every reading the meter held when the pull began (from `first`
    on), and the meter's answer fields of the first page (device_id, sealing, first, last)."""
    out = []
    nxt = first
    info = None
    while True:
        args = {"count": 16}
        if nxt is not None:
            args["first"] = nxt
        page = con.request("readings", args)
        if info is None:  # the ring as it was when the pull began: a meter sealing on while we
            info = {k: page.get(k) for k in ("device_id", "sealing", "first", "last")}
        got = [(int(n), bytes(d)) for n, d in page["readings"] if int(n) <= info["last"]]
        out.extend(got)
        if progress and got:
            progress(got[-1][0], info["last"])
        if not got or got[-1][0] >= info["last"]:
            return out, info
        nxt = got[-1][0] + 1


def save(readings, path):
    with open(path, "wb") as f:
        for _, data in readings:
            f.write(data)


# --- splitting a stream of SML files ------------------------------------------------------------

def split(data):
    """The SML transport frames of `data`, in order, as (offset, bytes). Bytes outside frames
    are refused: a readings file holds nothing else."""
    frames = []
    p = 0
    n = len(data)
    while p < n:
        if data[p:p + 8] != _START:
            raise VerifyFailed("reading #%d in the file (byte %d): not the start of an SML file"
                               % (len(frames) + 1, p))
        i = p + 8
        end = None
        while True:
            # An escape may sit anywhere in the payload, not only on the 4-byte grid: a value
            # or signature holding 1B1B1B1B is sent doubled wherever it falls (sml_tl.py).
            i = data.find(_ESC, i)
            if i < 0 or i + 8 > n:
                break
            if data[i + 4:i + 8] == _ESC:  # an escaped escape in the payload
                i += 8
                continue
            if data[i + 4] == 0x1A:
                end = i + 8
                break
            raise VerifyFailed("reading #%d in the file (byte %d): unknown escape sequence"
                               % (len(frames) + 1, i))
        if end is None:
            raise VerifyFailed("reading #%d in the file (byte %d): SML file without its end"
                               % (len(frames) + 1, p))
        frames.append((p, bytes(data[p:end])))
        p = end
    return frames


def reading_number(frame):
    """The meter's reading number from Open.Res reqFileId (None if not ours)."""
    from meterseal.proto import sml

    try:
        for m in sml.decode_frame(frame):
            if isinstance(m.body, sml.OpenRes) and m.body.req_file_id is not None \
                    and len(m.body.req_file_id) == 4:
                return int.from_bytes(bytes(m.body.req_file_id), "big")
    except Exception:
        return None
    return None


def device_id_of(server_id):
    """The device ID (certificate name) a 10-byte server ID stands for (roles/identity.py).
    One to one: a server ID that the meter's encoding would not give back is refused, so two
    server IDs never name the same certificate."""
    from meterseal.roles import identity

    sid = bytes(server_id)
    if len(sid) != 10 or sid[0:2] != b"\x0a\x01" or not sid[2:5].isalpha() \
            or not sid[2:5].isupper() or sid[5] > 99:
        raise VerifyFailed("server ID %s is not a MeterSeal meter's" % sid.hex())
    ident = {"medium": identity.MEDIUM_ELECTRICITY, "manufacturer": sid[2:5].decode("ascii"),
             "version": sid[5], "id": int.from_bytes(sid[6:10], "big")}
    if identity.server_id(ident) != sid or ident["id"] > 99999999:
        raise VerifyFailed("server ID %s is not a MeterSeal meter's" % sid.hex())
    return identity.device_id(ident)


# --- certificates ----------------------------------------------------------------------------

def check_chain(chain, root):
    """CERT_EM -> calibration authority -> institute root: each signed by the next, issuers are
    CAs, CERT_EM may sign (digitalSignature), the top is the given root. Raises VerifyFailed."""
    if not chain:
        raise VerifyFailed("no CERT_EM")
    certs = list(chain)
    if certs[-1] != root:
        certs.append(root)
    if certs[-1].issuer != certs[-1].subject:
        raise VerifyFailed("the root %s is not self-signed" % certs[-1].subject.rfc4514_string())
    try:
        ku = certs[0].extensions.get_extension_for_class(x509.KeyUsage).value
        if not ku.digital_signature:
            raise VerifyFailed("CERT_EM does not allow digitalSignature")
    except x509.ExtensionNotFound:
        pass
    for child, parent in zip(certs, certs[1:]):
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, CryptoInvalidSignature):
            raise VerifyFailed("%s is not signed by %s" % (child.subject.rfc4514_string(),
                                                           parent.subject.rfc4514_string()))
        try:
            bc = parent.extensions.get_extension_for_class(x509.BasicConstraints).value
            ok = bc.ca
        except x509.ExtensionNotFound:
            ok = False
        if not ok:
            raise VerifyFailed("%s is not a CA" % parent.subject.rfc4514_string())
    if len(certs) < 3:
        raise VerifyFailed("CERT_EM must come through the calibration authority (3 certificates)")
    return certs


def raw_key(cert):
    pub = cert.public_key()
    if not isinstance(pub, ec.EllipticCurvePublicKey) or pub.curve.name != "secp256r1":
        raise VerifyFailed("CERT_EM is not a P-256 key")
    return pub.public_bytes(serialization.Encoding.X962,
                            serialization.PublicFormat.UncompressedPoint)[1:]


class MeterCert:
    """What a reading is checked against: CERT_EM's raw key, and its chain's validity dates and
    revocation (cert_status.ChainStatus) for the moment the reading was signed.
    certs: CERT_EM first, then its issuers as far as known (checked by check_chain)."""

    def __init__(self, certs, crls=()):
        self.key = raw_key(certs[0])
        self.status = ChainStatus(certs, crls)


# --- verifying ---------------------------------------------------------------------------------

def verify_frame(frame, key_for):
    """Check one SML file. key_for(device_id) -> MeterCert. Returns a row dict: n, device,
    time (local s, as signed), seconds index, pagination (first), values {register: Wh}, ok,
    reason, after_crl (signed later than the newest CRL of CERT_EM's issuer could tell)."""
    from meterseal.crypto.errors import InvalidKey, InvalidSignature
    from meterseal.proto import sml
    from meterseal.security import sealed

    row = {"n": reading_number(frame), "device": None, "time": None, "sec": None, "pag": None,
           "values": {}, "ok": False, "reason": None, "after_crl": False}
    try:
        msgs = sml.decode_frame(frame)
        ress = [m.body for m in msgs if isinstance(m.body, sml.GetListRes)]
        if not ress:
            raise InvalidSignature("no GetList.Res")
        row["device"] = device_id_of(ress[0].server_id)
        for r in ress:
            if bytes(r.server_id) != bytes(ress[0].server_id):
                raise InvalidSignature("two server IDs in one reading")
        mc = key_for(row["device"])
        sealed.verify_sealed(frame, mc.key)
        blocks = [sealed.build_block(r) for r in ress]
        _one_snapshot(blocks)
        # The blocks sign local time only: UTC + an offset the SML states but the signature
        # does not cover, bounded to 18 h. So the signing moment is known within that window
        # (one window: _one_snapshot made every block's time the same).
        local = int.from_bytes(blocks[0][10:14], "little")
        row["after_crl"] = not mc.status.check_signed_between(local - sealed.MAX_OFFSET_S,
                                                              local + sealed.MAX_OFFSET_S)
    except (InvalidSignature, InvalidKey, ValueError) as e:
        row["reason"] = e.args[0] if e.args else type(e).__name__
        return row
    except StatusError as e:
        row["reason"] = "CERT_EM: %s" % e
        return row
    except ToolError as e:
        row["reason"] = str(e)
        return row
    for block in blocks:  # only values taken from the verified blocks are shown
        tag = bytes(block[41:169]).rstrip(b"\x00").decode("ascii", "replace")
        value = int.from_bytes(block[31:39], "little", signed=True)
        scaler = block[30] - 256 if block[30] > 127 else block[30]
        row["values"][tag] = value * 10 ** scaler if scaler >= 0 else value / 10 ** -scaler
        row["time"] = int.from_bytes(block[10:14], "little")
        row["sec"] = int.from_bytes(block[15:19], "little")
        if row["pag"] is None:
            row["pag"] = int.from_bytes(block[19:23], "little")
    row["ok"] = True
    return row


def _one_snapshot(blocks):
    """Each GetList.Res is signed on its own, so a file could be spliced from several readings:
    all blocks of one file must share server ID, time, seconds index and contract-id time,
    number their pages consecutively and name each register once."""
    from meterseal.crypto.errors import InvalidSignature

    b0 = blocks[0]
    pag0 = int.from_bytes(b0[19:23], "little")
    names = set()
    for k, b in enumerate(blocks):
        if b[0:14] != b0[0:14] or b[15:19] != b0[15:19] or b[169:173] != b0[169:173]:
            raise InvalidSignature("GetList.Res of different readings in one file")
        if int.from_bytes(b[19:23], "little") != pag0 + k:
            raise InvalidSignature("pages of one reading not consecutive")
        names.add(bytes(b[41:169]))
    if len(names) != len(blocks):
        raise InvalidSignature("a register twice in one reading")


def _in_order(rows):
    # Per device, the signed pagination and seconds index must rise from reading to reading:
    # a duplicated, reordered or relabelled reading fails; a gap is noted ("missing_before").
    last = {}
    for r in rows:
        if not r["ok"]:
            continue
        per = len(r["values"]) or 1
        if r["n"] is not None and r["n"] != (r["pag"] - 1) // per + 1:
            r["ok"], r["reason"] = False, "its number %d is not the one its signed pagination " \
                "%d gives" % (r["n"], r["pag"])
            continue
        prev = last.get(r["device"])
        if prev is not None and (r["pag"] <= prev["pag"] or r["sec"] <= prev["sec"]):
            r["ok"], r["reason"] = False, "not after reading %s (a duplicate or out of order)" \
                % prev["n"]
            continue
        if prev is not None and r["pag"] > prev["pag"] + per:
            r["missing_before"] = (r["pag"] - prev["pag"]) // per - 1
        last[r["device"]] = r


def verify_data(data, key_for):
    """Rows for every SML file of a readings stream (see verify_frame). A file too damaged to
    give its number (its CRC fails before Open.Res can be read) is named after its neighbour,
    and "index" is its place in the stream (1 = first)."""
    rows = [verify_frame(f, key_for) for _, f in split(data)]
    _in_order(rows)
    for i, r in enumerate(rows):
        r["index"] = i + 1
    for i, r in enumerate(rows):
        if r["n"] is None:
            if i > 0 and rows[i - 1]["n"] is not None:
                r["n"] = rows[i - 1]["n"] + 1
            elif i + 1 < len(rows) and rows[i + 1]["n"] is not None:
                r["n"] = rows[i + 1]["n"] - 1
    return rows


class KeySource:
    """cert_for(device_id) -> MeterCert, from the directory (CERT_EM by device ID, its chain to
    the institute root and the authorities' CRLs found there) or from the given CERT_EM file
    chain and root (and CRL files). `used` keeps each device's MeterCert for the summary."""

    def __init__(self, directory=None, cert=None, root=None, intermediates=(), crls=()):
        if directory is None and (cert is None or root is None):
            raise ToolError("give --directory DIR, or --cert CERT_EM and --root ROOT")
        self.directory = directory
        self._cert, self._root, self._intermediates = cert, root, intermediates
        self._crls = [load_crl(c) for c in crls]
        if directory is not None:
            self._crls += directory.crls()
        self.used = {}
        self._file_cert = None

    def __call__(self, dev):
        if dev not in self.used:
            self.used[dev] = self._from_directory(dev) if self.directory is not None \
                else self._from_files(dev)
        return self.used[dev]

    def _from_files(self, dev):
        if self._file_cert is None:
            chain = load_certs(self._cert) + [c for p in self._intermediates
                                              for c in load_certs(p)]
            self._file_cert = MeterCert(check_chain(chain, load_certs(self._root)[0]),
                                        self._crls)
        mc = self._file_cert
        name = _serial_of(mc.status.certs[0])
        if name != dev:
            raise VerifyFailed("CERT_EM names %s, the reading is from %s" % (name, dev))
        return mc

    def _from_directory(self, dev):
        from .directory import DirectoryError

        try:
            chain = self.directory.fetch_chain(dev, kind="em")
        except DirectoryError as e:
            raise VerifyFailed(str(e))
        if _serial_of(chain[0]) != dev:  # the directory's index is a hint, the subject decides
            raise VerifyFailed("the directory's CERT_EM for %s names %s" % (dev, _serial_of(
                chain[0])))
        inst = [self.directory._load(e) for e in self.directory.list("institute")]
        if self._root is not None:
            inst = load_certs(self._root)
        if chain[-1] not in inst:
            raise VerifyFailed("CERT_EM of %s does not chain to an institute root" % dev)
        return MeterCert(check_chain(chain, chain[-1]), self._crls)


def key_source(directory=None, cert=None, root=None, intermediates=(), crls=()):
    return KeySource(directory, cert, root, intermediates, crls)


def _serial_of(cert):
    from cryptography.x509.oid import NameOID

    attrs = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)  # pki_profile: identity
    return attrs[0].value if attrs else None


def utc(t):
    if t is None:
        return "-"
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
