-- negotiate.lua - miltertest script: what postern-milter asks of the MTA.
-- Usage: MILTER=inet:PORT@127.0.0.1 miltertest -s negotiate.lua
-- It must ask for the modifications the chain can make (headers, body,
-- recipients, quarantine) and nothing else (no sender change), must skip
-- the steps it never uses (DATA, unknown commands), and must not ask
-- for what the MTA does not offer.
local sock = os.getenv("MILTER") or "inet:20891@127.0.0.1"

-- (miltertest swallows error() texts and buffered output: say it on
-- stderr first)
local function check(cond, what)
	if not cond then
		io.stderr:write("negotiate: FAILED: " .. what .. "\n")
		error(what)
	end
end

local all_actions = SMFIF_ADDHDRS + SMFIF_CHGBODY + SMFIF_ADDRCPT +
	SMFIF_DELRCPT + SMFIF_CHGHDRS + SMFIF_QUARANTINE + SMFIF_CHGFROM +
	SMFIF_ADDRCPT_PAR + SMFIF_SETSYMLIST
local all_steps = SMFIP_NOCONNECT + SMFIP_NOHELO + SMFIP_NOMAIL +
	SMFIP_NORCPT + SMFIP_NOBODY + SMFIP_NOHDRS + SMFIP_NOEOH +
	SMFIP_NR_HDR + SMFIP_NOUNKNOWN + SMFIP_NODATA + SMFIP_SKIP +
	SMFIP_RCPT_REJ + SMFIP_NR_CONN + SMFIP_NR_HELO + SMFIP_NR_MAIL +
	SMFIP_NR_RCPT + SMFIP_NR_DATA + SMFIP_NR_UNKN + SMFIP_NR_EOH +
	SMFIP_NR_BODY + SMFIP_HDR_LEADSPC

local conn = mt.connect(sock, 40, 0.25)
check(conn ~= nil, "mt.connect failed")
-- miltertest 1.0 (opendkim 2.11) sends its third argument as the steps
-- and its fourth as the actions, the other way round from its manual
check(mt.negotiate(conn, 6, all_steps, all_actions) == nil, "negotiate")
for _, a in ipairs({ SMFIF_ADDHDRS, SMFIF_CHGHDRS, SMFIF_CHGBODY,
		     SMFIF_ADDRCPT, SMFIF_DELRCPT, SMFIF_QUARANTINE }) do
	check(mt.test_action(conn, a), "action " .. a .. " not asked for")
end
check(not mt.test_action(conn, SMFIF_CHGFROM), "asked to change the sender")
check(not mt.test_action(conn, SMFIF_ADDRCPT_PAR), "asked for ADDRCPT_PAR")
for _, o in ipairs({ SMFIP_NOUNKNOWN, SMFIP_NODATA, SMFIP_HDR_LEADSPC,
		     SMFIP_NR_HDR, SMFIP_NR_BODY }) do
	check(mt.test_option(conn, o), "option " .. o .. " not asked for")
end
for _, o in ipairs({ SMFIP_NOCONNECT, SMFIP_NOHELO, SMFIP_NOMAIL,
		     SMFIP_NORCPT, SMFIP_NOBODY, SMFIP_NOHDRS,
		     SMFIP_NOEOH }) do
	check(not mt.test_option(conn, o), "skips a stage it needs: " .. o)
end
mt.disconnect(conn)

-- an MTA that offers little: ask for no more than that, and work
conn = mt.connect(sock, 40, 0.25)
check(conn ~= nil, "mt.connect 2 failed")
check(mt.negotiate(conn, 6, SMFIP_NOUNKNOWN, SMFIF_ADDHDRS) == nil,
      "negotiate 2")
check(mt.test_action(conn, SMFIF_ADDHDRS), "ADDHDRS not asked for")
check(not mt.test_action(conn, SMFIF_CHGBODY), "CHGBODY not offered")
check(not mt.test_option(conn, SMFIP_HDR_LEADSPC), "LEADSPC not offered")
check(mt.conninfo(conn, "client.test", "127.0.0.1") == nil, "conninfo")
check(mt.getreply(conn) == SMFIR_CONTINUE, "connect")
check(mt.helo(conn, "client.test") == nil, "helo")
check(mt.getreply(conn) == SMFIR_CONTINUE, "helo reply")
check(mt.mailfrom(conn, "<a@example.org>") == nil, "mailfrom")
check(mt.getreply(conn) == SMFIR_CONTINUE, "mailfrom reply")
check(mt.rcptto(conn, "<bob@example.net>") == nil, "rcpt")
check(mt.getreply(conn) == SMFIR_CONTINUE, "rcpt reply")
check(mt.header(conn, "Subject", "free money") == nil, "header")
check(mt.getreply(conn) == SMFIR_CONTINUE, "header reply")
check(mt.eoh(conn) == nil, "eoh")
check(mt.getreply(conn) == SMFIR_CONTINUE, "eoh reply")
check(mt.bodystring(conn, "hi\r\n") == nil, "body")
check(mt.getreply(conn) == SMFIR_CONTINUE, "body reply")
check(mt.eom(conn) == nil, "eom")
check(mt.getreply(conn) == SMFIR_CONTINUE, "eom reply")
check(mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag", "YES"),
      "X-Spam-Flag without leading space")
mt.disconnect(conn)
print("negotiate: ok")
