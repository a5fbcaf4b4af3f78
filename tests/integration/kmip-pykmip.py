# Golden-vector check of vhsm's KMIP codec against PyKMIP's own encoder and decoder
# (tests/integration/test-kmip-pykmip.sh). Usage: kmip-pykmip.py KMIP_TOOL
# Every message is made at run time: PyKMIP encodes requests and responses, vhsm's codec must
# rebuild each byte for byte and read the same values; vhsm's requests must equal PyKMIP's
# encoding byte for byte and decode in PyKMIP to the operation and identifier asked for.
import os
import subprocess
import sys

from kmip.core import attributes, enums, misc, objects, secrets, utils
from kmip.core.factories.attributes import AttributeFactory
from kmip.core.messages import contents, messages, payloads

TOOL = sys.argv[1]
V = enums.KMIPVersion.KMIP_1_2
checks = 0


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def ok(msg):
    global checks
    checks += 1
    print("ok %d - %s" % (checks, msg))


def enc(m):
    s = utils.BytearrayStream()
    m.write(s, kmip_version=V)
    return bytes(s.buffer)


def tool(args, data=None):
    p = subprocess.run([TOOL] + args, input=data.hex() if data is not None else None,
                       capture_output=True, text=True)
    return p.returncode, p.stdout


def request(op, payload):
    hdr = messages.RequestHeader(protocol_version=contents.ProtocolVersion(1, 2),
                                 batch_count=contents.BatchCount(1))
    item = messages.RequestBatchItem(operation=contents.Operation(op), request_payload=payload)
    return messages.RequestMessage(request_header=hdr, batch_items=[item])


def response(op, status, payload=None, reason=None, message=None):
    hdr = messages.ResponseHeader(protocol_version=contents.ProtocolVersion(1, 2),
                                  time_stamp=contents.TimeStamp(1780000000),
                                  batch_count=contents.BatchCount(1))
    item = messages.ResponseBatchItem(
        operation=contents.Operation(op) if op else None,
        result_status=contents.ResultStatus(status),
        result_reason=contents.ResultReason(reason) if reason else None,
        result_message=contents.ResultMessage(message) if message else None,
        response_payload=payload)
    return messages.ResponseMessage(response_header=hdr, batch_items=[item])


def fields(out):
    d = {}
    for line in out.splitlines():
        k, _, v = line.partition("=")
        d.setdefault(k, []).append(v)
    return d


def roundtrip(name, data):
    rc, out = tool(["roundtrip"], data)
    if rc != 0 or out.strip() != "ok %d" % len(data):
        fail("%s: vhsm did not rebuild PyKMIP's %d bytes: %s" % (name, len(data), out))


af = AttributeFactory()
uid_req = {
    "get": payloads.GetRequestPayload(unique_identifier="1"),
    "activate": payloads.ActivateRequestPayload(
        unique_identifier=attributes.UniqueIdentifier("17")),
    "destroy": payloads.DestroyRequestPayload(
        unique_identifier=attributes.UniqueIdentifier("fleet-0c6e2d1a")),
}
ops = {"get": enums.Operation.GET, "activate": enums.Operation.ACTIVATE,
       "destroy": enums.Operation.DESTROY, "locate": enums.Operation.LOCATE}

# 1. vhsm's requests: byte-identical to PyKMIP's, and PyKMIP decodes them.
for name, pl in uid_req.items():
    uid = pl.unique_identifier.value if hasattr(pl.unique_identifier, "value") \
        else pl.unique_identifier
    ref = enc(request(ops[name], pl))
    rc, out = tool(["request", name, uid])
    if rc != 0 or bytes.fromhex(out.strip()) != ref:
        fail("%s request differs from PyKMIP's:\n vhsm %s\n ref  %s" % (name, out.strip(),
                                                                         ref.hex()))
    m = messages.RequestMessage()
    m.read(utils.BytearrayStream(bytes.fromhex(out.strip())), kmip_version=V)
    item = m.batch_items[0]
    got = item.request_payload.unique_identifier
    got = got.value if hasattr(got, "value") else got
    if item.operation.value != ops[name] or got != uid:
        fail("%s request decodes in PyKMIP to %s %s" % (name, item.operation.value, got))
    roundtrip(name + " request", ref)
    ok("%s request: same %d bytes as PyKMIP, decoded by PyKMIP to %s(%s)" % (name, len(ref),
                                                                            ops[name].name, uid))

ref = enc(request(enums.Operation.LOCATE, payloads.LocateRequestPayload(attributes=[
    af.create_attribute(enums.AttributeType.NAME, "fleet-kek"),
    af.create_attribute(enums.AttributeType.OBJECT_GROUP, "prod")])))
rc, out = tool(["request", "locate", "fleet-kek", "prod"])
if rc != 0 or bytes.fromhex(out.strip()) != ref:
    fail("locate request differs from PyKMIP's")
