# Console commands of the device life cycle (K1-K6, S5, U3): manufacture, keygen, calibrate
# (the seal), install and erase. Before the seal the manufacturer's bench may run the plain
# steps; after it, nothing changes except through a signed command ("signed" below).
#
# The key-binding formats (proof of possession, wrapped keys) are in security/keytransport.py.
from meterseal.crypto import keywrap, x509
from meterseal.proto import console as cp
from meterseal.roles import identity
from meterseal.roles.console import CommandError
from meterseal.security import access, keystore, lifecycle, revocation, signed_command
from meterseal.security.clock import Clock
from meterseal.security.keytransport import KX_LABEL, POP_LABEL, pop_digest, wrap_kek
from meterseal.security.logbook import Logbook, LogbookFull
from meterseal.security.trust import TrustStore

EM_KEY = "em"  # the metrological signing key: signs readings and the logbook (CERT_EM)
KX_KEY = "kx"  # ECDH key for receiving wrapped symmetric keys


def _refuse(reason):
    raise CommandError(cp.E_REJECTED, reason)


def _bytes(args, name, size=None):
    v = args.get(name)
    if not isinstance(v, (bytes, bytearray)) or (size is not None and len(v) != size):
        raise CommandError(cp.E_BAD_REQUEST, "argument %r must be %s bytes" % (name, size or "some"))
    return bytes(v)


# Refusal reasons that need no fresh signature to cause (see Provisioning.refuse).
_UNAUTHENTICATED = ("malformed", "unknown", "chain", "signature", "device", "expired", "replay")
_UNLOGGED_FLUSH_S = 60


