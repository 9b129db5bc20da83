"""The CA's record of every certificate it issued: SQLite, one row per certificate (K1-K4).

A certificate is recorded in the same step that writes its file; revocation sets status, time and
reason; CRL numbers count per issuer (RFC 5280 5.2.3: monotonically increasing). Serials are kept
as lower-case hex without leading zeros, fingerprints as SHA-256 hex of the DER.
"""
import datetime
import sqlite3

from cryptography.hazmat.primitives import hashes

from .pki_keys import PkiError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS certificates (
    serial TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    identity TEXT NOT NULL,
    subject TEXT NOT NULL,
    issuer TEXT NOT NULL,        -- issuing authority id ("calibration", "manufacturer:acme", ...)
    not_before TEXT NOT NULL,    -- ISO 8601 UTC
    not_after TEXT NOT NULL,
    fingerprint TEXT NOT NULL UNIQUE,
    roles TEXT NOT NULL DEFAULT '',
    file TEXT NOT NULL,          -- relative to the PKI folder
    status TEXT NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'revoked')),
    revoked_at TEXT,
    reason TEXT
);
CREATE TABLE IF NOT EXISTS crl_numbers (issuer TEXT PRIMARY KEY, number INTEGER NOT NULL);
"""
COLUMNS = ("serial", "kind", "identity", "subject", "issuer", "not_before", "not_after",
           "fingerprint", "roles", "file", "status", "revoked_at", "reason")


def serial_hex(serial):
    return format(serial, "x")


def fingerprint(cert):
    return cert.fingerprint(hashes.SHA256()).hex()


def _iso(dt):
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Index:
    def __init__(self, path):
        self.path = path
        self._db = sqlite3.connect(str(path))
        self._db.row_factory = sqlite3.Row
        self._db.executescript(_SCHEMA)

    def close(self):
        self._db.close()

    def has_serial(self, serial):
        return self._db.execute("SELECT 1 FROM certificates WHERE serial = ?",
                                (serial_hex(serial),)).fetchone() is not None

    def record(self, cert, kind, identity, issuer, file, roles=()):
        with self._db:
            self._db.execute(
                "INSERT INTO certificates (serial, kind, identity, subject, issuer, not_before, "
                "not_after, fingerprint, roles, file) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (serial_hex(cert.serial_number), kind, identity, cert.subject.rfc4514_string(),
                 issuer, _iso(cert.not_valid_before_utc), _iso(cert.not_valid_after_utc),
                 fingerprint(cert), ",".join(roles or ()), file))

    def find(self, key):
        """The row whose serial (hex, colons allowed) or fingerprint (a unique prefix of at
        least 8 hex digits) is `key`."""
        k = key.strip().lower().replace(":", "")
        if k.startswith("0x"):
            k = k[2:]
        try:
            int(k, 16)
        except ValueError:
            raise PkiError("%r is neither a serial number nor a fingerprint (hex)" % key) from None
        row = self._db.execute("SELECT * FROM certificates WHERE serial = ?",
                               (k.lstrip("0") or "0",)).fetchone()
        if row is not None:
            return dict(row)
        if len(k) >= 8:
            rows = self._db.execute("SELECT * FROM certificates WHERE fingerprint LIKE ?",
                                    (k + "%",)).fetchall()
            if len(rows) == 1:
                return dict(rows[0])
            if len(rows) > 1:
                raise PkiError("fingerprint prefix %s matches %d certificates; give more digits"
                               % (key, len(rows)))
        raise PkiError("no certificate with serial or fingerprint %s in this PKI" % key)

    def rows(self, kind=None, status=None, issuer=None, identity=None, now=None):
        """Rows in issue order; status "valid" / "revoked" / "expired" (valid but past notAfter)."""
        q, args = "SELECT * FROM certificates WHERE 1", []
        for col, val in (("kind", kind), ("issuer", issuer), ("identity", identity)):
            if val is not None:
                q += " AND %s = ?" % col
                args.append(val)
        out = []
        stamp = _iso(now or datetime.datetime.now(datetime.timezone.utc))
        for r in self._db.execute(q + " ORDER BY not_before, rowid", args):
            r = dict(r)
            if r["status"] == "valid" and r["not_after"] < stamp:
                r["status"] = "expired"
            if status is None or r["status"] == status:
                out.append(r)
        return out

    def revoke(self, serial_text, when, reason):
        with self._db:
            cur = self._db.execute(
                "UPDATE certificates SET status = 'revoked', revoked_at = ?, reason = ? "
                "WHERE serial = ? AND status = 'valid'", (_iso(when), reason, serial_text))
        if cur.rowcount != 1:
            raise PkiError("certificate %s is already revoked" % serial_text)

    def next_crl_number(self, issuer):
        with self._db:
            row = self._db.execute("SELECT number FROM crl_numbers WHERE issuer = ?",
                                   (issuer,)).fetchone()
            n = (row[0] if row else 0) + 1
            self._db.execute("INSERT OR REPLACE INTO crl_numbers (issuer, number) VALUES (?, ?)",
                             (issuer, n))
        return n


def parse_time(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)
