#!/usr/bin/env bash
# Checks segue's headless runtime on an emulated Raspberry Pi: an ARM Debian root file system built
# with debootstrap, run under qemu-user-static, the runtime installed from this checkout into a venv
# inside it, then `segue info`, `segue generate`, `segue beats`, `segue lyrics` and the torch-free
# import check.
#
#   sudo scripts/pi-check.sh                       # arm64, Debian bookworm (Python 3.11)
#   sudo scripts/pi-check.sh --suite trixie        # arm64, Debian trixie (Python 3.13)
#   sudo scripts/pi-check.sh --arch armhf --suite trixie   # 32-bit Pi OS style, Debian's own packages
#
# Needs root and the Debian packages debootstrap and qemu-user-static. Not part of CI (it takes
# minutes under emulation); docs/notes/raspberry-pi.md quotes its output.
#
# Emulation is as close to a Pi 4 as qemu-user goes: the CPU model is a Cortex-A72 (QEMU_CPU), and a
# Pi 4's /proc/cpuinfo is bind-mounted over the host's, which the guest would otherwise see (x86),
# and which makes onnxruntime's CPU detection crash on import.
set -euo pipefail

arch=arm64
suite=bookworm
root=""
while [ $# -gt 0 ]; do
    case "$1" in
        --arch) arch="$2"; shift 2 ;;
        --suite) suite="$2"; shift 2 ;;
        --root) root="$2"; shift 2 ;;
        -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "pi-check: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$arch" in
    arm64) qemu=aarch64; cpu=cortex-a72 ;;
    armhf) qemu=arm; cpu=cortex-a15 ;;  # qemu-arm has no 32-bit A72; the A15 has the same ARMv7 + NEON + VFPv4
    *) echo "pi-check: --arch must be arm64 or armhf" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { echo "pi-check: needs root (debootstrap, chroot, mounts)" >&2; exit 1; }
for tool in debootstrap "qemu-$qemu-static"; do
    command -v "$tool" >/dev/null || { echo "pi-check: $tool missing: apt-get install debootstrap qemu-user-static" >&2; exit 1; }
done

repo=$(cd "$(dirname "$0")/.." && pwd)
root=${root:-/var/tmp/segue-pi/$suite-$arch}  # outside the checkout: a whole OS is no part of it
mkdir -p "$root"
root=$(cd "$root" && pwd)
say() { printf '\n== %s\n' "$*"; }

# The Debian mirror this machine already uses (override with MIRROR=...).
mirror=${MIRROR:-$(grep -hoE '^(URIs:|deb) +[a-z]+://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/* \
    2>/dev/null | head -n1 | awk '{print $2}' || true)}
[ -n "$mirror" ] || { echo "pi-check: no Debian mirror found in /etc/apt; set MIRROR" >&2; exit 1; }

# binfmt_misc lets the kernel hand ARM binaries to qemu; in a container it may not be mounted.
binfmt=/proc/sys/fs/binfmt_misc
[ -e "$binfmt/register" ] || mount -t binfmt_misc binfmt_misc "$binfmt"
if [ ! -e "$binfmt/qemu-$qemu" ]; then
    # Debian's own rule; its F flag keeps the interpreter usable inside the chroot.
    cat "/usr/lib/binfmt.d/qemu-$qemu.conf" > "$binfmt/register"
fi

case "$suite" in
    bookworm) asound=libasound2 ;;
    *) asound=libasound2t64 ;;
esac
packages=python3,python3-venv,ca-certificates,$asound
py313=$([ "$suite" = bookworm ] || echo yes)
if [ "$arch" = arm64 ] && [ -n "$py313" ]; then
    # No python-rtmidi wheel exists for Python 3.13: pip builds it, with ALSA (JACK is optional).
    packages=$packages,g++,pkg-config,python3-dev,libasound2-dev
fi
debian_python=""
if [ "$arch" = armhf ]; then
    # PyPI has no armv7 wheels of onnxruntime, numpy or python-rtmidi: use Debian's packages
    # (installed with apt in the guest: debootstrap does not resolve their virtual dependencies).
    debian_python="python3-numpy python3-onnxruntime python3-mido python3-rtmidi python3-click python3-pyphen"
fi
if [ ! -e "$root/.bootstrapped" ]; then
    say "debootstrap $suite $arch into $root (minutes under emulation)"
    start=$(date +%s)
    debootstrap --arch="$arch" --variant=minbase --include="$packages" "$suite" "$root" "$mirror" > "$root.debootstrap.log" 2>&1 \
        || { tail -n 20 "$root.debootstrap.log" >&2; exit 1; }
    touch "$root/.bootstrapped"
    rm -f "$root/.packages"
    echo "done in $(( $(date +%s) - start )) s"
fi

cleanup() {
    for m in proc/cpuinfo proc sys dev; do
        mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m" || true
    done
}
trap cleanup EXIT
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
mount --bind /sys "$root/sys"  # onnxruntime's cpuinfo reads the CPU lists there
mount --bind "$repo/scripts/pi4-cpuinfo-$arch.txt" "$root/proc/cpuinfo"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# pip in the guest trusts what pip here trusts (a proxy's own CA, for one).
cert=$(pip config get global.cert 2>/dev/null || true)
cert=${cert:-/etc/ssl/certs/ca-certificates.crt}
cp "$cert" "$root/etc/ssl/certs/host-ca.crt"

if [ -n "$debian_python" ] && [ ! -e "$root/.packages" ]; then
    say "apt-get install $debian_python"
    chroot "$root" /usr/bin/env -i PATH=/usr/bin:/bin DEBIAN_FRONTEND=noninteractive \
        sh -c "apt-get update -qq && apt-get install -y -qq --no-install-recommends $debian_python" > "$root.apt.log" 2>&1 \
        || { tail -n 20 "$root.apt.log" >&2; exit 1; }
    touch "$root/.packages"
