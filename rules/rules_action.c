/*
 * rules_action.c - actions as they apply: the {variable} interpolation of
 * their texts and the sanitising that makes a text safe for where it
 * goes.
 *
 * Interpolated values come from the message and the client, so they are
 * hostile: a reply text must stay one SMTP line (printable ASCII, no CR
 * or LF, bounded so that code, enhanced code and text fit 512 bytes), a
 * header value must not fold or end the header, a log line must not
 * forge another.  Whatever is not printable ASCII becomes '?' (a whole
 * UTF-8 character as one '?'), tabs and line breaks become spaces.
 */
#include "config.h"

#include <string.h>

#include "rules_int.h"
#include "utf8.h"

bool
rules_action_is_terminal(enum rules_action_kind kind)
{
	return kind <= RULES_ACT_QUARANTINE;
}

const char *
rules_action_name(enum rules_action_kind kind)
{
	static const char *const names[] = {
		"accept",     "reject",	    "tempfail",	     "discard",
		"quarantine", "add-header", "remove-header", "score",
		"tag",	      "log",	    "stop",	     "strip-attachment",
		"banner",
	};

	return (unsigned)kind < sizeof(names) / sizeof(names[0]) ? names[kind]
								 : "?";
}

/* Printable ASCII, one '?' per other character, blanks for breaks;
 * leading and trailing blanks dropped; at most max bytes. */
