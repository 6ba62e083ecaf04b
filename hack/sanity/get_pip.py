"""Stand-in for the pip bootstrap script that ansible-test downloads from its own CI host.

That host is out of reach here (only package registries are), so `make sanity`
puts this file where ansible-test caches the script. It does what the real one
does for ansible-test: put pip into a fresh virtualenv (from the standard
library's ensurepip), then `pip install` the packages ansible-test asks for.
"""

import ensurepip
import os
import subprocess
import sys

GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}

ensurepip.bootstrap(upgrade=True)
# ensurepip points PIP_CONFIG_FILE at /dev/null in this process; the install
# below must see the machine's pip configuration (index, CA bundle) again.
os.environ.pop("PIP_CONFIG_FILE", None)
args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "--upgrade", *args]))
