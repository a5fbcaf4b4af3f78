#!/usr/bin/python3
# vhsm KEKs as PKCS#11 secret keys, through python3-pykcs11: each scenario prints
# "<scenario> <result>". Usage: pkcs11-kek.py MODULE KEK-LABEL [scenario...]
#   roundtrip   C_WrapKey (CKM_AES_KEY_WRAP_PAD) of a session key, C_UnwrapKey, values equal
#   ...         see the functions below
import secrets
import sys

import PyKCS11
from PyKCS11 import LowLevel as L
from PyKCS11.LowLevel import ckbytelist

MODULE, KEK = sys.argv[1:3]
ONLY = set(sys.argv[3:])
lib = PyKCS11.PyKCS11Lib()
lib.load(MODULE)
S = lib.openSession(lib.getSlotList(tokenPresent=True)[0],
                    PyKCS11.CKF_SERIAL_SESSION | PyKCS11.CKF_RW_SESSION)
S.login("")
KWP = PyKCS11.Mechanism(PyKCS11.CKM_AES_KEY_WRAP_PAD)


def name(rv):
    return PyKCS11.CKR.get(rv, "0x%x" % rv)


def kek():
    k = S.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_SECRET_KEY), (PyKCS11.CKA_LABEL, KEK)])
    if len(k) != 1:
        raise SystemExit("found %d secret keys labelled %s" % (len(k), KEK))
    return k[0]


def session_key(value, sensitive=False):
    return S.createObject([(PyKCS11.CKA_CLASS, PyKCS11.CKO_SECRET_KEY),
                           (PyKCS11.CKA_KEY_TYPE, PyKCS11.CKK_AES),
                           (PyKCS11.CKA_TOKEN, False), (PyKCS11.CKA_SENSITIVE, sensitive),
                           (PyKCS11.CKA_EXTRACTABLE, True), (PyKCS11.CKA_VALUE, value)])


def unwrap(wrapped, sensitive=False, token=False):
    return S.unwrapKey(kek(), wrapped, [(PyKCS11.CKA_CLASS, PyKCS11.CKO_SECRET_KEY),
                                        (PyKCS11.CKA_KEY_TYPE, PyKCS11.CKK_AES),
                                        (PyKCS11.CKA_TOKEN, token),
                                        (PyKCS11.CKA_SENSITIVE, sensitive)], KWP)


def value(obj):
    return bytes(S.getAttributeValue(obj, [PyKCS11.CKA_VALUE], allAsBinary=True)[0])


def sc_attributes():
    v = S.getAttributeValue(kek(), [PyKCS11.CKA_KEY_TYPE, PyKCS11.CKA_VALUE_LEN,
                                    PyKCS11.CKA_SENSITIVE, PyKCS11.CKA_EXTRACTABLE,
                                    PyKCS11.CKA_WRAP, PyKCS11.CKA_UNWRAP])
    return "aes=%s len=%d sensitive=%s extractable=%s wrap=%s unwrap=%s" % (
        v[0] == PyKCS11.CKK_AES, v[1], bool(v[2]), bool(v[3]), bool(v[4]), bool(v[5]))


def sc_value_sensitive():
    t = L.ckattrlist(1)
    t[0].SetType(PyKCS11.CKA_VALUE)
    return name(lib.lib.C_GetAttributeValue(S.session, kek(), t))


def sc_roundtrip():
    secret = secrets.token_bytes(32)
    wrapped = bytes(S.wrapKey(kek(), session_key(secret), KWP))
    back = unwrap(wrapped)
    return "len=%d %s" % (len(wrapped), "match" if value(back) == secret else "MISMATCH")


def sc_wrap_size_query():
    k = session_key(secrets.token_bytes(32))
    out = ckbytelist()
    rv = lib.lib.C_WrapKey(S.session, KWP.to_native(), kek(), k, out)
    return "%s len=%d" % (name(rv), len(out))


def sc_unwrap_tampered():
    wrapped = bytearray(S.wrapKey(kek(), session_key(secrets.token_bytes(32)), KWP))
    wrapped[5] ^= 1
    try:
        unwrap(bytes(wrapped))
        return "CKR_OK"
    except PyKCS11.PyKCS11Error as e:
        return name(e.value)


def sc_unwrapped_sensitive_by_default():
    wrapped = bytes(S.wrapKey(kek(), session_key(secrets.token_bytes(32)), KWP))
    k = S.unwrapKey(kek(), wrapped, [(PyKCS11.CKA_CLASS, PyKCS11.CKO_SECRET_KEY),
                                     (PyKCS11.CKA_KEY_TYPE, PyKCS11.CKK_AES)], KWP)
    t = L.ckattrlist(1)
    t[0].SetType(PyKCS11.CKA_VALUE)
    return name(lib.lib.C_GetAttributeValue(S.session, k, t))


def sc_unwrap_token_refused():
    wrapped = bytes(S.wrapKey(kek(), session_key(secrets.token_bytes(32)), KWP))
    try:
        unwrap(wrapped, token=True)
        return "CKR_OK"
    except PyKCS11.PyKCS11Error as e:
        return name(e.value)


