-- stages.lua - miltertest script: postern-milter stage by stage, no MTA.
-- Usage: MILTER=inet:PORT@127.0.0.1 miltertest -s stages.lua
-- Needs the rules of test_milter.py (RULES): a rejected client, HELO
-- and recipient, a header added at the end of the message, TLS known
-- from the MTA's macros, the SASL login from {auth_authen}, the
-- Authentication-Results header of the scripted filter, and a reject
-- after an aborted transaction on the same connection.
local sock = os.getenv("MILTER") or "inet:20891@127.0.0.1"

local function expect(got, want, what)
	if got ~= want then
		io.stderr:write("stages: FAILED: " .. what .. ": got " .. tostring(got) .. "\n")
		error(what .. ": got " .. tostring(got) .. ", want " ..
		      tostring(want))
	end
end

local function open(addr)
	local conn = mt.connect(sock, 40, 0.25)
	if conn == nil then error("mt.connect(" .. sock .. ") failed") end
	if mt.conninfo(conn, "client.test", addr) ~= nil then
		error("conninfo")
	end
	return conn
end

-- 1. a blocked network: refused at connect, with the rule's reply
local conn = open("127.0.0.2")
expect(mt.getreply(conn), SMFIR_REPLYCODE, "connect from 127.0.0.2")
mt.disconnect(conn)

-- 2. a bad HELO
conn = open("127.0.0.1")
expect(mt.getreply(conn), SMFIR_CONTINUE, "connect")
expect(mt.helo(conn, "evil.test"), nil, "helo")
expect(mt.getreply(conn), SMFIR_REPLYCODE, "helo evil.test")
mt.disconnect(conn)

-- 3. a full transaction, an abort, then another on the same connection
conn = open("127.0.0.1")
expect(mt.getreply(conn), SMFIR_CONTINUE, "connect")
expect(mt.helo(conn, "client.test"), nil, "helo")
expect(mt.getreply(conn), SMFIR_CONTINUE, "helo")
mt.macro(conn, SMFIC_MAIL, "i", "MT0001", "{auth_authen}", "")
expect(mt.mailfrom(conn, "<a@example.org>"), nil, "mailfrom")
expect(mt.getreply(conn), SMFIR_CONTINUE, "mailfrom")
expect(mt.rcptto(conn, "<nobody@example.net>"), nil, "rcpt nobody")
expect(mt.getreply(conn), SMFIR_REPLYCODE, "rcpt nobody")
expect(mt.rcptto(conn, "<bob@example.net>"), nil, "rcpt bob")
expect(mt.getreply(conn), SMFIR_CONTINUE, "rcpt bob")
mt.header(conn, "From", "a@example.org")
mt.header(conn, "Subject", "free money")
-- the scripted test filter gives an Authentication-Results entry
mt.header(conn, "X-Test-Auth-Result", "spf pass smtp.mailfrom=example.org")
expect(mt.eoh(conn), nil, "eoh")
expect(mt.bodystring(conn, "hello\r\n"), nil, "body")
expect(mt.eom(conn), nil, "eom")
local r = mt.getreply(conn)
expect(r, SMFIR_CONTINUE, "eom")
-- appended at the end: smfi_addheader
if not mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag", " YES") and
   not mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag", "YES") then
	io.stderr:write("stages: FAILED: no X-Spam-Flag added\n")
	error("no X-Spam-Flag added")
end
if not mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results") then
	io.stderr:write("stages: FAILED: no Authentication-Results\n")
	error("no Authentication-Results inserted")
end
-- the TLS macros reach the rules (client.tls)
mt.macro(conn, SMFIC_MAIL, "i", "MT0002", "{tls_version}", "TLSv1.3",
	 "{cipher}", "TLS_AES_256_GCM_SHA384", "{cipher_bits}", "256")
expect(mt.mailfrom(conn, "<a@example.org>"), nil, "mailfrom tls")
expect(mt.getreply(conn), SMFIR_CONTINUE, "mailfrom tls")
expect(mt.rcptto(conn, "<bob@example.net>"), nil, "rcpt tls")
expect(mt.getreply(conn), SMFIR_CONTINUE, "rcpt tls")
mt.header(conn, "Subject", "tls check")
expect(mt.eoh(conn), nil, "eoh tls")
expect(mt.eom(conn), nil, "eom tls")
expect(mt.getreply(conn), SMFIR_CONTINUE, "eom tls")
if not mt.eom_check(conn, MT_HDRADD, "X-TLS", " yes") and
   not mt.eom_check(conn, MT_HDRADD, "X-TLS", "yes") then
	io.stderr:write("stages: FAILED: TLS macros not seen\n")
	error("TLS macros not seen")
end
-- the MTA's SASL login ({auth_authen}) reaches the rules (client.login)
mt.macro(conn, SMFIC_MAIL, "i", "MT0003", "{auth_authen}", "alice")
expect(mt.mailfrom(conn, "<alice@example.org>"), nil, "mailfrom auth")
expect(mt.getreply(conn), SMFIR_CONTINUE, "mailfrom auth")
expect(mt.rcptto(conn, "<bob@example.net>"), nil, "rcpt auth")
expect(mt.getreply(conn), SMFIR_CONTINUE, "rcpt auth")
mt.header(conn, "Subject", "from alice")
expect(mt.eoh(conn), nil, "eoh auth")
expect(mt.eom(conn), nil, "eom auth")
expect(mt.getreply(conn), SMFIR_CONTINUE, "eom auth")
if not mt.eom_check(conn, MT_HDRADD, "X-Login", " alice") and
   not mt.eom_check(conn, MT_HDRADD, "X-Login", "alice") then
	io.stderr:write("stages: FAILED: {auth_authen} not seen\n")
	error("{auth_authen} not seen")
end
-- an aborted transaction, then one that is refused at its end
expect(mt.mailfrom(conn, "<a@example.org>"), nil, "mailfrom 2")
expect(mt.getreply(conn), SMFIR_CONTINUE, "mailfrom 2")
expect(mt.abort(conn), nil, "abort")
expect(mt.mailfrom(conn, "<a@example.org>"), nil, "mailfrom 3")
expect(mt.getreply(conn), SMFIR_CONTINUE, "mailfrom 3")
expect(mt.rcptto(conn, "<bob@example.net>"), nil, "rcpt 3")
expect(mt.getreply(conn), SMFIR_CONTINUE, "rcpt 3")
mt.header(conn, "Subject", "please tempfail me")
expect(mt.eoh(conn), nil, "eoh 3")
expect(mt.eom(conn), nil, "eom 3")
expect(mt.getreply(conn), SMFIR_REPLYCODE, "eom 3 tempfail")
mt.disconnect(conn)
print("stages: ok")
