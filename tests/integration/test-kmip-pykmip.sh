#!/bin/bash
# KMIP codec against PyKMIP (Debian python3-pykmip): requests vhsm builds are byte-identical to
# PyKMIP's and decode in PyKMIP; responses PyKMIP encodes are rebuilt byte for byte and read to
# the same values by vhsm; truncations are refused. Messages are made at run time.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
[ -x "$B/test-kmip-tool" ] || fail "missing $B/test-kmip-tool (make all)"
"$PY" -c 'import kmip' 2>/dev/null || skip "python3-pykmip is not installed (scripts/install-deps.sh installs it)"
"$PY" "$top/tests/integration/kmip-pykmip.py" "$B/test-kmip-tool"
