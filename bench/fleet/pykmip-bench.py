# PyKMIP's own client doing what vhsm's fleet pull does, for bench/fleet/run.sh:
#   pykmip-bench.py PKI PORT MODE REPS NAME_OR_GROUP
# cold: a new TLS connection per pull; warm: one session; sync: every key of a group.
# Prints "ms_per_op cpu_ms_per_op ops" (this process's CPU).
import resource
import sys
import time

from kmip.core import enums
from kmip.pie.client import ProxyKmipClient

pki, port, mode, reps, what = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]


def client():
    return ProxyKmipClient(hostname="127.0.0.1", port=port, cert=pki + "/cvm-a.pem",
                           key=pki + "/cvm-a.key", ca=pki + "/ca.pem", config_file="/dev/null")


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return (r.ru_utime + r.ru_stime) * 1e3


def pull(c, group=False):
    attr = enums.AttributeType.OBJECT_GROUP if group else enums.AttributeType.NAME
    from kmip.core.factories import attributes
    f = attributes.AttributeFactory()
    uids = c.locate(attributes=[f.create_attribute(attr, what)])
    for u in uids:
        c.get_attributes(u, ["State", "Name", "Cryptographic Length"])
        c.get(u)
    return len(uids)


ops = 0
if mode == "warm":
    c = client()
    c.open()
    pull(c)
    t0, c0 = time.monotonic(), cpu()
    for _ in range(reps):
        pull(c)
        ops += 1
    c.close()
else:
    t0, c0 = time.monotonic(), cpu()
    for _ in range(reps):
        c = client()
        c.open()
        n = pull(c, mode == "sync")
        c.close()
        ops += n if mode == "sync" else 1
t, cp = (time.monotonic() - t0) * 1e3, cpu() - c0
print("%.3f %.3f %d" % (t / ops, cp / ops, ops))