def sc_wrap_vhsm_key_refused():
    # vhsm's KEKs (token objects), not this process's session keys: another KEK, or itself.
    keks = S.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_SECRET_KEY), (PyKCS11.CKA_TOKEN, True)])
    others = [o for o in keks if o.value() != kek().value()]
    target = others[0] if others else kek()
    try:
        S.wrapKey(kek(), target, KWP)
        return "CKR_OK"
    except PyKCS11.PyKCS11Error as e:
        return name(e.value)


def sc_unwrap_destroy_many():
    # More unwrap + destroy cycles than the module has object slots (P11_OBJECTS_MAX 4096):
    # destroyed session keys free their slot, and a destroyed key's handle stays invalid.
    n, w = 4200, kek()
    secret = secrets.token_bytes(32)
    wrapped = bytes(S.wrapKey(w, session_key(secret), KWP))
    t = [(PyKCS11.CKA_CLASS, PyKCS11.CKO_SECRET_KEY), (PyKCS11.CKA_KEY_TYPE, PyKCS11.CKK_AES),
         (PyKCS11.CKA_TOKEN, False), (PyKCS11.CKA_SENSITIVE, False)]
    first = last = None
    for _ in range(n):
        if last is not None:
            S.destroyObject(last)
        last = S.unwrapKey(w, wrapped, t, KWP)
        first = first if first is not None else last
    a = L.ckattrlist(1)
    a[0].SetType(PyKCS11.CKA_VALUE)
    stale = name(lib.lib.C_GetAttributeValue(S.session, first, a))
    return "n=%d stale=%s %s" % (n, stale, "match" if value(last) == secret else "MISMATCH")


def gcm(iv, aad):
    return PyKCS11.AES_GCM_Mechanism(iv, aad, 128)


def gcm_encrypt(pt, aad):
    # vhsmd chooses the IV: pIv is 12 zero bytes, and receives the IV with the ciphertext.
    m = gcm(bytes(12), aad)
    ct = bytes(S.encrypt(kek(), pt, m))
    return bytes(m._source_iv), ct


def sc_gcm_roundtrip():
    aad, pt = b"header", secrets.token_bytes(100)
    iv, ct = gcm_encrypt(pt, aad)
    back = bytes(S.decrypt(kek(), ct, gcm(iv, aad)))
    return "len=%d %s" % (len(ct), "match" if back == pt else "MISMATCH")


def sc_gcm_iv_chosen():
    # The same plaintext encrypted 64 times: 64 distinct non-zero IVs (so 64 distinct
    # ciphertexts), each of which decrypts under its own IV only.
    n, pt = 64, b"the same plaintext every time"
    out = [gcm_encrypt(pt, b"a") for _ in range(n)]
    ivs = {iv for iv, _ in out}
    cts = {ct for _, ct in out}
    ok = all(bytes(S.decrypt(kek(), ct, gcm(iv, b"a"))) == pt for iv, ct in out[:4])
    try:
        S.decrypt(kek(), out[0][1], gcm(out[1][0], b"a"))
        other = "CKR_OK"
    except PyKCS11.PyKCS11Error as e:
        other = name(e.value)
    return "n=%d ivs=%d cts=%d zero=%s decrypt=%s other_iv=%s" % (
        n, len(ivs), len(cts), bytes(12) in ivs, "ok" if ok else "FAILED", other)


def sc_gcm_caller_iv_refused():
    res = []
    for iv in (secrets.token_bytes(12), bytes(16), bytes(8)):
        try:
            S.encrypt(kek(), b"x" * 16, gcm(iv, b""))
            res.append("CKR_OK")
        except PyKCS11.PyKCS11Error as e:
            res.append(name(e.value))
    return " ".join(res)


def sc_gcm_tampered():
    pt = secrets.token_bytes(40)
    iv, ct = gcm_encrypt(pt, b"a")
    ct = bytearray(ct)
    ct[-1] ^= 1
    try:
        S.decrypt(kek(), bytes(ct), gcm(iv, b"a"))
        return "CKR_OK"
    except PyKCS11.PyKCS11Error as e:
        return name(e.value)


def sc_gcm_wrong_aad():
    pt = secrets.token_bytes(40)
    iv, ct = gcm_encrypt(pt, b"a")
    try:
        S.decrypt(kek(), ct, gcm(iv, b"b"))
        return "CKR_OK"
    except PyKCS11.PyKCS11Error as e:
        return name(e.value)


def sc_gcm_bad_tag_bits():
    try:
        S.encrypt(kek(), b"x" * 16, PyKCS11.AES_GCM_Mechanism(bytes(12), b"", 64))
        return "CKR_OK"
    except PyKCS11.PyKCS11Error as e:
        return name(e.value)


for fn in [v for k, v in list(globals().items()) if k.startswith("sc_")]:
    scen = fn.__name__[3:]
    if ONLY and scen not in ONLY:
        continue
    try:
        print(scen, fn(), flush=True)
    except PyKCS11.PyKCS11Error as e:
        print(scen, "raised", name(e.value), flush=True)
