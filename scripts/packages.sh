# Sourced by scripts/test.sh and scripts/bench.sh: installs, with apt, the Debian packages
# whose programs are missing.

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# install_missing PROGRAM:PACKAGE ...  (Debian puts some servers in /usr/sbin, off PATH)
install_missing() {
  local missing=() pair program
  for pair in "$@"; do
    program=${pair%%:*}
    command -v "$program" >/dev/null || [ -x "/usr/sbin/$program" ] || missing+=("${pair#*:}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "==> installing ${missing[*]} (apt)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}
