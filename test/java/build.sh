#!/usr/bin/env bash
# Builds the Java test harness (test/java): resolves the pinned Apache Kafka artifacts into the local Maven
# repository and compiles the drivers into target/classes, writing the runtime classpath to target/classpath.txt.
# Skips in a few milliseconds when target/harness.stamp matches the current pom.xml and sources and every jar of
# the classpath is still there. Offline (mvn -o) first; online only when something is missing from ~/.m2.
set -euo pipefail
cd "$(dirname "$0")"
stamp=target/harness.stamp
want="$( (cat pom.xml; find src -type f | LC_ALL=C sort | xargs cat) | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f target/classpath.txt ]; then
  ok=1
  IFS=: read -r -a jars <target/classpath.txt || true # no newline at its end: read says EOF
  [ ${#jars[@]} -gt 0 ] || ok=0
  for j in "${jars[@]}"; do [ -f "$j" ] || { ok=0; break; }; done
  [ "$ok" = 1 ] && exit 0
fi
command -v mvn >/dev/null || { echo "java harness: mvn not found (Debian package maven)" >&2; exit 1; }
mkdir -p target && rm -f "$stamp"
if ! mvn -q -B -o compile >target/build.log 2>&1; then
  echo "java harness: resolving Apache Kafka artifacts from Maven Central (first run)"
  if ! mvn -q -B compile >target/build.log 2>&1; then
    cat target/build.log >&2
    exit 1
  fi
fi
rm -f target/build.log
echo "$want" >"$stamp"
