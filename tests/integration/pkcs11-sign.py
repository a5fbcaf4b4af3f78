#!/usr/bin/python3
# Signs with the vhsm key pair LABEL through python3-pykcs11 and prints "sign <CKR_*>" (and the
# find result); with --twice it then waits for a line on stdin (the test restarts vhsmd
# meanwhile) and signs again in the same session.
#   pkcs11-sign.py MODULE LABEL [--twice]
import sys

import PyKCS11

MODULE, LABEL = sys.argv[1:3]
lib = PyKCS11.PyKCS11Lib()
lib.load(MODULE)
slot = lib.getSlotList(tokenPresent=True)[0]
s = lib.openSession(slot, PyKCS11.CKF_SERIAL_SESSION)
s.login("")
keys = s.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY), (PyKCS11.CKA_LABEL, LABEL)])
print("found", len(keys), flush=True)
if not keys:
    sys.exit(0)
DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420") + bytes(32)


def sign():
    try:
        s.sign(keys[0], DIGEST_INFO, PyKCS11.Mechanism(PyKCS11.CKM_RSA_PKCS))
        print("sign CKR_OK", flush=True)
    except PyKCS11.PyKCS11Error as e:
        print("sign", PyKCS11.CKR.get(e.value, hex(e.value)), flush=True)


sign()
if "--twice" in sys.argv:
    sys.stdin.readline()
    sign()
