# Role names of the paper's Table 1 (D4), as carried in the MeterSeal role extension of operator
# and authority certificates (OID ROLE_EXTENSION_OID in crypto/x509.py, value SEQUENCE OF
# UTF8String). Host CA and firmware access tables both use these strings; never rename one: a
# certificate issued today must still mean the same in ten years.

METROLOGICAL_INSTITUTE = "metrological-institute"  # metrological commands, software, logbook
ENERGY_PROVIDER = "energy-provider"  # reads metering data
MSP_SECURITY = "msp-security"  # MSP security management (SM): signs security-relevant commands
MSP_OPERATOR = "msp-operator"  # MSP operational management (CERT_OPi): non-metrological commands
CUSTOMER = "customer"  # reads own metering data (MUC)
MANUFACTURER = "manufacturer"  # non-metrological commands; last resort for a change of MSP (U4)
LOCAL_OPERATOR = "local-operator"  # on-site metrological and non-metrological commands
DISPLAY = "display"  # consumption indicator: reads metering data
DATA_COLLECTION = "data-collection"  # delegated data collection service (CERT_DCS, U6)
# Not a role of Table 1, so no access table grants it anything: the institute's software
# approval key signs firmware images (U5), never commands.
SOFTWARE_APPROVAL = "software-approval"

ALL = (METROLOGICAL_INSTITUTE, ENERGY_PROVIDER, MSP_SECURITY, MSP_OPERATOR, CUSTOMER, MANUFACTURER,
       LOCAL_OPERATOR, DISPLAY, DATA_COLLECTION)
