#!/bin/sh
# Install the build dependencies, build postern, and run posternd in the
# foreground on the quick-start configuration (127.0.0.1:2525 and
# [::1]:2525, delivering into ./var/mail).  Run from anywhere, as root.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

contrib/install-deps.sh
[ -x configure ] || autoreconf -fi
mkdir -p build
(cd build && { [ -f Makefile ] || ../configure -q; } && make -j"$(nproc)")

mkdir -p var/mail
echo "postern: listening on 127.0.0.1:2525 and [::1]:2525, mail goes to $top/var/mail/new"
echo "postern: try   swaks --server 127.0.0.1:2525 --to you@example.org   (Ctrl-C stops)"
exec build/posternd -f -c contrib/quickstart.conf
