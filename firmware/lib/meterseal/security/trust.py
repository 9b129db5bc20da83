# The trust anchors a device holds, by purpose (K6). Certificates are public, so plain files on
# storage; what protects them is that only the provisioning steps and signed commands write them.
#   institute    metrological institute root: metrological commands, CERT_EM chain, software
#   calibration  calibration authority (issuer of this meter's CERT_EM)
#   em           this meter's own CERT_EM
#   manufacturer the manufacturer's certificate (written at production; last resort, U4)
#   ca           the trusted third party's root (issuer of CERT_MFC and CERT_SM)
#   msp          the MSP security management certificate (CERT_SM): non-metrological commands
_DIR = "trust/"
NAMES = ("institute", "calibration", "em", "manufacturer", "ca", "msp")


class TrustStore:
    def __init__(self, storage):
        self._storage = storage

    def get(self, name):
        return self._storage.read(_DIR + name + ".der")

    def put(self, name, der):
        if name not in NAMES:
            raise ValueError("unknown trust slot " + name)
        self._storage.write_atomic(_DIR + name + ".der", bytes(der))

    def remove(self, name):
        self._storage.remove(_DIR + name + ".der")

    def present(self):
        return [n for n in NAMES if self._storage.exists(_DIR + n + ".der")]

    def anchors(self, *names):
        """The DER certificates of the given slots that are installed (for verify_chain)."""
        out = []
        for n in names:
            c = self.get(n)
            if c:
                out.append(c)
        return out
