#!/usr/bin/env bash
# Installs every Debian 12 package needed to build, run and test Weft.
# Idempotent and non-interactive; run as root (or with sudo available).
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config git ca-certificates
  # DPDK 22.11 (libraries, PMDs such as net_null/net_pcap/net_ring, dpdk-testpmd)
  dpdk dpdk-dev libdpdk-dev libpcap-dev
  # libraries Weft builds on
  libyaml-cpp-dev libboost-dev libboost-filesystem-dev libmnl-dev
  nlohmann-json3-dev libcli11-dev
  # the sanitizer tree and the fuzz targets (clang's ASan, UBSan, libFuzzer)
  clang-14 libfuzzer-14-dev
  # tests and benchmarks
  catch2 libbenchmark-dev python3 python3-scapy python3-yaml iproute2 graphviz
  procps jq iputils-ping ethtool
  # what the BGP underlay lab's checks run on its hosts (graphs/labs/bgp-underlay.yaml)
  traceroute iputils-tracepath
  # reads the pcapng files of `routerctl capture` (tests/e2e/test_runtime_probes.py)
  tshark
  # routing: zebra + staticd with dplane_fpm_nl (tests/e2e/test_fpm_zebra.py)
  frr
  # SSH over the host path: dropbear's server (binaries only: no service is
  # started or enabled) and OpenSSH's client (tests/e2e/test_host_path_protocols.py)
  dropbear-bin openssh-client
  # fleet: etcd v3 (tests/e2e/test_fleet*.py) and TLS to it
  etcd-server etcd-client libssl-dev
  # telemetry: a real Prometheus scraping routerd, promtool (tests/e2e/test_prometheus*.py)
  prometheus
  # SVP's CRC32 (zlib's polynomial)
  zlib1g-dev
  # packaging: routerd's sd_notify, manual pages, the Debian packages and the
  # test that installs them on a bare Debian 12 root (docs/packages.md)
  libsystemd-dev systemd go-md2man dpkg-dev fakeroot file lintian mmdebstrap
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
