# Shared by scripts/serve and scripts/test: make .venv and install the package into it.
# Re-installs only when pyproject.toml changed (a stamp holds its hash and the extras).

ensure_venv() {
  local extras="$1"   # "" for running, "dev" for testing
  local python="${PYTHON:-python3}"
  if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "consent-gateway needs Python 3.11 or newer (found: $("$python" --version 2>&1))" >&2
    exit 1
  fi
  if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv"
    "$python" -m venv .venv
  fi
  local spec="."
  [ -n "$extras" ] && spec=".[$extras]"
  local stamp=".venv/.installed-${extras:-run}"
  local want
  want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "==> installing consent-gateway ($spec) into .venv"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$spec"
    echo "$want" > "$stamp"
  fi
}
