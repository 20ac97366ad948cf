#!/bin/sh
# Install what building, running and testing postern needs (Debian 12, as
# root).  Quick when everything is already there: apt runs only for what
# is missing.
set -eu

PACKAGES="build-essential autoconf automake libtool pkg-config
libevent-dev libssl-dev libcmocka-dev libpcre2-dev libunbound-dev
libopendkim-dev libopendmarc-dev libspf2-dev libmilter-dev publicsuffix
libarchive-dev libmagic-dev clamav clamav-daemon
clang clang-format libclang-rt-14-dev
openssl ca-certificates python3 iproute2 util-linux procps
postfix swaks dovecot-imapd dovecot-pop3d dovecot-lmtpd haproxy
dnsmasq-base bind9-dnsutils opendkim opendkim-tools miltertest"

missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing" >&2
	echo "install-deps: run this script as root (or: sudo $0)" >&2
	exit 1
fi
# Postfix, Dovecot and HAProxy are test and benchmark peers only; the
# tests start private instances.  Postfix is installed without a system
# configuration so no system Postfix starts (doc/ARCHITECTURE.md, Tests).
echo 'postfix postfix/main_mailer_type select No configuration' |
	debconf-set-selections
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
