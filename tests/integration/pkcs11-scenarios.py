#!/usr/bin/python3
# The PKCS#11 scenarios run against vhsm's module and, for the differential, SoftHSM2: each
# prints "<scenario> <result>" where the result is the CKR_* name of what the standard defines
# (or a checked fact such as "len=256"). Usage:
#   pkcs11-scenarios.py MODULE TOKEN-LABEL KEY-LABEL PIN-FILE [only-scenario...]
# The key is an RSA-2048 key pair with sign and decrypt. PIN-FILE holds the user PIN ("" for
# vhsm, which needs none). Library: python3-pykcs11 (its LowLevel layer, so that buffers and
# handles reach the module as given).
import secrets
import sys

import PyKCS11
from PyKCS11 import LowLevel as L
from PyKCS11.LowLevel import ckbytelist

MODULE, TOKEN, KEY, PINFILE = sys.argv[1:5]
ONLY = set(sys.argv[5:])
lib = PyKCS11.PyKCS11Lib()
lib.load(MODULE)
ll = lib.lib
PIN = open(PINFILE).read().strip()

BAD = 0x7A3C5E91  # a handle no module hands out this early


def name(rv):
    return PyKCS11.CKR.get(rv, "0x%x" % rv)


def slot_of(label):
    for s in lib.getSlotList(tokenPresent=True):
        if lib.getTokenInfo(s).label.strip() == label:
            return s
    sys.exit("no token labelled %s" % label)


SLOT = slot_of(TOKEN)


def session(login=True):
    s = lib.openSession(SLOT, PyKCS11.CKF_SERIAL_SESSION | PyKCS11.CKF_RW_SESSION)
    if login:
        try:
            s.login(PIN)
        except PyKCS11.PyKCS11Error as e:
            if e.value != PyKCS11.CKR_USER_ALREADY_LOGGED_IN:
                raise
    return s


def find(s, cls):
    return s.findObjects([(PyKCS11.CKA_CLASS, cls), (PyKCS11.CKA_LABEL, KEY)])


def attrs(types):
    t = L.ckattrlist(len(types))
    for i, (ty, reserve) in enumerate(types):
        t[i].SetType(ty)
        if reserve:
            t[i].Reserve(reserve)
    return t


def mech(m, param=None):
    return PyKCS11.Mechanism(m, param).to_native()


def digest_info_sha256(msg_hash):
    return bytes.fromhex("3031300d060960864801650304020105000420") + msg_hash


def rsa_pkcs1_encrypt(n, e, msg):
    k = (n.bit_length() + 7) // 8
    pad = bytes(b or 1 for b in secrets.token_bytes(k - 3 - len(msg)))
    m = int.from_bytes(b"\x00\x02" + pad + b"\x00" + msg, "big")
    return pow(m, e, n).to_bytes(k, "big")


S = session()
PRIV = find(S, PyKCS11.CKO_PRIVATE_KEY)
PUB = find(S, PyKCS11.CKO_PUBLIC_KEY)
if len(PRIV) != 1 or len(PUB) != 1:
    sys.exit("expected one private and one public key labelled %s, found %d and %d"
             % (KEY, len(PRIV), len(PUB)))
PRIV, PUB = PRIV[0], PUB[0]
h = S.session


def handle(cls, v):
    x = cls()
    x.assign(v)
    return x


BAD_OBJ = handle(L.CK_OBJECT_HANDLE, BAD)
BAD_SESSION = handle(L.CK_SESSION_HANDLE, BAD)


def sc_attr_size_query():
    t = attrs([(PyKCS11.CKA_MODULUS, 0)])
    rv = ll.C_GetAttributeValue(h, PUB, t)
    return "%s len=%d" % (name(rv), t[0].GetLen())


def sc_attr_too_small():
    return name(ll.C_GetAttributeValue(h, PUB, attrs([(PyKCS11.CKA_MODULUS, 8)])))


def sc_attr_sensitive():
    return name(ll.C_GetAttributeValue(h, PRIV, attrs([(PyKCS11.CKA_PRIVATE_EXPONENT, 0)])))


def sc_attr_type_invalid():
    return name(ll.C_GetAttributeValue(h, PUB, attrs([(0x7FFF0001, 0)])))


def sc_attr_mixed():
    # The sensitive attribute is refused; the readable one is still filled.
    t = attrs([(PyKCS11.CKA_MODULUS, 512), (PyKCS11.CKA_PRIVATE_EXPONENT, 512)])
    rv = ll.C_GetAttributeValue(h, PRIV, t)
    return "%s modulus=%d" % (name(rv), len(t[0].GetBin()))


