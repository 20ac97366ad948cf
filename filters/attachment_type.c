/*
 * attachment_type.c - media types by kind, to tell a declared type that
 * lies from one that is merely vague.  Pure; thread-safe.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "attachment.h"

enum attachment_kind {
	ATT_K_GENERIC, /* octet-stream: says nothing */
	ATT_K_OTHER,   /* a type this table does not know */
	ATT_K_EXEC,
	ATT_K_ARCHIVE,
	ATT_K_ZIPDOC, /* documents that are zip files (docx, odt, jar) */
	ATT_K_OLE,    /* doc, xls, msi */
	ATT_K_TEXT,
	ATT_K_IMAGE,
	ATT_K_AUDIO,
	ATT_K_VIDEO,
	ATT_K_PDF,
	ATT_K_MESSAGE,
};

static const struct {
	const char *type; /* a trailing '*' matches any rest */
	enum attachment_kind kind;
} attachment_kinds[] = {
	{ "application/octet-stream", ATT_K_GENERIC },
	{ "application/x-download", ATT_K_GENERIC },
	{ "application/force-download", ATT_K_GENERIC },
	{ "application/unknown", ATT_K_GENERIC },
	{ "application/binary", ATT_K_GENERIC },
	{ "binary/octet-stream", ATT_K_GENERIC },
	{ "inode/x-empty", ATT_K_GENERIC },
	{ "application/x-dosexec", ATT_K_EXEC },
	{ "application/vnd.microsoft.portable-executable", ATT_K_EXEC },
	{ "application/x-msdownload", ATT_K_EXEC },
	{ "application/x-msdos-program", ATT_K_EXEC },
	{ "application/x-ms-dos-executable", ATT_K_EXEC },
	{ "application/x-executable", ATT_K_EXEC },
	{ "application/x-sharedlib", ATT_K_EXEC },
	{ "application/x-pie-executable", ATT_K_EXEC },
	{ "application/x-mach-binary", ATT_K_EXEC },
	{ "application/zip", ATT_K_ARCHIVE },
	{ "application/x-zip-compressed", ATT_K_ARCHIVE },
	{ "application/x-zip", ATT_K_ARCHIVE },
	{ "application/x-7z-compressed", ATT_K_ARCHIVE },
	{ "application/x-rar", ATT_K_ARCHIVE },
	{ "application/x-rar-compressed", ATT_K_ARCHIVE },
	{ "application/vnd.rar", ATT_K_ARCHIVE },
	{ "application/x-tar", ATT_K_ARCHIVE },
	{ "application/x-gtar", ATT_K_ARCHIVE },
	{ "application/gzip", ATT_K_ARCHIVE },
	{ "application/x-gzip", ATT_K_ARCHIVE },
	{ "application/x-bzip2", ATT_K_ARCHIVE },
	{ "application/x-xz", ATT_K_ARCHIVE },
	{ "application/zstd", ATT_K_ARCHIVE },
	{ "application/x-iso9660-image", ATT_K_ARCHIVE },
	{ "application/x-cpio", ATT_K_ARCHIVE },
	{ "application/vnd.ms-cab-compressed", ATT_K_ARCHIVE },
	{ "application/x-lha", ATT_K_ARCHIVE },
	{ "application/x-lzh-compressed", ATT_K_ARCHIVE },
	{ "application/vnd.openxmlformats-*", ATT_K_ZIPDOC },
	{ "application/vnd.oasis.opendocument.*", ATT_K_ZIPDOC },
	{ "application/vnd.ms-word.*", ATT_K_ZIPDOC },
	{ "application/vnd.ms-excel.*", ATT_K_ZIPDOC },
	{ "application/vnd.ms-powerpoint.*", ATT_K_ZIPDOC },
	{ "application/java-archive", ATT_K_ZIPDOC },
	{ "application/x-java-archive", ATT_K_ZIPDOC },
	{ "application/epub+zip", ATT_K_ZIPDOC },
	{ "application/vnd.android.package-archive", ATT_K_ZIPDOC },
	{ "application/msword", ATT_K_OLE },
	{ "application/vnd.ms-excel", ATT_K_OLE },
	{ "application/vnd.ms-powerpoint", ATT_K_OLE },
	{ "application/vnd.ms-office", ATT_K_OLE },
	{ "application/vnd.ms-outlook", ATT_K_OLE },
	{ "application/x-ole-storage", ATT_K_OLE },
	{ "application/cdfv2", ATT_K_OLE },
	{ "application/x-msi", ATT_K_OLE },
	{ "application/vnd.ms-msi", ATT_K_OLE },
	{ "application/pdf", ATT_K_PDF },
	{ "application/json", ATT_K_TEXT },
	{ "application/xml", ATT_K_TEXT },
	{ "application/xhtml+xml", ATT_K_TEXT },
	{ "application/rtf", ATT_K_TEXT },
	{ "application/x-sh", ATT_K_TEXT },
	{ "image/svg+xml", ATT_K_TEXT },
	{ "message/rfc822", ATT_K_MESSAGE },
	{ "message/global", ATT_K_MESSAGE },
	{ "text/*", ATT_K_TEXT },
	{ "image/*", ATT_K_IMAGE },
	{ "audio/*", ATT_K_AUDIO },
	{ "video/*", ATT_K_VIDEO },
};

static enum attachment_kind
attachment_kind(const char *type)
{
	if (type == NULL || type[0] == '\0')
		return ATT_K_GENERIC;
	for (size_t i = 0;
	     i < sizeof(attachment_kinds) / sizeof(attachment_kinds[0]); i++) {
		const char *t = attachment_kinds[i].type;
		size_t tl = strlen(t);

		if (t[tl - 1] == '*' ? strncasecmp(type, t, tl - 1) == 0
				     : strcasecmp(type, t) == 0)
			return attachment_kinds[i].kind;
	}
	return ATT_K_OTHER;
}

bool
attachment_type_is_archive(const char *type)
{
	return attachment_kind(type) == ATT_K_ARCHIVE;
}

bool
attachment_type_is_message(const char *type)
{
	return attachment_kind(type) == ATT_K_MESSAGE;
}

bool
attachment_type_mismatch(const char *declared, const char *sniffed)
{
	enum attachment_kind d = attachment_kind(declared);
	enum attachment_kind s = attachment_kind(sniffed);

	if (d == ATT_K_GENERIC || s == ATT_K_GENERIC || d == s)
		return false;
	/* a program is a program whatever else the sender calls it */
	if (s == ATT_K_EXEC)
		return true;
	if (d == ATT_K_OTHER || s == ATT_K_OTHER)
		return false;
	/* docx sniffed as plain zip; eml sniffed as text */
	if ((d == ATT_K_ZIPDOC && s == ATT_K_ARCHIVE) ||
	    (d == ATT_K_ARCHIVE && s == ATT_K_ZIPDOC) ||
	    (d == ATT_K_MESSAGE && s == ATT_K_TEXT) ||
	    (d == ATT_K_TEXT && s == ATT_K_MESSAGE) ||
	    (d == ATT_K_ZIPDOC && s == ATT_K_OLE) ||
	    (d == ATT_K_OLE && s == ATT_K_ZIPDOC))
		return false;
	return true;
}
