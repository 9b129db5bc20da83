# Signed commands (S2, S4, U2): who sent this, is it for me, is it new? Authorisation (which role
# may run which command) is access.py's job on top of what this returns.
#
# A command is a COSE_Sign1 (ES256) whose protected header carries the signer's certificate chain
# (x5chain, leaf first) and whose payload is the deterministic CBOR map
#   {"v": 1, "dev": device ID, "cmd": name, "args": {...}, "ctr": counter, "iat": issue time}
# Checks run in a fixed order and the first failure raises Rejected(reason):
#   "malformed"  not a COSE_Sign1 / payload not the map above
#   "chain"      x5chain missing or not leading to a trust anchor of the command's class, or a
#                certificate in it revoked by a CRL the device holds (revocation.py)
#   "signature"  the COSE signature does not verify with the leaf's key
#   "device"     addressed to another device
#   "expired"    issued too long ago or in the future (only when the board's clock is trusted)
#   "replay"     counter not above the last one accepted from this signer
# The counter is persisted before the command runs, so a power loss can lose a command but
# never make an old one acceptable again. Counters are per signer and per trust class; a table
# that must forget a signer raises its class's floor to that signer's counter, so forgetting
# never makes a recorded command acceptable again (host counters are milliseconds since 1970,
# so a new signer starts above any floor), and one class's signers (say, certificates the MSP
# mints) cannot push another class's signers (the institute's) out.
import hashlib
import json

from meterseal.crypto import cbor, cose, x509
from meterseal.crypto.errors import DecodeError, InvalidKey, InvalidSignature

FORMAT_VERSION = 1
MAX_AGE_S = 24 * 3600  # a command older than this is refused when the clock is trusted
MAX_SKEW_S = 300  # clocks of sender and board may differ this much
MAX_COUNTER = (1 << 53) - 1  # far above ms since 1970 for millennia; keeps JSON exact
_MAX_SIGNERS = 64  # per class; the least recently used signer is forgotten (floor raised)


class Rejected(Exception):
    """args[0]: the short reason; args[1]: a sentence for logbooks and error replies."""

    def __init__(self, reason, detail=""):
        super().__init__(reason, detail or reason)
        self.reason = reason
        self.detail = detail or reason


class Command:
    """A command that passed authentication: name, args, counter and who signed it."""

    def __init__(self, payload, leaf, fingerprint):
        self.name = payload["cmd"]
        self.args = payload["args"]
        self.counter = payload["ctr"]
        self.issued = payload["iat"]
        self.device = payload["dev"]
        self.roles = leaf.roles or []
        self.signer = leaf.describe()
        self.valid_from, self.valid_to = leaf.not_before, leaf.not_after
        self.fingerprint = fingerprint  # SHA-256 of the signer's certificate, first 16 bytes


def peek(msg):
    """The unverified command name, so the caller can pick the trust anchors of its class.
    Nothing may be acted on until verify() has passed."""
    return _payload(cose.parse_sign1(msg))["cmd"]


def _payload(sign1):
    try:
        p = cbor.loads(sign1.payload)
    except DecodeError as e:
        raise Rejected("malformed", "payload: " + str(e))
    if not isinstance(p, dict) or p.get("v") != FORMAT_VERSION:
        raise Rejected("malformed", "payload is not a version-1 command map")
    for key, typ in (("dev", str), ("cmd", str), ("args", dict), ("ctr", int), ("iat", int)):
        if not isinstance(p.get(key), typ):
            raise Rejected("malformed", "payload field %r missing or of the wrong type" % key)
    if not 0 <= p["ctr"] <= MAX_COUNTER or p["iat"] < 0:
        raise Rejected("malformed", "counter or time out of range")
    return p


