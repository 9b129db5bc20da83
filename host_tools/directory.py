"""The certificate directory (paper 4.1 and 4.3, K6): where certificates are published and where a
device's initialisation takes the certificates it needs.

`Directory` is the interface; `FolderDirectory` keeps one PEM and one DER file per certificate,
named by kind and identity (em-1MSL0012345678.pem), plus index.json. The paper's choice, an LDAP
server, is one more subclass implementing `_entries`, `_store` and `_load` (docs/pki.md says
what it maps to); `open_directory` picks the backend from the location.

Certificates are cryptography x509.Certificate objects. An entry is a dict: kind, identity,
subject, issuer (RFC 4514 strings), serial (hex), fingerprint (SHA-256 hex), not_before,
not_after (ISO 8601), name (the backend's name for it).
"""
import json
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from .errors import ToolError
from .pki_keys import write_file
from .pki_profile import KINDS, identity_of, issuer_among, kind_of

ENV_DIRECTORY = "METERSEAL_DIRECTORY"
_HEX = "0123456789abcdef"


class DirectoryError(ToolError):
    """Nothing (or more than one thing) in the directory matches, or it cannot be read."""


def _entry(cert, kind, identity):
    return {"kind": kind, "identity": identity, "subject": cert.subject.rfc4514_string(),
            "issuer": cert.issuer.rfc4514_string(), "serial": format(cert.serial_number, "x"),
            "fingerprint": fingerprint(cert),
            "not_before": cert.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "not_after": cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")}


class Directory:
    """Publish, fetch and list certificates. Backends implement _entries(), _store(entry, cert)
    (returning the entry with its "name") and _load(entry)."""

    def _entries(self):
        raise NotImplementedError

    def _store(self, entry, cert):
        raise NotImplementedError

    def _load(self, entry):
        raise NotImplementedError

    def publish(self, cert, kind=None, identity=None):
        """Publish one certificate; kind and identity default to what its subject says (OU,
        serialNumber or CN). Publishing the same certificate again changes nothing."""
        kind = kind or kind_of(cert) or "cert"
        if kind != "cert" and kind not in KINDS:
            raise DirectoryError("unknown kind %r (known: %s)" % (kind, ", ".join(KINDS)))
        entry = _entry(cert, kind, identity or identity_of(cert))
        for e in self._entries():
            if e["fingerprint"] == entry["fingerprint"]:
                return e
        return self._store(entry, cert)

    def list(self, kind=None):
        return [e for e in self._entries() if kind is None or e["kind"] == kind]

    def find(self, key, kind=None):
        """The entry for `key`: an identity, a subject (RFC 4514 or its CN), a fingerprint (or a
        prefix of 8+ hex digits). Of several certificates for one holder (a renewal), the newest."""
        k = key.strip()
        fp = k.lower().replace(":", "")
        hits = []
        for e in self.list(kind):
            cn = e["subject"].split("CN=", 1)[1].split(",", 1)[0] if "CN=" in e["subject"] else None
            if (k.lower() == e["identity"].lower() or k == e["subject"] or k == cn
                    or (len(fp) >= 8 and all(c in _HEX for c in fp)
                        and e["fingerprint"].startswith(fp))):
                hits.append(e)
        if not hits:
            raise DirectoryError("nothing in the directory for %r%s"
                                 % (key, " of kind " + kind if kind else ""))
        kinds = sorted(set(e["kind"] for e in hits))
        if len(kinds) > 1:
            raise DirectoryError("%r names certificates of several kinds (%s); give the kind"
                                 % (key, ", ".join(kinds)))
        return max(hits, key=lambda e: e["not_before"])

    def fetch(self, key, kind=None):
        return self._load(self.find(key, kind))

    def fetch_chain(self, key, kind=None):
        """[certificate, its issuer, ..., the self-signed root], each issuer found in the
        directory by subject name and checked to have signed the one below."""
        out = [self.fetch(key, kind)]
        entries = self.list()
        while out[-1].issuer != out[-1].subject:
            want = out[-1].issuer.rfc4514_string()
            newest_first = sorted(entries, key=lambda e: e["not_before"], reverse=True)
            c = issuer_among(out[-1], (self._load(e) for e in newest_first
                                       if e["subject"] == want))
            if c is not None:
                out.append(c)
            else:
                raise DirectoryError("chain incomplete: the issuer %s of %s is not in the directory"
                                     % (want, out[-1].subject.rfc4514_string()))
            if len(out) > 8:
                raise DirectoryError("chain longer than 8 certificates")
        return out

    def publish_pki(self, pki, include_revoked=False):
        """Publish every authority and every issued certificate of a host_tools.pki.Pki that
        is not revoked or expired, and the CRLs it has signed; returns the entries."""
        out = []
        for row in pki.index.rows():
            if row["status"] != "valid" and not include_revoked:
                continue
            cert = x509.load_pem_x509_certificate((pki.path / row["file"]).read_bytes())
            out.append(self.publish(cert, row["kind"], row["identity"]))
        for path in sorted((pki.path / "crl").glob("*.crl")):
            self.publish_crl(x509.load_der_x509_crl(path.read_bytes()))
        return out

    # CRLs: every CRL an authority published is kept, not only the newest, because a later
    # one may drop the entry of a certificate that has expired since (RFC 5280 5.1.2.6) while
    # readings it signed are still checked. With LDAP these are the certificateRevocationList
    # values of the authority's entry (RFC 4523).
    def publish_crl(self, crl):
        """Publish a CRL after checking it against its issuer's certificate in the directory;
        True if stored, False if the directory has it already."""
        from .cert_status import StatusError, crl_number, crls_of

        issuers = [self._load(e) for e in self._entries() if e["subject"]
                   == crl.issuer.rfc4514_string()]
        issuer, why = None, "no certificate of its issuer %s is in the directory" \
            % crl.issuer.rfc4514_string()
        for cert in issuers:
            try:
                if crls_of(cert, [crl]):
                    issuer = cert
                    break
                why = "it names another key of %s" % crl.issuer.rfc4514_string()
            except StatusError as e:
                why = str(e)
        if issuer is None:
            raise DirectoryError("CRL %d not published: %s" % (crl_number(crl), why))
        key = "%s-%s-%d" % (_issuer_key(crl.issuer), fingerprint(issuer)[:8], crl_number(crl))
        old = self._load_crl(key)
        if old is not None:
            if old.public_bytes(serialization.Encoding.DER) != \
                    crl.public_bytes(serialization.Encoding.DER):
                raise DirectoryError("another CRL %d of %s is in the directory already"
                                     % (crl_number(crl), crl.issuer.rfc4514_string()))
            return False
        self._store_crl(key, crl)
        return True

    def crls(self):
        """Every CRL in the directory (checked against its issuer when it was published)."""
        return [self._load_crl(k) for k in self._crl_keys()]

    def _crl_keys(self):
        raise NotImplementedError

    def _load_crl(self, key):
        raise NotImplementedError

    def _store_crl(self, key, crl):
        raise NotImplementedError


def _issuer_key(name):
    import hashlib

    return hashlib.sha256(name.public_bytes()).hexdigest()[:16]


def fingerprint(cert):
    return cert.fingerprint(hashes.SHA256()).hex()


class FolderDirectory(Directory):
    """A folder: <kind>-<identity>.pem and .der per certificate, and index.json listing them."""

    def __init__(self, path, create=True):
        self.path = str(path)
        if not os.path.isdir(self.path):
            if not create:
                raise DirectoryError("no directory folder %s" % self.path)
            os.makedirs(self.path)

    def _index_file(self):
        return os.path.join(self.path, "index.json")

    def _entries(self):
        try:
            with open(self._index_file()) as f:
                data = json.load(f)
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as e:
            raise DirectoryError("%s: %s" % (self._index_file(), e)) from e
        return data["entries"]

    def _store(self, entry, cert):
        entries = self._entries()
        taken = set(e["name"] for e in entries)
        base = "%s-%s" % (entry["kind"], entry["identity"])
        name, n = base, 1
        while name in taken:  # a renewed certificate of the same holder
            n += 1
            name = "%s-%d" % (base, n)
        entry = dict(entry, name=name)
        write_file(os.path.join(self.path, name + ".der"),
                   cert.public_bytes(serialization.Encoding.DER))
        write_file(os.path.join(self.path, name + ".pem"),
                   cert.public_bytes(serialization.Encoding.PEM))
        entries.append(entry)
        # The index is written last: a crash leaves files it does not list, never the reverse.
        write_file(self._index_file(), (json.dumps({"format": 1, "entries": entries}, indent=1,
                                                   sort_keys=True) + "\n").encode())
        return entry

    def _crl_path(self, key):
        return os.path.join(self.path, "crl", key + ".crl")

    def _crl_keys(self):
        folder = os.path.join(self.path, "crl")
        if not os.path.isdir(folder):
            return []
        return sorted(f[:-4] for f in os.listdir(folder) if f.endswith(".crl"))

    def _load_crl(self, key):
        path = self._crl_path(key)
        try:
            with open(path, "rb") as f:
                return x509.load_der_x509_crl(f.read())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise DirectoryError("cannot read %s: %s" % (path, e)) from e

    def _store_crl(self, key, crl):
        os.makedirs(os.path.join(self.path, "crl"), exist_ok=True)
        write_file(self._crl_path(key), crl.public_bytes(serialization.Encoding.DER))

    def _load(self, entry):
        path = os.path.join(self.path, entry["name"] + ".der")
        try:
            with open(path, "rb") as f:
                cert = x509.load_der_x509_certificate(f.read())
        except (OSError, ValueError) as e:
            raise DirectoryError("cannot read %s: %s" % (path, e)) from e
        if fingerprint(cert) != entry["fingerprint"]:
            raise DirectoryError("%s does not hold the certificate index.json lists" % path)
        return cert


def open_directory(location):
    """A Directory for a folder path; ldap:// URLs are reserved for the LDAP backend."""
    if not location:
        raise DirectoryError("no directory: give --directory DIR or set %s" % ENV_DIRECTORY)
    if str(location).startswith(("ldap://", "ldaps://")):
        raise DirectoryError("the LDAP backend is not implemented yet (docs/pki.md says how it "
                             "maps); use a folder")
    return FolderDirectory(location)
