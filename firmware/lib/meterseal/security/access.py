# Access control for signed commands (S4, D2, D4): the paper's Table 1 as data, and who may
# change it (paper section 3, "Access Control": the tables cover "not only the execution of
# functions but also changes of access rights").
#
# Every signed command belongs to a class; the class names the trust anchors its signer's chain
# must lead to (signed_command.verify checks that), the table names the roles that may run it
# (authorise() checks that, after authentication). docs/access-control.md explains each row.
#
#   metrological      institute root   (D2: only whom the metrological institute authorises)
#   non-metrological  CERT_SM (msp)    (the MSP's security management issues CERT_OPi, CERT_DCS)
#   manufacturer      CERT_MFC         (install, erase, U4: the device knows it from production)
#   revocation        institute root or CERT_SM (update_crl: whoever delivers a CRL, it counts
#                     only if its issuer, an anchor, signed it; a fixed row, so neither side can
#                     stop the other's revocations)
import json

from meterseal.security import roles as R

TABLE_VERSION = 1

METROLOGICAL = "metrological"
NON_METROLOGICAL = "non-metrological"
MANUFACTURER = "manufacturer"
REVOCATION = "revocation"

ANCHORS = {
    METROLOGICAL: ("institute",),
    NON_METROLOGICAL: ("msp",),
    MANUFACTURER: ("manufacturer",),
    REVOCATION: ("institute", "msp"),
}

SET_ENTRY = "set_access_entry"  # its class is the class of the entry it changes

# Command -> class. Reading metering data is "non-metrological" in the trust sense: the readers of
# Table 1 (energy provider, display, data collection, MSP) are all certified under CERT_SM.
CLASSES = {
    "read_registers": NON_METROLOGICAL,
    "read_profile": NON_METROLOGICAL,
    "read_access_table": NON_METROLOGICAL,
    "set_time": METROLOGICAL,
    "set_parameter": METROLOGICAL,
    "read_logbook": METROLOGICAL,
    "reset_logbook": METROLOGICAL,
    "install": MANUFACTURER,
    "erase": MANUFACTURER,
    "update_crl": REVOCATION,
}

_READERS = (R.ENERGY_PROVIDER, R.MSP_SECURITY, R.MSP_OPERATOR, R.DISPLAY, R.DATA_COLLECTION)
_METROLOGY = (R.METROLOGICAL_INSTITUTE, R.LOCAL_OPERATOR)

# The meter's column of Table 1. The customer has no row here: the MUC serves customers (U7).
DEFAULT = {
    "read_registers": _READERS,  # "Metering Data <-"
    "read_profile": _READERS,
    "read_access_table": (R.MSP_SECURITY, R.MSP_OPERATOR),
    "set_time": _METROLOGY,  # "Metrological Commands ->"; local operators on site
    "set_parameter": _METROLOGY,
    "read_logbook": (R.METROLOGICAL_INSTITUTE,),  # "Metrological Logbook <-" (D3)
    "reset_logbook": (R.METROLOGICAL_INSTITUTE,),
    "install": (R.MANUFACTURER,),  # "Non-Metrological Commands ->" of the manufacturer (U4)
    "erase": (R.MANUFACTURER,),
    # The MSP's security management or the institute delivers CRLs; each must be signed by its
    # issuer, one of the device's anchors (revocation.py), so the deliverer cannot forge or trim
    # one.
    "update_crl": (R.MSP_SECURITY, R.METROLOGICAL_INSTITUTE),
}

# Who may change the entries of each class (fixed in the firmware, so nobody can grant himself
# the right to change rights). The manufacturer's entries are fixed: they are the device's last
# resort when an MSP must be replaced (U4), which the MSP must not be able to take away.
CHANGERS = {
    METROLOGICAL: (R.METROLOGICAL_INSTITUTE,),
    NON_METROLOGICAL: (R.MSP_SECURITY,),
}

_FILE = "security/access.json"


class Denied(Exception):
    """args[0]: short reason ("role", "unknown", "fixed", "value"); args[1]: a sentence."""

    def __init__(self, reason, detail):
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail


def command_class(name, args=None):
    """The class of a command, or None if the device does not know it. set_access_entry takes
    the class of the entry named in its (not yet verified) arguments."""
    if name == SET_ENTRY:
        target = args.get("command") if isinstance(args, dict) else None
        cls = CLASSES.get(target)
        return cls if cls in CHANGERS else None
    return CLASSES.get(name)


def anchor_slots(name, args=None):
    cls = command_class(name, args)
    return ANCHORS[cls] if cls else ()


