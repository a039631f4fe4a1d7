#!/bin/sh
# Print the path of a working Python 3.13, the Lambda runtime's version.
# Probes by running each candidate: a pyenv shim may exist but refuse to run.
pyenv_root=$(pyenv root 2>/dev/null)
for candidate in python3.13 $pyenv_root/versions/3.13*/bin/python3.13 \
    /usr/local/bin/python3.13 /usr/bin/python3.13; do
  if "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' \
      >/dev/null 2>&1; then
    command -v "$candidate" 2>/dev/null || echo "$candidate"
    exit 0
  fi
done
echo "python3.13 not found: install Python 3.13 (apt, pyenv or python.org)" >&2
exit 1
