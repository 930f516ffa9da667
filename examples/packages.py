"""A workload with Debian packages in its image: PyYAML from `python3-yaml`, and `jq`.

    mvmctl run examples/packages.py

The first run resolves the packages, builds the image with mmdebstrap (a couple of minutes, once)
and pins the resolved package set in the plan; later runs find it in the cache (docs/packages.md).
"""

import subprocess

import yaml

from mvm import Image, workload


@workload("packages", image=Image.debian(packages=["python3-yaml", "jq"]), isolation="container",
          timeout_seconds=60)
def packages():
    jq = subprocess.run(["jq", "-c", ".tools"], input='{"tools": ["yaml", "jq"]}',
                        capture_output=True, text=True, check=True).stdout.strip()
    print(yaml.safe_dump({"jq says": jq, "yaml": yaml.__version__}, sort_keys=True), end="")
