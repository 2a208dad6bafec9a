#!/bin/sh
# Run as root by runtimes/Dockerfile in each stage of every runtime image: the user appwrite (uid 2001, gid 2000)
# and the folders it owns — the v1 layout (/usr/local/src, /usr/code, /usr/workspace, /usr/builtCode) and the
# v5 one (/usr/local/server/src/function, /usr/local/build, /mnt/code, /mnt/logs, /mnt/telemetry) —, the v5
# helpers at /usr/local/server/helpers and the seed's /usr/local/src/launch.sh (one line: runtime-shim launch).
# In the build stage, the language's setup.sh (runtimes/<LANGUAGE>/setup.sh, copied beside this file) installs
# what the language's image lacks, told VERSION (the catalogue's).
set -eu
: "${LANGUAGE:?}" "${STAGE:?}"
src=/usr/local/src
groupadd --gid 2000 appwrite 2>/dev/null || addgroup --gid 2000 appwrite
useradd --uid 2001 --gid 2000 --home-dir /usr/workspace --no-create-home --shell /bin/sh appwrite 2>/dev/null ||
  adduser --uid 2001 --ingroup appwrite --home /usr/workspace --no-create-home --shell /bin/sh --disabled-password appwrite
folders="$src /usr/code /usr/workspace /usr/builtCode /usr/local/server/src/function /usr/local/build /mnt/code /mnt/logs /mnt/telemetry"
# shellcheck disable=SC2086 # one folder a word
mkdir -p $folders
# shellcheck disable=SC2086
chown appwrite:appwrite $folders
ln -s /opt/runtime-shim/helpers /usr/local/server/helpers
printf '#!/bin/sh\nexec /opt/runtime-shim/runtime-shim launch "$@"\n' > "$src/launch.sh"
chmod 755 "$src/launch.sh"
if [ "$STAGE" = build ] && [ -f "$src/setup.sh" ]; then
  echo "image: $src/setup.sh (what $LANGUAGE ${VERSION:-} needs)"
  sh "$src/setup.sh"
fi
rm -f "$src/setup.sh" "$src/image.sh" "$src/README.md"