fi

say "copy the checkout (tracked files) into /opt/segue"
rm -rf "$root/opt/segue" && mkdir -p "$root/opt/segue"
git -C "$repo" ls-files -z | (cd "$repo" && xargs -0 tar -cf - --no-recursion) | tar -xf - -C "$root/opt/segue"
# This machine's file from the same code, for the comparison at the end (made now, while the two agree).
host_file=""
if command -v segue >/dev/null && segue generate --events 500 --seed 1 --out "$root/tmp/host.mid" >/dev/null; then
    host_file="$root/tmp/host.mid"
fi

# QEMU_CPU goes inside `env -i`: every process the guest starts is a new qemu, which reads it from
# its own environment (outside only, `env` ran as a Cortex-A72 and python as qemu's "max" CPU).
guest() { chroot "$root" /usr/bin/env -i QEMU_CPU=$cpu HOME=/root PATH=/opt/venv/bin:/usr/bin:/bin LANG=C.UTF-8 \
    PIP_CERT=/etc/ssl/certs/host-ca.crt "$@"; }

site=""
[ "$arch" = armhf ] && site=--system-site-packages
say "install the runtime: python3 -m venv $site /opt/venv; pip install /opt/segue"
guest python3 --version
rm -rf "$root/opt/venv"
guest python3 -m venv $site /opt/venv
start=$(date +%s)
guest pip install --quiet --disable-pip-version-check --report /tmp/pip-report.json /opt/segue
echo "installed in $(( $(date +%s) - start )) s; what pip installed:"
guest python3 - <<'EOF'
import json
report = json.load(open("/tmp/pip-report.json"))
for item in report["install"]:
    meta, url = item["metadata"], item["download_info"]["url"]
    how = "wheel " + url.rsplit("/", 1)[-1] if url.endswith(".whl") else ("local" if url.startswith("file:") else "built from source")
    print(f"  {meta['name']} {meta['version']}: {how}")
EOF
guest python3 -c "from importlib.metadata import version as v; print(*(f'{p} {v(p)}' for p in ('numpy', 'onnxruntime', 'mido', 'python-rtmidi')), sep=' | ')"

timed() {
    local start end
    start=$(date +%s.%N)
    guest "$@"
    end=$(date +%s.%N)
    awk -v a="$start" -v b="$end" 'BEGIN { printf "   (%.1f s wall, emulated)\n", b - a }'
}
say "segue info"
timed segue info
say "segue generate --events 500 --seed 1 --out /tmp/pi.mid"
timed segue generate --events 500 --seed 1 --out /tmp/pi.mid
say "segue generate --accompany /tmp/pi.mid --seed 1 --out /tmp/band.mid (the accompanist under folk's melody)"
timed segue generate --accompany /tmp/pi.mid --seed 1 --out /tmp/band.mid
say "the accompanist's cost a beat (benchmarks/accompany_step.py, emulated)"
guest python3 /opt/segue/benchmarks/accompany_step.py --beats 1000
# The beat tracker and its ear on a pianist's performance (Mozart, K. 311, i; in the project's data
# beside the checkout), when it is there: the beats, and the tracker's cost a note.
performance="$repo/../shared/data/midi/allegroconspirito.mid"
host_beats=""
if [ -f "$performance" ]; then
    cp "$performance" "$root/tmp/performance.mid"
    say "segue beats /tmp/performance.mid (the beat tracker and its ear on 5,940 notes of a performance)"
    timed sh -c 'segue beats /tmp/performance.mid > /tmp/pi-beats.txt'
    if command -v segue >/dev/null && segue beats "$performance" > "$root/tmp/host-beats.txt"; then
        host_beats="$root/tmp/host-beats.txt"
    fi
fi
say "the beat tracker's cost a note (benchmarks/beat_step.py, emulated)"
guest python3 /opt/segue/benchmarks/beat_step.py --notes 1000
say "segue lyrics --seed 1 --lines 2"
timed segue lyrics --seed 1 --lines 2
say "the headless commands import neither torch nor rtmidi"
guest python3 - <<'EOF'
import sys
from segue.daemon.cli import main
code = main(["generate", "--events", "20", "--seed", "1", "--out", "/tmp/import-check.mid"])
loaded = [m for m in ("torch", "rtmidi") if m in sys.modules]
sys.exit(f"imported {', '.join(loaded)}" if loaded or code else print(f"ok: {len(sys.modules)} modules loaded, no torch, no rtmidi"))
EOF

if [ -n "$host_beats" ]; then
    say "the same beats on this machine?"
    python3 - "$host_beats" "$root/tmp/pi-beats.txt" <<'EOF'
import sys
host, pi = ([float(line.split()[0]) for line in open(f) if line.strip()] for f in sys.argv[1:])
if len(host) != len(pi):
    sys.exit(f"no: {len(pi)} beats here, {len(host)} on this machine")
worst = max((abs(a - b) for a, b in zip(host, pi)), default=0.0)
if worst > 0.001:
    sys.exit(f"no: {len(pi)} beats, one {worst * 1000:.1f} ms away from this machine's")
print(f"yes: the same {len(pi)} beats, none more than {worst * 1000:.3f} ms from this machine's")
EOF
fi

say "the same file on this machine?"
if [ -z "$host_file" ]; then
    echo "(segue is not installed on this machine: not compared)"
elif cmp -s "$host_file" "$root/tmp/pi.mid"; then
    echo "yes: byte-identical to this machine's $(uname -m) file ($(sha256sum < "$root/tmp/pi.mid" | cut -c1-16))"
else
    echo "no: the emulated file differs from this machine's"; exit 1
fi
