# Sourced by demo.sh and test.sh: the Debian packages the product needs, and a project virtualenv in
# .venv with the given requirements file. Debian/Ubuntu's system Python refuses global pip installs,
# hence the venv. Each step says what it does: a first install takes a few minutes.

step() { printf '\n==> %s\n' "$*"; }

# Installs the Debian packages given that are missing (needs root or sudo); a no-op when all are there.
debian_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  step "Installing Debian packages: ${missing[*]}"
  local sudo
  sudo=${SUDO:-$( [ "$(id -u)" = 0 ] || echo sudo )}
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y "${missing[@]}"
}

venv_setup() {
  local requirements=$1
  python3 -c "import ensurepip, venv" >/dev/null 2>&1 || debian_packages python3-venv
  [ -x .venv/bin/python ] || { step "Creating the virtualenv .venv"; python3 -m venv .venv; }
  # shellcheck disable=SC1091
  . .venv/bin/activate
  local stamp=".venv/.installed-$(basename "$requirements")"
  if [ ! -f "$stamp" ] || [ "$requirements" -nt "$stamp" ] || [ requirements.txt -nt "$stamp" ]; then
    step "Installing Python packages from $requirements (first time: a few minutes)"
    python -m pip install --upgrade pip --progress-bar on
    python -m pip install -r "$requirements" --progress-bar on
    touch "$stamp"
  fi
}