static char *
sanitise(struct pst_arena *arena, const char *s, size_t len, size_t max)
{
	char *out = pst_arena_alloc(arena, (len < max ? len : max) + 1);
	size_t o = 0, i = 0;

	if (out == NULL)
		return NULL;
	while (i < len && o < max) {
		unsigned char ch = (unsigned char)s[i];

		if (ch >= 0x20 && ch < 0x7f) {
			out[o++] = (char)ch;
			i++;
		} else if (ch == '\t' || ch == '\r' || ch == '\n') {
			out[o++] = ' ';
			i++;
		} else {
			size_t n =
				ch >= 0x80
					? pst_utf8_seq_len(
						  (const unsigned char *)s + i,
						  len - i)
					: 0;

			out[o++] = '?';
			i += n > 0 ? n : 1;
		}
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
	i = 0;
	while (out[i] == ' ')
		i++;
	return out + i;
}

/* For notices and banners, which go into the message's text: valid
 * UTF-8 and line breaks kept, tabs as blanks, other controls and
 * invalid bytes '?'; cut on a character boundary at max bytes. */
static char *
sanitise_text(struct pst_arena *arena, const char *s, size_t len, size_t max)
{
	char *out = pst_arena_alloc(arena, (len < max ? len : max) + 1);
	size_t o = 0, i = 0;

	if (out == NULL)
		return NULL;
	while (i < len && o < max) {
		unsigned char ch = (unsigned char)s[i];
		size_t n =
			ch >= 0x80
				? pst_utf8_seq_len((const unsigned char *)s + i,
						   len - i)
				: 1;

		if (ch >= 0x80 && n > 0) {
			if (o + n > max)
				break;
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
			continue;
		}
		if (ch == '\r') {
			i++;
			continue;
		}
		out[o++] = ch == '\n'		     ? '\n'
			   : ch == '\t'		     ? ' '
			   : ch >= 0x20 && ch < 0x7f ? (char)ch
						     : '?';
		i++;
	}
	out[o] = '\0';
	return out;
}

static void
interpolate(struct pst_buf *b, struct rules_run *run,
	    const struct rules_rule *rule, const struct rules_seg *seg)
{
	const struct rules_value *v;
	char ip[64];

	if (seg->rule) {
		pst_buf_append_cstr(b, rule->name);
		return;
	}
	if (seg->var.def == NULL) {
		pst_buf_append(b, seg->lit.p, seg->lit.len);
		return;
	}
	v = rules_run_value(run, &seg->var);
	for (size_t i = 0; i < v->n && i < RULES_INTERP_LIST_MAX; i++) {
		if (i > 0)
			pst_buf_append_cstr(b, ", ");
		switch (v->type) {
		case RULES_T_STRING: {
			const struct pst_str *s = v->list.str != NULL
							  ? &v->list.str[i]
							  : &v->one.str;

			/* the buffer's limit bounds what a huge value costs */
			pst_buf_append(b, s->p,
				       s->len < RULES_HEADER_VALUE_MAX
					       ? s->len
					       : RULES_HEADER_VALUE_MAX);
			break;
		}
		case RULES_T_NUMBER:
			pst_buf_printf(b, "%.15g",
				       v->list.num != NULL ? v->list.num[i]
							   : v->one.num);
			break;
		case RULES_T_BOOL:
			pst_buf_append_cstr(
				b, (v->list.b != NULL ? v->list.b[i] : v->one.b)
					   ? "true"
					   : "false");
			break;
		case RULES_T_IP:
			pst_buf_append_cstr(
				b,
				rules_ip_str(v->list.ip != NULL ? &v->list.ip[i]
								: &v->one.ip,
					     ip, sizeof(ip)));
			break;
		}
	}
	if (v->n > RULES_INTERP_LIST_MAX)
		pst_buf_append_cstr(b, ", ...");
}

static const char *
action_text(struct rules_run *run, const struct rules_rule *rule,
	    const struct rules_text *text, size_t max, bool body)
{
	struct pst_buf b;
	const char *out;

	/* room for the sanitiser to see past max (and cut there) */
	pst_buf_init(&b, 0);
	for (size_t i = 0; i < text->n && b.len <= max; i++)
		interpolate(&b, run, rule, &text->segs[i]);
	out = (body ? sanitise_text : sanitise)(
		rules_run_arena(run), b.data != NULL ? b.data : "", b.len, max);
	pst_buf_free(&b);
	return out;
}

const char *
rules_action_text(struct rules_run *run, const struct rules_rule *rule,
		  const struct rules_text *text, size_t max)
{
	return action_text(run, rule, text, max, false);
}

int
rules_action_build(struct rules_run *run, const struct rules_rule *rule,
		   const struct rules_action *a,
		   struct rules_action_result *res)
{
	const char *text = NULL;

	memset(res, 0, sizeof(*res));
	res->kind = a->kind;
	res->rule = rule->name;
	if (a->has_text) {
		bool body = a->kind == RULES_ACT_STRIP_ATTACHMENT ||
			    a->kind == RULES_ACT_BANNER;

		text = action_text(run, rule, &a->text,
				   a->kind == RULES_ACT_ADD_HEADER
					   ? RULES_HEADER_VALUE_MAX
				   : body ? RULES_NOTICE_MAX
					  : RULES_TEXT_MAX,
				   body);
		if (text == NULL)
			return -1;
	}
	switch (a->kind) {
	case RULES_ACT_REJECT:
	case RULES_ACT_TEMPFAIL:
		res->code = a->code;
		res->enhanced = a->enhanced;
		res->text = text != NULL && text[0] != '\0' ? text
			    : a->kind == RULES_ACT_REJECT
				    ? "Message rejected by policy"
				    : "Try again later";
		break;
	case RULES_ACT_QUARANTINE:
		res->text = text != NULL && text[0] != '\0' ? text : rule->name;
		break;
	case RULES_ACT_LOG:
	case RULES_ACT_ADD_HEADER:
		res->text = text != NULL ? text : "";
		res->header = a->header;
		break;
	case RULES_ACT_REMOVE_HEADER:
		res->header = a->header;
		break;
	case RULES_ACT_SCORE:
		res->score = a->score;
		break;
	case RULES_ACT_TAG:
		res->text = a->tag;
		break;
	case RULES_ACT_STRIP_ATTACHMENT:
		res->text = text != NULL && text[0] != '\0'
				    ? text
				    : "An attachment was removed by the mail "
				      "gateway's policy.";
		res->parts =
			rules_run_parts(run, &res->nparts, &res->parts_unknown);
		break;
	case RULES_ACT_BANNER:
		res->text = text != NULL ? text : "";
		res->bottom = a->bottom;
		break;
	default:
		break;
	}
	return 0;
}