m = messages.RequestMessage()
m.read(utils.BytearrayStream(ref), kmip_version=V)
attrs = m.batch_items[0].request_payload.attributes
if [a.attribute_name.value for a in attrs] != ["Name", "Object Group"] or \
        attrs[0].attribute_value.name_value.value != "fleet-kek":
    fail("locate request decodes in PyKMIP to other attributes")
roundtrip("locate request", ref)
ok("locate request (Name + Object Group): same %d bytes as PyKMIP" % len(ref))

# 2. PyKMIP's responses: vhsm rebuilds them byte for byte and reads the same values.
key = os.urandom(32)
block = objects.KeyBlock(
    key_format_type=misc.KeyFormatType(enums.KeyFormatType.RAW),
    key_value=objects.KeyValue(objects.KeyMaterial(key)),
    cryptographic_algorithm=attributes.CryptographicAlgorithm(
        enums.CryptographicAlgorithm.AES),
    cryptographic_length=attributes.CryptographicLength(256))
data = enc(response(enums.Operation.GET, enums.ResultStatus.SUCCESS,
                    payloads.GetResponsePayload(
                        object_type=enums.ObjectType.SYMMETRIC_KEY,
                        unique_identifier="fleet-0c6e2d1a",
                        secret=secrets.SymmetricKey(block))))
roundtrip("get response", data)
rc, out = tool(["response", "get"], data)
f = fields(out)
if rc != 0 or f.get("status") != ["0"] or f.get("operation") != ["10"] or \
        f.get("uid") != ["fleet-0c6e2d1a"] or f.get("alg") != ["3"] or \
        f.get("bits") != ["256"] or f.get("key") != [key.hex()] or f.get("version") != ["1.2"]:
    fail("get response read as:\n" + out)
ok("get response: AES-256 key, identifier, algorithm and length read as PyKMIP wrote them")

# The same response answering another operation is refused.
rc, out = tool(["response", "locate"], data)
if rc != 2:
    fail("get response accepted as a locate response")
ok("get response refused where a locate response is expected")

# An opaque-format key is not taken as a raw key.
block.key_format_type = misc.KeyFormatType(enums.KeyFormatType.OPAQUE)
data = enc(response(enums.Operation.GET, enums.ResultStatus.SUCCESS,
                    payloads.GetResponsePayload(
                        object_type=enums.ObjectType.SYMMETRIC_KEY,
                        unique_identifier="7", secret=secrets.SymmetricKey(block))))
rc, out = tool(["response", "get"], data)
if rc != 2 or "refused payload" not in out:
    fail("opaque key accepted:\n" + out)
ok("get response with an opaque key format refused")

data = enc(response(enums.Operation.GET, enums.ResultStatus.OPERATION_FAILED,
                    reason=enums.ResultReason.ITEM_NOT_FOUND,
                    message="Could not locate object: 99\x1b[2K"))
roundtrip("failure response", data)
rc, out = tool(["response", "get"], data)
f = fields(out)
if rc != 0 or f.get("status") != ["1"] or f.get("reason") != ["1"] or \
        f.get("message") != ["Could not locate object: 99\\x1b[2K"]:
    fail("failure response read as:\n" + out)
ok("failure response: status, reason and message read (the message's escape byte kept as data)")

uids = ["3", "fleet-a", "fleet-b-%s" % os.urandom(4).hex()]
data = enc(response(enums.Operation.LOCATE, enums.ResultStatus.SUCCESS,
                    payloads.LocateResponsePayload(unique_identifiers=uids)))
roundtrip("locate response", data)
rc, out = tool(["response", "locate"], data)
if rc != 0 or fields(out).get("uid") != uids:
    fail("locate response read as:\n" + out)
ok("locate response: %d identifiers in order" % len(uids))

data = enc(response(enums.Operation.DESTROY, enums.ResultStatus.SUCCESS,
                    payloads.DestroyResponsePayload(
                        unique_identifier=attributes.UniqueIdentifier("17"))))
roundtrip("destroy response", data)
rc, out = tool(["response", "destroy"], data)
if rc != 0 or fields(out).get("status") != ["0"]:
    fail("destroy response read as:\n" + out)
ok("destroy response")

# 3. Every truncation of a PyKMIP message is refused by vhsm.
data = enc(response(enums.Operation.LOCATE, enums.ResultStatus.SUCCESS,
                    payloads.LocateResponsePayload(unique_identifiers=["1"])))
for n in range(0, len(data), 8):
    rc, out = tool(["roundtrip"], data[:n])
    if rc != 2:
        fail("truncated message of %d bytes accepted" % n)
ok("every 8-byte truncation of a PyKMIP response refused")
print("%d checks passed" % checks)
