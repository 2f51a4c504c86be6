# Sourced by demo.sh and test.sh: a project virtualenv in .venv with the given requirements file.
# Debian/Ubuntu's system Python refuses global pip installs, hence the venv.
venv_setup() {
  local requirements=$1
  if ! python3 -c "import ensurepip, venv" >/dev/null 2>&1; then
    echo "python3-venv is missing; installing it (needs root)…"
    ${SUDO:-$( [ "$(id -u)" = 0 ] || echo sudo )} apt-get update -qq
    ${SUDO:-$( [ "$(id -u)" = 0 ] || echo sudo )} apt-get install -y -qq python3-venv
  fi
  [ -x .venv/bin/python ] || python3 -m venv .venv
  # shellcheck disable=SC1091
  . .venv/bin/activate
  local stamp=".venv/.installed-$(basename "$requirements")"
  if [ ! -f "$stamp" ] || [ "$requirements" -nt "$stamp" ] || [ requirements.txt -nt "$stamp" ]; then
    python -m pip install -q --upgrade pip
    python -m pip install -q -r "$requirements"
    touch "$stamp"
  fi
}
