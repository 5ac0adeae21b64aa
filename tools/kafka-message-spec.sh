#!/usr/bin/env bash
# Extracts Apache Kafka's JSON message definitions (common/message/*.json) from the pinned kafka-clients jar of the
# Java test harness (test/java/pom.xml; run test/java/build.sh first) into test/java/target/kafka-message-spec/,
# which is git-ignored: the definitions are never committed. The protocol generator and the codec tests read them
# there (tools/generate-protocol/main.ts `defaultSpecDir`; spec/protocol.md). Quick when already extracted.
set -euo pipefail
cd "$(dirname "$0")/../test/java"
out=target/kafka-message-spec
jar="$(tr ':' '\n' <target/classpath.txt | grep -E '/kafka-clients-[^/]+\.jar$' | head -n1)"
[ -n "$jar" ] && [ -f "$jar" ] || { echo "kafka-message-spec: kafka-clients jar not found in test/java/target/classpath.txt" >&2; exit 1; }
if [ -f "$out/.source" ] && [ "$(cat "$out/.source")" = "$jar" ]; then exit 0; fi
rm -rf "$out" "$out.tmp"
mkdir -p "$out.tmp"
command -v unzip >/dev/null || { echo "kafka-message-spec: unzip not found (Debian package unzip)" >&2; exit 1; }
unzip -q -j -o "$jar" 'common/message/*.json' -d "$out.tmp"
echo "$jar" >"$out.tmp/.source"
mv "$out.tmp" "$out"