def sc_attr_flags():
    v = S.getAttributeValue(PRIV, [PyKCS11.CKA_SENSITIVE, PyKCS11.CKA_EXTRACTABLE,
                                   PyKCS11.CKA_SIGN, PyKCS11.CKA_DECRYPT])
    return "sensitive=%s extractable=%s sign=%s decrypt=%s" % tuple(bool(x) for x in v)


def sc_sign_size_query():
    ll.C_SignInit(h, mech(PyKCS11.CKM_RSA_PKCS), PRIV)
    sig = ckbytelist()
    rv = ll.C_Sign(h, ckbytelist(digest_info_sha256(bytes(32))), sig)
    ll.C_Sign(h, ckbytelist(digest_info_sha256(bytes(32))), sig)
    return "%s len=%d" % (name(rv), len(sig))


def sc_sign_too_small():
    ll.C_SignInit(h, mech(PyKCS11.CKM_RSA_PKCS), PRIV)
    data = ckbytelist(digest_info_sha256(bytes(32)))
    rv1 = ll.C_Sign(h, data, ckbytelist(bytes(10)))
    sig = ckbytelist(bytes(256))
    rv2 = ll.C_Sign(h, data, sig)  # the operation survives a too-small buffer
    return "%s then %s" % (name(rv1), name(rv2))


def sc_sign_not_initialized():
    return name(ll.C_Sign(h, ckbytelist(b"x"), ckbytelist(bytes(256))))


def sc_operation_active():
    ll.C_SignInit(h, mech(PyKCS11.CKM_RSA_PKCS), PRIV)
    rv = ll.C_SignInit(h, mech(PyKCS11.CKM_RSA_PKCS), PRIV)
    ll.C_Sign(h, ckbytelist(digest_info_sha256(bytes(32))), ckbytelist(bytes(256)))
    return name(rv)


def sc_mech_unknown():
    return name(ll.C_SignInit(h, mech(0x80001234), PRIV))


def sc_mech_wrong_key_type():
    return name(ll.C_SignInit(h, mech(PyKCS11.CKM_ECDSA), PRIV))


def sc_bad_key_handle():
    return name(ll.C_SignInit(h, mech(PyKCS11.CKM_RSA_PKCS), BAD_OBJ))


def sc_bad_object_handle():
    return name(ll.C_GetAttributeValue(h, BAD_OBJ, attrs([(PyKCS11.CKA_CLASS, 0)])))


def sc_bad_session_handle():
    return name(ll.C_GenerateRandom(BAD_SESSION, ckbytelist(bytes(8))))


def sc_closed_session():
    s = session(login=False)
    sh = s.session
    s.closeSession()
    return name(ll.C_SignInit(sh, mech(PyKCS11.CKM_RSA_PKCS), PRIV))


def sc_find_not_initialized():
    return name(ll.C_FindObjects(h, L.ckobjlist(4)))


def sc_decrypt_roundtrip():
    n = int.from_bytes(bytes(S.getAttributeValue(PUB, [PyKCS11.CKA_MODULUS])[0]), "big")
    e = int.from_bytes(bytes(S.getAttributeValue(PUB, [PyKCS11.CKA_PUBLIC_EXPONENT])[0]), "big")
    secret = secrets.token_bytes(32)
    ct = rsa_pkcs1_encrypt(n, e, secret)
    pt = S.decrypt(PRIV, ct, PyKCS11.Mechanism(PyKCS11.CKM_RSA_PKCS))
    return "match" if bytes(pt) == secret else "MISMATCH"


def sc_decrypt_bad_length():
    ll.C_DecryptInit(h, mech(PyKCS11.CKM_RSA_PKCS), PRIV)
    return name(ll.C_Decrypt(h, ckbytelist(bytes(100)), ckbytelist(bytes(256))))


def sc_private_hidden_without_login():
    # Another application (this is one process: log out, look, log in again).
    S.logout()
    s = session(login=False)
    n = len(find(s, PyKCS11.CKO_PRIVATE_KEY))
    s.closeSession()
    S.login(PIN)
    return "private=%d" % n


for fn in [v for k, v in list(globals().items()) if k.startswith("sc_")]:
    scen = fn.__name__[3:]
    if ONLY and scen not in ONLY:
        continue
    # Each scenario in a fresh session: an operation one leaves active cannot leak into the next.
    S = session()
    h = S.session
    try:
        print(scen, fn(), flush=True)
    except PyKCS11.PyKCS11Error as e:
        print(scen, "raised", name(e.value), flush=True)
    S.closeSession()
