"""A private Dovecot for the IMAP/POP3 pass-through tests and benchmark.

MailboxDovecot: IMAP, POP3 (plain, and IMAPS/POP3S when given a
certificate) on 127.0.0.1, passwd-file users alice/alicepw and bob/bobpw,
maildirs under its own directory owned by nobody, and
login_trusted_networks = 127.0.0.1 so that the client address postern
passes on (IMAP ID x-originating-ip, POP3 XCLIENT) is believed and shows
up in Dovecot's log as rip=.  Nothing from /etc/dovecot is read.

Usable from the integration tests (harness.py's helpers) and on its own
(bench/mailbox_proxy.sh): only the standard library and harness.py.
"""

import os
import subprocess

import harness

CONF = """\
instance_name = postern-mbox-{tag}
base_dir = {dir}/run
state_dir = {dir}/state
listen = 127.0.0.1
protocols = imap pop3
ssl = {ssl}
{ssl_files}
disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
auth_failure_delay = 0
log_path = {dir}/dovecot.log
info_log_path = {dir}/dovecot.log
mail_location = maildir:~/Maildir
first_valid_uid = 1
pop3_uidl_format = %08Xu%08Xv
login_trusted_networks = {trusted}
mail_max_userip_connections = 1000
default_process_limit = 1000
default_client_limit = 4000
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {dir}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%n {dir}/passwd
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
  }}
  process_min_avail = 1
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3_port}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {pop3s_port}
  }}
}}
"""

USERS = {"alice": "alicepw", "bob": "bobpw"}


class MailboxDovecot(harness.ForegroundPeer):
    def __init__(self, cert=None, key=None, trusted="127.0.0.1",
                 parent=None, mechanisms="plain login"):
        self.dir = harness.make_dir("dovecot-mbox.", parent=parent)
        self.imap_port = harness.free_port()
        self.pop3_port = harness.free_port()
        self.tls = cert is not None
        self.imaps_port = harness.free_port() if self.tls else 0
        self.pop3s_port = harness.free_port() if self.tls else 0
        self.conf = os.path.join(self.dir, "dovecot.conf")
        self.logfile = os.path.join(self.dir, "dovecot.log")
        self.maildir = harness.sub_dir(self.dir, "mail", owner="nobody")
        ssl_files = ""
        if self.tls:
            ssl_files = "ssl_cert = <%s\nssl_key = <%s\n" % (cert, key)
        with open(self.conf, "w") as f:
            f.write(CONF.format(
                tag=os.path.basename(self.dir), dir=self.dir,
                ssl="yes" if self.tls else "no", ssl_files=ssl_files,
                trusted=trusted, imap_port=self.imap_port,
                imaps_port=self.imaps_port, pop3_port=self.pop3_port,
                pop3s_port=self.pop3s_port, mechanisms=mechanisms))
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            for user, pw in USERS.items():
                f.write("%s:{PLAIN}%s:%d:%d::%s/%s::\n"
                        % (user, pw, harness.NOBODY.pw_uid,
                           harness.NOBODY_GID, self.maildir, user))
        self.proc = None
        harness.ARTIFACTS.append(("dovecot log", self.logfile))

    def start(self):
        self.log_fh = open(os.path.join(self.dir, "dovecot.stderr"), "ab")
        self.proc = harness._track(subprocess.Popen(
            [harness.program("dovecot"), "-F", "-c", self.conf],
            stdin=subprocess.DEVNULL, stdout=self.log_fh,
            stderr=self.log_fh))
        ports = [self.imap_port, self.pop3_port]
        if self.tls:
            ports += [self.imaps_port, self.pop3s_port]

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("dovecot exited (%s): %s"
                                     % (self.proc.returncode, self.log()))
            return all(harness.is_listening(p) for p in ports)
        harness.wait_until(ready, harness.START_TIMEOUT, what="dovecot")
        return self

    def put_messages(self, user, messages):
        """Write messages (bytes) straight into user's INBOX maildir."""
        base = os.path.join(self.maildir, user, "Maildir")
        for sub in ("tmp", "new", "cur"):
            harness.sub_dir(base, sub, owner="nobody", mode=0o700)
        harness.sub_dir(os.path.dirname(base), os.path.basename(base),
                        owner="nobody", mode=0o700)
        harness.sub_dir(self.maildir, user, owner="nobody", mode=0o700)
        for i, data in enumerate(messages):
            path = os.path.join(base, "new", "%d.%d.postern-test" % (
                1700000000 + i, i))
            with open(path, "wb") as f:
                f.write(data)
            os.chown(path, harness.NOBODY.pw_uid, harness.NOBODY_GID)