class ReplayGuard:
    """The last counter accepted from each signer, per trust class, on the board's storage."""

    def __init__(self, storage, name="security/counters.json"):
        self._storage = storage
        self._name = name
        raw = storage.read(name)
        data = json.loads(raw) if raw else {}
        if data and "v" not in data:  # the first firmware's {fp: [counter, order]}
            data = {"v": 2, "classes": {"*": {"floor": -1, "signers": data}}}
        # class -> {"floor": counter, "signers": {fingerprint hex: [counter, use order]}}
        self._classes = data.get("classes", {})

    def _table(self, cls):
        return self._classes.get(cls) or {"floor": -1, "signers": {}}

    def last(self, fp, cls=""):
        t = self._table(cls)
        e = t["signers"].get(fp)
        old = self._classes.get("*")  # a signer the first firmware knew, in any class
        oe = old["signers"].get(fp) if old else None
        return max(t["floor"], e[0] if e else -1, oe[0] if oe else -1)

    def check(self, fp, counter, cls=""):
        if counter <= self.last(fp, cls):
            raise Rejected("replay", "counter %d not above %d" % (counter, self.last(fp, cls)))

    def accept(self, fp, counter, cls=""):
        self.check(fp, counter, cls)
        t = self._table(cls)
        signers = t["signers"]
        order = 1 + max([e[1] for e in signers.values()] or [0])
        signers[fp] = [counter, order]
        if len(signers) > _MAX_SIGNERS:
            oldest = min(signers, key=lambda k: signers[k][1])
            t["floor"] = max(t["floor"], signers[oldest][0])
            del signers[oldest]
        self._classes[cls] = t
        self._storage.write_atomic(self._name, json.dumps(
            {"v": 2, "classes": self._classes}).encode())

    def clear(self):
        self._classes = {}
        self._storage.remove(self._name)


def verify(msg, anchors, device_id, guard, now=None, revoked=None, cls="", accept=True):
    """Authenticate a signed command; return a Command or raise Rejected.

    anchors: trusted DER certificates for this command's class (institute root for metrological
    commands, the MSP's SM certificate or the manufacturer's for the rest).
    now: the board's time if its clock is trusted, else None (then only the counter protects).
    revoked: is_revoked(issuer_name, serial) of the device's revocation list, or None.
    cls: the replay table to use (the provisioning role uses the anchor slot).
    accept: record the counter now; False leaves it to the caller (after authorisation),
    which then calls guard.accept(command.fingerprint, command.counter, cls).
    """
    try:
        sign1 = cose.parse_sign1(msg)
    except DecodeError as e:
        raise Rejected("malformed", "COSE_Sign1: " + str(e))
    payload = _payload(sign1)
    if not sign1.x5chain:
        raise Rejected("chain", "no x5chain: the signer's certificate is missing")
    try:
        leaf = x509.verify_chain(sign1.x5chain, anchors, now=now,
                                 required_usage=x509.KU_DIGITAL_SIGNATURE, revoked=revoked)
    except x509.ChainError as e:
        raise Rejected("chain", str(e))
    try:
        cose.verify_sign1(sign1, leaf.public_key())
    except (InvalidSignature, InvalidKey, DecodeError) as e:
        raise Rejected("signature", "COSE signature: %s" % (e,))
    if payload["dev"] != device_id:
        raise Rejected("device", "addressed to %s, this is %s" % (payload["dev"], device_id))
    if now is not None:
        age = now - payload["iat"]
        if age > MAX_AGE_S or age < -MAX_SKEW_S:
            raise Rejected("expired", "issued %d s from now" % -age)
    fp = hashlib.sha256(bytes(sign1.x5chain[0])).digest()[:16]
    from binascii import hexlify

    fp_hex = hexlify(fp).decode()
    if now is not None and payload["ctr"] > (now + MAX_SKEW_S) * 1000:
        # Host counters are ms since 1970: one from the future could raise a replay floor
        # past every honest signer's (ReplayGuard).
        raise Rejected("replay", "counter %d is ahead of the board's clock" % payload["ctr"])
    if accept:
        guard.accept(fp_hex, payload["ctr"], cls)
    else:
        guard.check(fp_hex, payload["ctr"], cls)
    return Command(payload, leaf, fp_hex)