class Provisioning:
    def __init__(self, board):
        self.board = board
        self.storage = board.storage
        self.life = lifecycle.Lifecycle(board.storage)
        self.trust = TrustStore(board.storage)
        self.guard = signed_command.ReplayGuard(board.storage)
        self.revocation = revocation.RevocationList(board.storage)
        self.ks = keystore.open(board)
        self.clock = Clock(board)
        self.access = access.AccessTable(board.storage)
        self.logbook = Logbook(board.storage, lambda: self.ks.signer(EM_KEY), board.time,
                               board.config.get("logbook_capacity", 500))
        # Signed commands: name -> handler(args, command). The trust anchors of each command's
        # class and the roles that may run it are the access-control table's (access.py);
        # roles add their own commands (roles/meter_commands.py).
        self.signed = {"install": self.install, "erase": self.erase_signed,
                       "update_crl": self.update_crl}
        # Called before an erase wipes storage: a role stops writing what it holds in RAM
        # (the meter its registers), so nothing of the old life reappears after the wipe.
        self.on_erase = []
        self._unlogged = 0  # refusals counted, not yet in the logbook's head
        self._unlogged_at = 0
        self._slot = None  # the anchor slot the command being run chained to
        self._interrupted = None  # SHA-256 of an accepted command that ran out of memory

    def __call__(self, args):
        # The console's "signed" command is this object: roles reach it through the table to
        # add their signed commands (add_signed), as the console reaches run_signed.
        return self.run_signed(args)

    def add_signed(self, name, handler):
        if name != access.SET_ENTRY and access.command_class(name) is None:
            raise ValueError("signed command %r has no access-control class" % name)
        self.signed[name] = handler

    def ident(self):
        return identity.load(self.board)

    def device_id(self):
        return identity.device_id(self.ident())

    # --- plain commands ---------------------------------------------------------------------

    def status(self, args):
        ks_status = self.ks.status()
        keys = {}
        for name in (EM_KEY, KX_KEY):
            if ks_status == "ok" and self.ks.has(name):
                keys[name] = self.ks.public_key(name)
        return {"state": self.life.state, "sealed": self.life.sealed,
                "device_id": self.device_id(), "identity": self.ident(),
                "keystore": ks_status, "public_keys": keys, "trust": self.trust.present()}

    def _unsealed(self, step):
        if self.life.sealed:
            _refuse("the board is %s (sealed): %s is a factory step; after the seal only signed "
                    "commands change anything" % (self.life.state, step))

    def manufacture(self, args):
        self._unsealed("manufacture")
        ident = args.get("identity")
        mfc = _bytes(args, "manufacturer_cert")
        ca = _bytes(args, "ca_root")
        if not isinstance(ident, dict):
            raise CommandError(cp.E_BAD_REQUEST, "identity must be a map")
        new = {"manufacturer": ident.get("manufacturer"), "id": ident.get("id"),
               "version": ident.get("version", 1), "medium": ident.get("medium", 2),
               "primary_address": ident.get("primary_address", 0)}
        m = new["manufacturer"]
        if not (isinstance(m, str) and len(m) == 3 and m.isupper() and m.isalpha()) or not (
                isinstance(new["id"], int) and 0 <= new["id"] <= 99999999):
            raise CommandError(cp.E_BAD_REQUEST, "identity needs manufacturer (3 letters A-Z) and "
                               "id (0..99999999)")
        try:  # the manufacturer's certificate must come from the CA root given with it
            x509.verify_chain([mfc], [ca])
        except x509.ChainError as e:
            _refuse("manufacturer certificate does not chain to the CA root: %s" % e)
        if self.life.state == lifecycle.MANUFACTURED and self.storage.read("identity.json") and \
                self.ident() == new and self.trust.get("manufacturer") == mfc:
            return self.status({})  # repeated with the same values: nothing to do
        self._require(lifecycle.FACTORY)
        identity.save(self.board, new)
        self.trust.put("ca", ca)
        self.trust.put("manufacturer", mfc)
        self.life.advance(lifecycle.MANUFACTURED, self.board.time())
        return self.status({})

    def keygen(self, args):
        self._unsealed("keygen")
        challenge = _bytes(args, "challenge", 32)
        self._require(lifecycle.MANUFACTURED)
        for name in (EM_KEY, KX_KEY):
            if not self.ks.has(name):  # idempotent: a repeated step returns the same keys
                self.ks.generate(name)
        out = self.attest(args)
        out["pop_em"] = self.ks.signer(EM_KEY).sign_digest(pop_digest(POP_LABEL, challenge,
                                                                      out["em"]))
        return out

    def attest(self, args):
        """The board's public keys, with kx bound to em by a signature over a fresh challenge:
        a host that trusts CERT_EM can then wrap symmetric keys for this board (install)."""
        challenge = _bytes(args, "challenge", 32)
        if self.ks.status() != "ok" or not self.ks.has(EM_KEY) or not self.ks.has(KX_KEY):
            _refuse("no key pair on this board (keystore: %s)" % self.ks.status())
        em = self.ks.public_key(EM_KEY)
        kx = self.ks.public_key(KX_KEY)
        return {"em": em, "kx": kx, "device_id": self.device_id(), "state": self.life.state,
                "kx_binding": self.ks.signer(EM_KEY).sign_digest(
                    pop_digest(KX_LABEL, challenge, kx))}

    def calibrate(self, args):
        self._unsealed("calibrate")
        cert = _bytes(args, "cert_em")
        root = _bytes(args, "institute_root")
        cal = _bytes(args, "calibration_ca")
        self._require(lifecycle.MANUFACTURED)
        if not self.ks.has(EM_KEY):
            _refuse("no key pair yet: run keygen first")
        try:
            leaf = x509.verify_chain([cert, cal], [root], required_usage=x509.KU_DIGITAL_SIGNATURE)
        except x509.ChainError as e:
            _refuse("CERT_EM does not chain to the institute root: %s" % e)
        if leaf.public_key() != self.ks.public_key(EM_KEY):
            _refuse("CERT_EM certifies another key than this board's")
        self.trust.put("institute", root)
        self.trust.put("calibration", cal)
        self.trust.put("em", cert)
        self.life.advance(lifecycle.CALIBRATED, self.board.time())  # the seal
        self.board.seal_console()
        return self.status({})

    def erase_unsealed(self, args):
        if self.life.sealed:
            _refuse("the board is sealed: erase needs a command signed by the manufacturer")
        return self._erase()

    # --- signed commands ----------------------------------------------------------------------

    def run_signed(self, args):
        """Authenticate (signed_command.verify against the anchors of the command's class),
        authorise (the access-control table), then run. Every refusal is logged (D3)."""
        import gc

        # Chain checks and signatures make many short-lived big integers and tables: collect
        # before and after, so that they leave holes nowhere long-lived data then lands (a
        # fragmented 128 KiB heap fails a 2 KB frame buffer with 80 KB free).
        gc.collect()
        try:
            return self._run_signed(args)
        finally:
            gc.collect()

    def _run_signed(self, args):
        msg = _bytes(args, "command")
        import hashlib

        digest = hashlib.sha256(msg).digest()
        if self._interrupted == digest:
            # The host's resend of a command that ran out of memory after its counter was
            # used: it would be refused as a replay; say what happened instead.
            self._interrupted = None
            _refuse("interrupted: the board ran out of memory after accepting this command; "
                    "sign it again")
        self._slot = None
        name, cargs = access.peek(msg)
        if name is None:
            self.refuse(name, access.claimed_signer(msg), None, "malformed",
                        "not a signed command")
        handler = self.signed.get(name)
        slots = access.anchor_slots(name, cargs)
        if handler is None or not slots:
            self.refuse(name, access.claimed_signer(msg), None, "unknown",
                        "signed command %r is not known to this device" % (name,))
        # One anchor at a time: the replay counters are kept per anchor, so signers under one
        # party's anchor (say, certificates the MSP mints) can never touch another's counters.
        cmd = err = slot = None
        for slot in slots:
            anchors = self.trust.anchors(slot)
            if not anchors:
                continue
            try:
                cmd = signed_command.verify(msg, anchors, self.device_id(), self.guard,
                                            now=self.clock.trusted_now(),
                                            revoked=self.revocation.is_revoked, cls=slot,
                                            accept=False)
                break
            except signed_command.Rejected as e:
                err = (e.reason, e.detail)  # no traceback kept while the message is parsed again
                if e.reason != "chain":
                    break
        if cmd is None:
            self.refuse(name, access.claimed_signer(msg), None, *(err or (
                "chain", "no trust anchor installed for %r" % name)))
        self._slot = slot
        try:
            cmd.role = self.access.authorise(cmd.name, cmd.args, cmd.roles)
        except access.Denied as e:
            self.refuse(name, cmd.fingerprint, ",".join(cmd.roles) or None, e.reason, e.detail)
        # The counter is used only by a command that may run: a refused one moves nothing.
        self.guard.accept(cmd.fingerprint, cmd.counter, slot)
        self._interrupted = digest
        try:
            result = handler(cmd.args, cmd)
        except MemoryError:
            raise  # answered "busy"; the resend is told it was interrupted
        except BaseException:
            self._interrupted = None
            raise
        self._interrupted = None
        return result

    def refuse(self, name, fp, role, reason, detail, old=None, new=None):
        """Record a refused attempt in the logbook (D3), then answer "rejected". Before the
        seal there is no logbook (no em key); a full one counts what it cannot hold.

        Refusals that anyone can cause without a fresh signature (garbage, a foreign chain, a
        bad signature, a replayed or misaddressed command), and those of signers outside the
        institute's hierarchy, must not fill the logbook and so block metrological changes:
        once it has only a fifth of its room left they are counted instead (into the
        lost-attempts count the reset entry carries, written at most once a minute)."""
        if self.life.sealed:
            # Only the institute's own hierarchy may use the last fifth of the logbook: anyone
            # else (a display key pulled out of a customer's device, junk) could fill it.
            if (reason in _UNAUTHENTICATED or self._slot != "institute") \
                    and self.logbook.room() <= self.logbook.capacity // 5:
                self._unlogged += 1
                now = self.board.time()
                if abs(now - self._unlogged_at) >= _UNLOGGED_FLUSH_S:
                    self.logbook.note_lost(self._unlogged)
                    self._unlogged, self._unlogged_at = 0, now
                _refuse("%s: %s" % (reason, detail))
            try:
                self.logbook.record(name or "?", fp, role, old, new, reason)
            except LogbookFull:
                self.logbook.note_lost()
            except Exception:  # noqa: BLE001  a damaged keystore cannot sign: refuse anyway
                pass
        _refuse("%s: %s" % (reason, detail))

    def log_change(self, cmd, event, old, new):
        """Record a write before it is made; a full logbook refuses it (D3)."""
        try:
            return self.logbook.record(event, cmd.fingerprint, cmd.role, old, new, "ok")
        except LogbookFull as e:
            self.logbook.note_lost()
            _refuse("full: %s" % e)

    def install(self, args, cmd):
        def no(reason, detail):  # every refusal of a signed command is logged (D3)
            self.refuse(cmd.name, cmd.fingerprint, cmd.role, reason, detail)

        try:
            self.life.require(lifecycle.CALIBRATED, lifecycle.INSTALLED)
        except lifecycle.StateError as e:
            no("state", str(e))
        msp, keys = args.get("msp_cert"), args.get("keys", [])
        if not isinstance(msp, (bytes, bytearray)) or not isinstance(keys, list):
            no("value", "install needs msp_cert (bytes) and keys (a list)")
        try:
            x509.verify_chain([msp], self.trust.anchors("ca"),
                              required_usage=x509.KU_DIGITAL_SIGNATURE,
                              revoked=self.revocation.is_revoked)
        except x509.ChainError as e:
            no("msp-chain", "the MSP certificate does not chain to the CA root: %s" % e)
        secrets = []  # all keys unwrapped before any is stored: a refusal changes nothing
        for k in keys:
            try:
                secrets.append(self._unwrap_key(k))
            except ValueError as e:
                no("key", str(e))
        for name, secret in secrets:
            self.ks.put_secret(name, secret)
        addr = args.get("primary_address")
        if isinstance(addr, int) and 0 <= addr <= 250:
            ident = self.ident()
            ident["primary_address"] = addr
            identity.save(self.board, ident)
        self.trust.put("msp", bytes(msp))
        try:  # not metrological: logged while there is room, never blocked by a full logbook
            import hashlib
            from binascii import hexlify

            self.logbook.record("install", cmd.fingerprint, cmd.role, None,
                                hexlify(hashlib.sha256(bytes(msp)).digest()[:16]).decode(), "ok")
        except LogbookFull:
            pass
        if self.life.state == lifecycle.CALIBRATED:
            self.life.advance(lifecycle.INSTALLED, self.board.time())
        return self.status({})

    def update_crl(self, args, cmd):
        """Apply a CRL of one of the device's anchors: its certificates' holders can no longer
        command the device (revocation.py). A refused CRL is logged like a refused command."""
        crl = args.get("crl")
        if not isinstance(crl, (bytes, bytearray)):
            self.refuse("update_crl", cmd.fingerprint, cmd.role, "value",
                        "update_crl needs crl (DER bytes)")
        try:
            who, number, count = self.revocation.update(crl, self.trust.anchors(
                *self.trust.present()))
        except revocation.CrlRefused as e:
            self.refuse("update_crl", cmd.fingerprint, cmd.role, "crl-" + e.reason, e.detail)
        try:  # not metrological: logged while there is room, never blocked by a full logbook
            self.logbook.record("update_crl", cmd.fingerprint, cmd.role, None,
                                "%s #%d" % (who, number), "ok")
        except LogbookFull:
            pass
        return {"issuer": who, "number": number, "revoked": count}

    def _unwrap_key(self, k):
        """(name, secret) of one wrapped key of install; ValueError says what is wrong."""
        try:
            name, eph, wrapped = k["name"], bytes(k["eph"]), bytes(k["wrapped"])
        except (KeyError, TypeError):
            raise ValueError("a key is {name, eph, wrapped}")
        if not isinstance(name, str):
            raise ValueError("a key's name is text")
        from meterseal.crypto.errors import InvalidKey, InvalidTag

        try:
            kek = wrap_kek(self.ks.ecdh(KX_KEY, eph), self.device_id())
            return name, keywrap.unwrap(kek, wrapped)
        except (InvalidKey, InvalidTag, ValueError) as e:
            raise ValueError("key %r: cannot unwrap (%s)" % (name, e))

    def erase_signed(self, args, cmd):
        return self._erase()

    def _erase(self):
        # U3, in an order that a power loss cannot exploit: the keys go first, then the seal (a
        # board without keys has nothing left to protect, and plain erase can finish the job),
        # then every other file; last the keystore scrubs the flash's free space again, so the
        # blocks those files held (certificates name the public keys) are overwritten too.
        for stop in self.on_erase:
            stop()
        self.ks.erase()
        self.life.reset()
        self.guard.clear()
        self.revocation.clear()
        _wipe(self.storage, "")
        self.ks.erase()
        self.logbook.clear()
        self.clock = Clock(self.board)
        self.access = access.AccessTable(self.storage)
        return {"state": lifecycle.FACTORY}

    def _require(self, *states):
        try:
            self.life.require(*states)
        except lifecycle.StateError as e:
            _refuse(str(e))


def _wipe(storage, sub):
    import os

    for name in storage.listdir(sub):
        rel = sub + "/" + name if sub else name
        if storage.listdir(rel):
            _wipe(storage, rel)
            try:
                os.rmdir(storage.path(rel))
            except OSError:
                pass
        else:
            storage.remove(rel)
            try:
                os.rmdir(storage.path(rel))  # an empty folder
            except OSError:
                pass


def add_commands(board, commands):
    p = Provisioning(board)
    commands["status"] = p.status
    commands["manufacture"] = p.manufacture
    commands["keygen"] = p.keygen
    commands["attest"] = p.attest
    commands["calibrate"] = p.calibrate
    commands["erase"] = p.erase_unsealed
    commands["signed"] = p
    return p
