#!/usr/bin/env bash
# Installs the system packages the test suite talks to (real Kafka clients, S3, etcd, Java) when they are missing,
# and builds the Java test harness (test/java/build.sh: quick when up to date).
# Runs as `npm test`'s pretest step, so the README's test command works on a fresh Debian machine.
set -euo pipefail
# radosgw, ceph-mon, ceph-osd: the throwaway one-node Ceph cluster whose radosgw is the tests' S3 (test/support/radosgw.ts;
# it needs no ceph-mgr). etcd-server: the metadata-store tests. openjdk-17-jdk-headless, maven: the Java client
# drivers and the Apache Kafka reference broker (test/java, built below). unzip: Kafka's message definitions from its jar.
packages=(kcat python3-confluent-kafka python3-kafka python3-snappy python3-lz4 python3-zstandard radosgw ceph-mon ceph-osd etcd-server
  openjdk-17-jdk-headless maven unzip)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
java_harness() {
  # The pinned Apache Kafka jars (Maven Central, the first time) and the compiled drivers; quick when up to date.
  bash "$(dirname "$0")/../test/java/build.sh"
  # Kafka's JSON message definitions from the pinned kafka-clients jar (git-ignored; spec/protocol.md).
  bash "$(dirname "$0")/kafka-message-spec.sh"
}
if [ ${#missing[@]} -eq 0 ]; then
  java_harness
  exit 0
fi
echo "test-deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "test-deps: not root; run: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
java_harness
