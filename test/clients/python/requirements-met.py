"""Exit 0 when every `name==version` line of a requirements file is installed.

test/run.sh calls it before pip, so a prepared .venv costs no network and no
time. Only exact pins are understood; anything else counts as unmet.
"""

import sys
from importlib.metadata import PackageNotFoundError, version

unmet = []
with open(sys.argv[1], encoding="utf-8") as requirements:
    for line in requirements:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, wanted = line.partition("==")
        try:
            if version(name) != wanted:
                unmet.append(line)
        except PackageNotFoundError:
            unmet.append(line)
sys.exit(1 if unmet else 0)