class AccessTable:
    """The table a device applies: DEFAULT until a signed set_access_entry changes a row."""

    def __init__(self, storage):
        self._storage = storage
        self.rows = {}
        for k, v in DEFAULT.items():
            self.rows[k] = list(v)
        raw = storage.read(_FILE)
        if raw:
            try:
                saved = json.loads(raw)
            except ValueError:
                saved = None
            # Only known commands of changeable classes are taken from storage: a file planted
            # on the flash cannot give anyone install or erase.
            if isinstance(saved, dict) and saved.get("v") == TABLE_VERSION:
                for k, v in saved.get("rows", {}).items():
                    if CLASSES.get(k) in CHANGERS and valid_roles(v):
                        self.rows[k] = list(v)

    def allowed(self, name):
        return list(self.rows.get(name, ()))

    def authorise(self, name, cmd_args, cert_roles):
        """The role under which a signer with `cert_roles` may run `name`; raise Denied."""
        if name == SET_ENTRY:
            cls = command_class(name, cmd_args)
            if cls is None:
                raise Denied("fixed", "the entry of %r cannot be changed by a command"
                             % (cmd_args.get("command"),))
            allowed = CHANGERS[cls]
        elif name in self.rows:
            allowed = self.rows[name]
        else:
            raise Denied("unknown", "no access-control entry for %r" % (name,))
        for r in cert_roles:
            if r in allowed:
                return r
        raise Denied("role", "%s needs one of the roles %s; the signer has %s"
                     % (name, ", ".join(allowed) or "(none)", ", ".join(cert_roles) or "none"))

    def set_entry(self, name, new_roles):
        """Replace a row (the caller has authorised the change); returns the old roles."""
        if CLASSES.get(name) not in CHANGERS:
            raise Denied("fixed", "the entry of %r cannot be changed by a command" % (name,))
        if not valid_roles(new_roles):
            raise Denied("value", "roles must be a list of role names of Table 1")
        old = self.rows[name]
        self.rows[name] = list(new_roles)
        changed = {}
        for k, v in self.rows.items():
            if list(DEFAULT[k]) != v:
                changed[k] = v
        self._storage.write_atomic(_FILE, json.dumps({"v": TABLE_VERSION,
                                                      "rows": changed}).encode())
        return old

    def describe(self):
        """The table as answered by read_access_table: command -> [class, roles]."""
        out = {}
        for k in sorted(self.rows):
            out[k] = [CLASSES[k], self.rows[k]]
        out[SET_ENTRY] = ["by entry", {c: list(v) for c, v in CHANGERS.items()}]
        return out


def valid_roles(v):
    if not isinstance(v, list) or len(v) > len(R.ALL):
        return False
    for r in v:
        if r not in R.ALL:
            return False
    return True


def peek(msg):
    """(name, args) of a signed command before verification, to pick its trust anchors and to
    name the attempt in the logbook; (None, None) for what cannot be read. Nothing may act on
    these. Walks the COSE_Sign1 heads (RFC 9052 section 4.2) and decodes only the payload: the
    certificates in the protected header are not copied (verify() reads them)."""
    from meterseal.crypto import cbor

    try:
        mt, tag, pos = cbor.read_head(msg, 0, len(msg))
        mt2, n, pos = cbor.read_head(msg, pos, len(msg))
        if mt != 0xC0 or tag != 18 or mt2 != 0x80 or n != 4:
            return None, None
        mt, n, pos = cbor.read_head(msg, pos, len(msg))  # protected: bstr, skipped
        if mt != 0x40:
            return None, None
        _, pos = cbor.decode(msg, pos + n)  # unprotected map (empty in ours)
        mt, n, pos = cbor.read_head(msg, pos, len(msg))  # payload bstr
        if mt != 0x40:
            return None, None
        p, _ = cbor.decode(msg, pos, pos + n)
        name, args = p.get("cmd"), p.get("args")
    except MemoryError:
        raise  # not a malformation: the console answers "busy" and the host asks again
    except Exception:  # any malformation: verify() names it properly afterwards
        return None, None
    if not isinstance(name, str):
        return None, None
    return name, args if isinstance(args, dict) else {}


def claimed_signer(msg):
    """The fingerprint (SHA-256 of the leaf certificate, first 16 bytes, hex) of the
    certificate a refused command presents: claimed, not proven; None if there is none."""
    import hashlib
    from binascii import hexlify

    from meterseal.crypto import cose

    try:
        s1 = cose.parse_sign1(msg)
        return hexlify(hashlib.sha256(bytes(s1.x5chain[0])).digest()[:16]).decode() \
            if s1.x5chain else None
    except MemoryError:
        raise
    except Exception:
        return None
