/*
 * pop3_parse.c - POP3 command lines (see pop3_parse.h).
 */
#include "config.h"

#include <string.h>

#include "pop3_parse.h"

int
pop3_parse_command(const char *line, size_t len, struct pop3_cmd *cmd,
		   const char **error_r)
{
	size_t i = 0, start;

	memset(cmd, 0, sizeof(*cmd));
	for (size_t j = 0; j < len; j++) {
		unsigned char c = (unsigned char)line[j];

		if (c < 0x20 || c == 0x7f) {
			*error_r = "Invalid characters in command";
			return -1;
		}
	}
	while (i < len && i <= POP3_MAX_KEYWORD &&
	       ((line[i] | 0x20) >= 'a' && (line[i] | 0x20) <= 'z'))
		i++;
	if (i == 0 || i > POP3_MAX_KEYWORD || (i < len && line[i] != ' ')) {
		*error_r = "Invalid command";
		return -1;
	}
	cmd->keyword = (struct pst_str){ line, i };
	if (i == len)
		return 0;
	i++;
	cmd->rest = (struct pst_str){ line + i, len - i };
	while (i < len) {
		start = i;
		while (i < len && line[i] != ' ')
			i++;
		if (i == start) {
			*error_r = "Invalid spacing between arguments";
			return -1;
		}
		if (cmd->nargs >= POP3_MAX_ARGS) {
			*error_r = "Too many arguments";
			return -1;
		}
		cmd->args[cmd->nargs++] =
			(struct pst_str){ line + start, i - start };
		if (i < len) {
			i++;
			if (i == len) {
				*error_r = "Invalid spacing between arguments";
				return -1;
			}
		}
	}
	return 0;
}
