"""Stand-in for the get-pip.py bootstrap script ansible-test downloads from a host this project
cannot reach: bootstrap pip from the interpreter's own ensurepip, then let pip install the
packages ansible-test asked for (from the package index, like any pip install)."""
import os
import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"], stdout=subprocess.DEVNULL)
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
# ansible-test runs this with a scrubbed environment; keep the system trust store, which holds
# any CA a proxy between us and the index needs.
bundle = "/etc/ssl/certs/ca-certificates.crt"
if os.path.exists(bundle):
    args = ["--cert", bundle] + args
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "-q"] + args))
