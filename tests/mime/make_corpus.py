#!/usr/bin/env python3
"""Writes the MIME test corpus, tests/data/mime/*.eml and *.expect.json.

    python3 tests/mime/make_corpus.py [OUTPUT_DIR]

The corpus is deterministic: no clock, no unseeded randomness, so running
this again reproduces the committed files byte for byte (a reviewer can
regenerate and diff).  Messages are written by hand as text, not through
Python's email package, so the corpus does not inherit that package's
idea of what a message looks like.

Four categories, named CATEGORY-NNN-what.eml:
  legal   well-formed messages of every common shape
  tricky  legal but unusual: the corners of RFC 2045/2046/2047/2231/5322
  broken  malformed the way real mail is malformed
  hostile shapes used to slip attachments past gateways

Each message has NAME.expect.json, what a rule MUST see in the output of
`postern mime --json` (checked by differential.py):
  must_see_filenames   every entry (a name, or a list of acceptable
                       alternatives) must be among the filenames of some
                       part; trailing dots and spaces are ignored on both
                       sides (Windows drops them too)
  should_see_filenames the same but only warned about: shapes where the
                       mail clients disagree about what is there
  must_see_types       content types some part must have
  must_see_sha256      decoded contents some leaf part must have
  must_have_defects    the output must list at least one defect; "limit"
                       means a limit_* defect (a message the gateway
                       refuses by default)
  must_see_unless_limit
                       the must-see checks are waived when a limit_*
                       defect is reported: refusing is a safe outcome
  min_parts            at least this many parts in the tree
  notes                what the message is about, for the reader
"""

import base64
import hashlib
import io
import json
import os
import random
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "data", "mime"))

# ---------------------------------------------------------------------------
# Payloads: small, fixed, recognisable.


def rnd(seed, n):
    """n pseudo-random bytes, the same on every run."""
    return random.Random(seed).randbytes(n)


PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
       b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
       b"trailer << /Root 1 0 R >>\n%%EOF\n")

EXE = (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
       b"\xb8" + b"\x00" * 7 + b"\x40" + b"\x00" * 35 + b"\x80\x00\x00\x00"
       b"\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21\xb8\x01\x4c\xcd\x21"
       b"This program cannot be run in DOS mode.\r\r\n$" + b"\x00" * 7 +
       b"PE\x00\x00\x4c\x01" + rnd(1, 200))

# A real 1x1 PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e5273a"
    "f50000000049454e44ae426082")

GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!" \
      b"\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00" \
      b"\x00\x02\x02D\x01\x00;"


def make_zip(files):
    """A stored (uncompressed) zip with fixed timestamps."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, data in files:
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 12, 0, 0))
            info.external_attr = 0o644 << 16
            z.writestr(info, data)
    return buf.getvalue()


ZIP = make_zip([("readme.txt", b"hello from a zip\n"),
                ("data.bin", rnd(2, 64))])
ZIP_EXE = make_zip([("invoice.exe", EXE)])
DOCX = make_zip([
    ("[Content_Types].xml",
     b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.'
     b'openxmlformats.org/package/2006/content-types"/>'),
    ("word/document.xml",
     b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxml'
     b'formats.org/wordprocessingml/2006/main"><w:body/></w:document>'),
])
BIN = rnd(3, 300)
# BIN without line-break bytes: its QP form is the same in CRLF and LF files.
QP_BIN = BIN.replace(b"\n", b"\x00").replace(b"\r", b"\x01")
ICS = ("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//postern//corpus//EN\n"
       "METHOD:REQUEST\nBEGIN:VEVENT\nUID:corpus-1@example.test\n"
       "DTSTAMP:20240101T120000Z\nDTSTART:20240102T090000Z\n"
       "DTEND:20240102T100000Z\nSUMMARY:Planning\n"
       "ORGANIZER:mailto:alice@example.test\nEND:VEVENT\nEND:VCALENDAR\n")

TEXT = "Hello Bob,\n\nplease find the report attached.\n\nAlice\n"
HTML = ("<html><body><p>Hello Bob,</p><p>please find the report "
        "attached.</p><p>Alice</p></body></html>\n")


def sha(data):
    return hashlib.sha256(data).hexdigest()


def b64(data, width=76):
    """base64 in lines of width characters, each ending in a newline."""
    s = base64.b64encode(data).decode("ascii")
    return "".join(s[i:i + width] + "\n" for i in range(0, len(s), width))


def uuencode(data, name, mode="644"):
    """A uuencoded block (begin ... end) as text."""
    import binascii
    lines = ["begin %s %s\n" % (mode, name)]
    for i in range(0, len(data), 45):
        lines.append(binascii.b2a_uu(data[i:i + 45]).decode("ascii"))
    lines.append("`\nend\n")
    return "".join(lines)


# ---------------------------------------------------------------------------
# Building messages.  A message is a list of str and bytes items; str is
# written as UTF-8 (or latin-1 where asked) with "\n" turned into CRLF for
# CRLF messages; bytes are written as they are.


class Raw(bytes):
    """Bytes written as they are, no line-ending conversion."""


def hdr(subject, extra="", frm="Alice <alice@example.test>",
        to="Bob <bob@example.test>", mid=None, mime=True):
    """The usual top-level headers; extra lines are appended as given."""
    mid = mid or "<%08x@example.test>" % (hash_str(subject) & 0xffffffff)
    s = ("From: %s\nTo: %s\nSubject: %s\n"
         "Date: Mon, 01 Jan 2024 12:00:00 +0000\nMessage-ID: %s\n"
         % (frm, to, subject, mid))
    if mime:
        s += "MIME-Version: 1.0\n"
    return s + extra


def hash_str(s):
    return int.from_bytes(hashlib.sha256(s.encode()).digest()[:4], "big")


def part(headers, body):
    """One body part: header lines, the blank line, the body."""
    if headers and not headers.endswith("\n"):
        headers += "\n"
    return headers + "\n" + body


def multipart(boundary, parts, preamble="", epilogue="", close=True):
    """A multipart body.  Each part is followed by the newline that belongs
    to the next delimiter, so a part body "x" has the content "x"."""
    out = [preamble]
    for p in parts:
        out.append("--%s\n" % boundary)
        out.extend(p if isinstance(p, list) else [p])
        out.append("\n")
    if close:
        out.append("--%s--\n" % boundary)
    out.append(epilogue)
    return out


def att(ctype, name, data, disp="attachment", cte="base64", extra=""):
    """An attachment part with name= and filename=."""
    h = 'Content-Type: %s; name="%s"\n' % (ctype, name)
    if disp:
        h += 'Content-Disposition: %s; filename="%s"\n' % (disp, name)
    h += "Content-Transfer-Encoding: %s\n" % cte + extra
    return part(h, encode_body(data, cte))


def encode_body(data, cte):
    if cte == "base64":
        return b64(data)
    if cte == "quoted-printable":
        return qp(data)
    raise ValueError(cte)


def qp(data):
    """Quoted-printable with soft breaks at 76 columns (bytes in)."""
    out, line = [], ""
    for b in data:
        if b == 10:
            # Trailing white space is removed by decoders: encode it.
            if line[-1:] in (" ", "\t"):
                line = line[:-1] + "=%02X" % ord(line[-1])
            out.append(line + "\n")
            line = ""
            continue
        if (33 <= b <= 126 and b != 61) or b == 32:
            tok = chr(b)
        else:
            tok = "=%02X" % b
        if len(line) + len(tok) > 75:
            out.append(line + "=\n")
            line = ""
        line += tok
    if line:
        out.append(line)
    return "".join(out)


def text_part(body=TEXT, ctype="text/plain; charset=utf-8", cte="7bit"):
    return part("Content-Type: %s\nContent-Transfer-Encoding: %s\n"
                % (ctype, cte), body)


def html_part(body=HTML):
    return part("Content-Type: text/html; charset=utf-8\n"
                "Content-Transfer-Encoding: 7bit\n", body)


def alternative(boundary, text=TEXT, html=HTML):
    return [part('Content-Type: multipart/alternative; boundary="%s"\n'
                 % boundary, "")] + multipart(boundary, [text_part(text),
                                                         html_part(html)])


def flatten(items):
    out = []
    for it in items:
        if isinstance(it, list):
            out.extend(flatten(it))
        else:
            out.append(it)
    return out


def render(items, crlf=True, charset="utf-8"):
    out = []
    for it in flatten(items):
        if isinstance(it, Raw) or isinstance(it, bytes):
            out.append(bytes(it))
        else:
            s = it.replace("\n", "\r\n") if crlf else it
            out.append(s.encode(charset, "surrogateescape"))
    return b"".join(out)


# ---------------------------------------------------------------------------
# The registry.

CORPUS = []  # (category, slug, builder)


def msg(category, slug, **expect):
    def deco(fn):
        CORPUS.append((category, slug, fn, expect))
        return fn
    return deco


def mixed(subject, parts, boundary="=_mixed_0001", crlf=True, extra="",
          preamble="This is a multi-part message in MIME format.\n",
          epilogue=""):
    return render([hdr(subject, 'Content-Type: multipart/mixed; '
                       'boundary="%s"\n' % boundary + extra), "\n"] +
                  multipart(boundary, parts, preamble, epilogue), crlf)


# ===========================================================================
# legal

@msg("legal", "simple-text", min_parts=1,
     notes="one text/plain part, CRLF")
def _():
    return render([hdr("simple", "Content-Type: text/plain; charset=us-ascii"
                       "\nContent-Transfer-Encoding: 7bit\n"), "\n", TEXT])


@msg("legal", "simple-text-lf", min_parts=1,
     notes="one text/plain part, LF line endings")
def _():
    return render([hdr("simple", "Content-Type: text/plain; charset=us-ascii"
                       "\n"), "\n", TEXT], crlf=False)


@msg("legal", "no-content-type", min_parts=1,
     notes="no MIME headers at all: the default text/plain; charset=us-ascii")
def _():
    return render([hdr("plain old mail", mime=False), "\n", TEXT])


@msg("legal", "html-alternative", min_parts=3,
     notes="multipart/alternative with text and html")
def _():
    return render([hdr("alt", 'Content-Type: multipart/alternative; '
                       'boundary="alt-1"\n'), "\n"] +
                  multipart("alt-1", [text_part(), html_part()]))


@msg("legal", "html-alternative-lf", min_parts=3,
     notes="multipart/alternative, LF line endings")
def _():
    return render([hdr("alt", 'Content-Type: multipart/alternative; '
                       'boundary="alt-1"\n'), "\n"] +
                  multipart("alt-1", [text_part(), html_part()]), crlf=False)


@msg("legal", "mixed-pdf", must_see_filenames=["report.pdf"],
     must_see_sha256=[sha(PDF)], min_parts=3)
def _():
    return mixed("pdf", [alternative("alt-2"),
                         att("application/pdf", "report.pdf", PDF)])


@msg("legal", "mixed-zip", must_see_filenames=["archive.zip"],
     must_see_sha256=[sha(ZIP)], min_parts=3)
def _():
    return mixed("zip", [text_part(), att("application/zip", "archive.zip",
                                          ZIP)])


@msg("legal", "mixed-exe", must_see_filenames=["setup.exe"],
     must_see_sha256=[sha(EXE)], min_parts=3)
def _():
    return mixed("exe", [text_part(), att("application/x-msdownload",
                                          "setup.exe", EXE)])


@msg("legal", "mixed-docx", must_see_filenames=["letter.docx"],
     must_see_sha256=[sha(DOCX)], min_parts=3)
def _():
    return mixed("docx", [text_part(), att(
        "application/vnd.openxmlformats-officedocument."
        "wordprocessingml.document", "letter.docx", DOCX)])


def four_attachments():
    return [alternative("alt-3"),
            att("application/pdf", "report.pdf", PDF),
            att("application/zip", "archive.zip", ZIP),
            att("application/octet-stream", "tool.exe", EXE),
            att("application/vnd.openxmlformats-officedocument."
                "wordprocessingml.document", "letter.docx", DOCX)]


@msg("legal", "mixed-four-attachments", min_parts=8,
     must_see_filenames=["report.pdf", "archive.zip", "tool.exe",
                         "letter.docx"])
def _():
    return mixed("four", four_attachments())


@msg("legal", "mixed-four-attachments-lf", min_parts=8,
     must_see_filenames=["report.pdf", "archive.zip", "tool.exe",
                         "letter.docx"],
     notes="the same as mixed-four-attachments with LF line endings")
def _():
    return mixed("four", four_attachments(), crlf=False)


def nested(depth, leaf, kinds=("mixed", "alternative", "related",
                               "mixed", "mixed")):
    """depth nested multiparts, the leaf at the bottom next to a text."""
    items = leaf
    for d in range(depth - 1, -1, -1):
        b = "nest-%d" % d
        items = ([part('Content-Type: multipart/%s; boundary="%s"\n'
                       % (kinds[d % len(kinds)], b), "")] +
                 multipart(b, [text_part("level %d\n" % d), items]))
    return items


@msg("legal", "nested-3", must_see_filenames=["deep3.pdf"], min_parts=7)
def _():
    body = nested(3, att("application/pdf", "deep3.pdf", PDF))
    return render([hdr("nested 3")] + body)


@msg("legal", "nested-4", must_see_filenames=["deep4.zip"], min_parts=9)
def _():
    body = nested(4, att("application/zip", "deep4.zip", ZIP))
    return render([hdr("nested 4")] + body)


@msg("legal", "nested-5", must_see_filenames=["deep5.exe"], min_parts=11,
     notes="five levels of multipart, LF")
def _():
    body = nested(5, att("application/octet-stream", "deep5.exe", EXE))
    return render([hdr("nested 5")] + body, crlf=False)


@msg("legal", "mixed-related-alternative", min_parts=6,
     must_see_filenames=["logo.png", "terms.pdf"],
     notes="the Outlook shape: mixed(related(alternative(text, html), "
     "inline image), attachment)")
def _():
    rel = [part('Content-Type: multipart/related; boundary="rel-1"; '
                'type="multipart/alternative"\n', "")] + multipart(
        "rel-1", [alternative("alt-4", html='<img src="cid:logo@x">\n'),
                  part('Content-Type: image/png; name="logo.png"\n'
                       'Content-Transfer-Encoding: base64\n'
                       'Content-ID: <logo@x>\n'
                       'Content-Disposition: inline; filename="logo.png"\n',
                       b64(PNG))])
    return mixed("outlook", [rel, att("application/pdf", "terms.pdf", PDF)])


def forwarded(subject, parts, boundary="fwd-inner"):
    """An embedded message: headers and a multipart/mixed body."""
    return ([hdr(subject, 'Content-Type: multipart/mixed; boundary="%s"\n'
                 % boundary, frm="Carol <carol@example.test>"), "\n"] +
            multipart(boundary, parts))


def rfc822(inner, ctype="message/rfc822", extra=""):
    return [part("Content-Type: %s\n%s" % (ctype, extra), "")] + inner


@msg("legal", "rfc822-forward", min_parts=4,
     notes="a forwarded message as message/rfc822 with a text body")
def _():
    inner = [hdr("original", "Content-Type: text/plain; charset=utf-8\n",
                 frm="Carol <carol@example.test>"), "\n", TEXT]
    return mixed("Fwd: original", [text_part("see below\n"),
                                   rfc822(inner)])


@msg("legal", "rfc822-forward-attachments", min_parts=6,
     must_see_filenames=["inner.pdf", "inner.zip"],
     notes="forwarded message/rfc822 carrying its own attachments")
def _():
    inner = forwarded("original", [text_part(),
                                   att("application/pdf", "inner.pdf", PDF),
                                   att("application/zip", "inner.zip", ZIP)])
    return mixed("Fwd: original", [text_part("see below\n"),
                                   rfc822(inner, extra='Content-Disposition:'
                                          ' attachment; filename='
                                          '"original.eml"\n')])


@msg("legal", "rfc822-forward-lf", min_parts=6,
     must_see_filenames=["inner.pdf", "inner.zip"],
     notes="forwarded message with attachments, LF")
def _():
    inner = forwarded("original", [text_part(),
                                   att("application/pdf", "inner.pdf", PDF),
                                   att("application/zip", "inner.zip", ZIP)])
    return mixed("Fwd: original", [text_part("see below\n"),
                                   rfc822(inner)], crlf=False)


@msg("legal", "rfc822-top-level-body", min_parts=3,
     must_see_filenames=["a.pdf"],
     notes="the whole body of the message is a message/rfc822")
def _():
    inner = forwarded("inner", [text_part(), att("application/pdf", "a.pdf",
                                                 PDF)])
    return render([hdr("bounce", "Content-Type: message/rfc822\n"), "\n"] +
                  inner)


@msg("legal", "rfc822-twice", min_parts=8,
     must_see_filenames=["level2.docx"],
     notes="forward of a forward: message/rfc822 inside message/rfc822")
def _():
    inner2 = forwarded("second", [text_part(), att(
        "application/octet-stream", "level2.docx", DOCX)], boundary="in-2")
    inner1 = forwarded("first", [text_part("fwd 1\n"), rfc822(inner2)],
                       boundary="in-1")
    return mixed("Fwd: Fwd:", [text_part("fwd 0\n"), rfc822(inner1)])


@msg("legal", "message-global", min_parts=4,
     must_see_filenames=["résumé.pdf"],
     notes="message/global (RFC 6532): embedded message with raw UTF-8 "
     "headers")
def _():
    inner = ["From: José <jose@exämple.test>\nTo: bob@example.test\n"
             "Subject: Grüße aus Köln\nMIME-Version: 1.0\n"
             'Content-Type: multipart/mixed; boundary="g-1"\n\n'] + \
        multipart("g-1", [text_part("Grüße\n", cte="8bit"),
                          att("application/pdf", "résumé.pdf", PDF)])
    return mixed("global", [text_part(), rfc822(inner, "message/global")])


@msg("legal", "rfc2231-utf8", must_see_filenames=["Überweisung.pdf"],
     min_parts=3)
def _():
    return mixed("2231", [text_part(), part(
        "Content-Type: application/pdf\n"
        "Content-Disposition: attachment; "
        "filename*=utf-8''%C3%9Cberweisung.pdf\n"
        "Content-Transfer-Encoding: base64\n", b64(PDF))])


@msg("legal", "rfc2231-iso-8859-1", must_see_filenames=["café.txt"],
     min_parts=3)
def _():
    return mixed("2231 latin1", [text_part(), part(
        "Content-Type: text/plain; name*=iso-8859-1''caf%E9.txt\n"
        "Content-Disposition: attachment; "
        "filename*=ISO-8859-1''caf%E9.txt\n", "menu\n")])


@msg("legal", "rfc2231-continuations", min_parts=3,
     must_see_filenames=["a-very-long-file-name-split-over-three-"
                         "parameter-sections.pdf"])
def _():
    return mixed("2231 cont", [text_part(), part(
        "Content-Type: application/pdf\n"
        "Content-Disposition: attachment;\n"
        ' filename*0="a-very-long-file-name-";\n'
        ' filename*1="split-over-three-";\n'
        ' filename*2="parameter-sections.pdf"\n'
        "Content-Transfer-Encoding: base64\n", b64(PDF))])


@msg("legal", "rfc2231-continuations-charset", min_parts=3,
     must_see_filenames=["Rechnung für März – 2024.pdf"],
     notes="encoded continuations mixed with a plain one (RFC 2231 4.1)")
def _():
    return mixed("2231 cont charset", [text_part(), part(
        "Content-Type: application/pdf;\n"
        " name*0*=utf-8''Rechnung%20f%C3%BCr%20;\n"
        " name*1*=M%C3%A4rz%20%E2%80%93;\n"
        ' name*2=" 2024.pdf"\n'
        "Content-Disposition: attachment;\n"
        " filename*0*=utf-8''Rechnung%20f%C3%BCr%20;\n"
        " filename*1*=M%C3%A4rz%20%E2%80%93;\n"
        ' filename*2=" 2024.pdf"\n'
        "Content-Transfer-Encoding: base64\n", b64(PDF))])


@msg("legal", "rfc2231-language", must_see_filenames=["naïve.txt"],
     min_parts=3, notes="RFC 2231 with a language tag")
def _():
    return mixed("2231 lang", [text_part(), part(
        "Content-Type: text/plain; charset=utf-8\n"
        "Content-Disposition: attachment; "
        "filename*=UTF-8'en-us'na%C3%AFve.txt\n", "text\n")])


@msg("legal", "rfc2047-filename-outlook", min_parts=3,
     must_see_filenames=["Präsentation Q1.pptx"],
     notes="Outlook style: RFC 2047 encoded words inside quoted name= and "
     "filename= (not allowed by RFC 2047, done by everyone)")
def _():
    ew = "=?utf-8?B?UHLDpHNlbnRhdGlvbiBRMS5wcHR4?="
    return mixed("2047", [text_part(), part(
        'Content-Type: application/vnd.ms-powerpoint; name="%s"\n'
        'Content-Disposition: attachment; filename="%s"\n'
        "Content-Transfer-Encoding: base64\n" % (ew, ew), b64(ZIP))])


@msg("legal", "rfc2047-filename-q", min_parts=3,
     must_see_filenames=["Jahresbericht_2023_endgültig.pdf"])
def _():
    ew = "=?iso-8859-1?Q?Jahresbericht=5F2023=5Fendg=FCltig.pdf?="
    return mixed("2047 q", [text_part(), part(
        'Content-Type: application/pdf; name="%s"\n'
        'Content-Disposition: attachment; filename="%s"\n'
        "Content-Transfer-Encoding: base64\n" % (ew, ew), b64(PDF))])


@msg("legal", "rfc2047-filename-multiword", min_parts=3,
     must_see_filenames=["日本語のファイル名.txt"],
     notes="a filename split over two encoded words, folded")
def _():
    ew = ("=?UTF-8?B?5pel5pys6Kqe44Gu?=\n =?UTF-8?B?44OV44Kh44Kk44Or5ZCN"
          "LnR4dA==?=")
    return mixed("2047 multi", [text_part(), part(
        'Content-Type: text/plain; charset=utf-8; name="%s"\n'
        'Content-Disposition: attachment; filename="%s"\n' % (ew, ew),
        "ファイル\n".replace("ファイル", "file"))])


@msg("legal", "base64-text", min_parts=1,
     must_see_sha256=[sha(("Grüße, this text is base64.\n" * 20)
                          .encode())])
def _():
    body = ("Grüße, this text is base64.\n" * 20).encode()
    return render([hdr("b64", "Content-Type: text/plain; charset=utf-8\n"
                       "Content-Transfer-Encoding: base64\n"), "\n",
                   b64(body)])


QP_TEXT = ("Grüße aus München = Munich; a line that is long enough to need "
           "a soft line break somewhere around here, surely.\n"
           "tab\tand trailing space \nend\n").encode()


@msg("legal", "quoted-printable-text", min_parts=1,
     notes="QP in a CRLF message: Python's decoder turns the hard line "
     "breaks into LF, while it keeps CRLF in 7bit text")
def _():
    return render([hdr("qp", "Content-Type: text/plain; charset=utf-8\n"
                       "Content-Transfer-Encoding: quoted-printable\n"),
                   "\n", qp(QP_TEXT)])


@msg("legal", "quoted-printable-text-lf", min_parts=1,
     must_see_sha256=[sha(QP_TEXT)])
def _():
    return render([hdr("qp", "Content-Type: text/plain; charset=utf-8\n"
                       "Content-Transfer-Encoding: quoted-printable\n"),
                   "\n", qp(QP_TEXT)], crlf=False)


@msg("legal", "quoted-printable-attachment", min_parts=3,
     must_see_filenames=["data.bin"], must_see_sha256=[sha(QP_BIN)],
     notes="binary data in QP; no bare line breaks, so the same in CRLF")
def _():
    data = QP_BIN
    return mixed("qp att", [text_part(), part(
        'Content-Type: application/octet-stream; name="data.bin"\n'
        "Content-Disposition: attachment; filename=data.bin\n"
        "Content-Transfer-Encoding: quoted-printable\n", qp(data))])


@msg("legal", "8bit-text", min_parts=2,
     notes="8bit UTF-8 body")
def _():
    return mixed("8bit", [text_part("Grüße, Ελληνικά, 日本語\n",
                                    cte="8bit")])


@msg("legal", "binary-attachment", min_parts=3,
     must_see_filenames=["blob.bin"],
     notes="Content-Transfer-Encoding: binary, raw bytes (none look "
     "like a line break followed by the boundary)")
def _():
    data = rnd(4, 512)
    return mixed("binary", [text_part(), [
        'Content-Type: application/octet-stream; name="blob.bin"\n'
        'Content-Disposition: attachment; filename="blob.bin"\n'
        "Content-Transfer-Encoding: binary\n\n", Raw(data)]])


@msg("legal", "7bit-explicit", min_parts=2)
def _():
    return mixed("7bit", [text_part("plain ascii\n", cte="7bit"),
                          part("Content-Type: text/x-log\n"
                               "Content-Transfer-Encoding: 7BIT\n",
                               "log line 1\nlog line 2\n")])


@msg("legal", "uuencode-in-text", min_parts=1,
     must_see_filenames=["photo.jpg"],
     notes="a uuencoded block inside a text/plain body (old clients); "
     "the parser must find it as an attachment")
def _():
    data = rnd(5, 400)
    return render([hdr("uu", "Content-Type: text/plain\n"), "\n",
                   "Here is the photo:\n\n", uuencode(data, "photo.jpg"),
                   "\nbye\n"])


@msg("legal", "uuencode-in-text-lf", min_parts=1,
     must_see_filenames=["notes.txt"],
     notes="uuencoded block, LF, inside a multipart text part")
def _():
    return mixed("uu lf", [text_part("see:\n" + uuencode(
        b"some notes\n" * 10, "notes.txt") + "\n")], crlf=False)


@msg("legal", "inline-image-cid", min_parts=4,
     must_see_filenames=["image001.png"], must_see_types=["image/png"])
def _():
    return render([hdr("cid", 'Content-Type: multipart/related; '
                       'boundary="rel-2"; type="text/html"\n'), "\n"] +
                  multipart("rel-2", [
                      html_part('<p><img src="cid:image001.png@01D9"></p>\n'),
                      part("Content-Type: image/png; name=image001.png\n"
                           "Content-Description: image001.png\n"
                           "Content-Disposition: inline; "
                           "filename=image001.png; size=70\n"
                           "Content-ID: <image001.png@01D9>\n"
                           "Content-Transfer-Encoding: base64\n", b64(PNG)),
                      part("Content-Type: image/gif\n"
                           "Content-ID: <spacer>\n"
                           "Content-Transfer-Encoding: base64\n", b64(GIF))]))


@msg("legal", "calendar-invite", min_parts=4,
     must_see_filenames=["invite.ics"], must_see_types=["text/calendar"])
def _():
    return mixed("invite", [
        alternative("alt-5"),
        part("Content-Type: text/calendar; charset=utf-8; method=REQUEST\n"
             "Content-Transfer-Encoding: 7bit\n", ICS),
        part('Content-Type: application/ics; name="invite.ics"\n'
             'Content-Disposition: attachment; filename="invite.ics"\n'
             "Content-Transfer-Encoding: base64\n", b64(ICS.encode()))])


@msg("legal", "signed-pgp", min_parts=5, must_see_filenames=["signature.asc"],
     notes="multipart/signed (RFC 3156)")
def _():
    sig = ("-----BEGIN PGP SIGNATURE-----\n\niQEzBAEBCAAdFiEE" + "A" * 60 +
           "\n=abcd\n-----END PGP SIGNATURE-----\n")
    return render([hdr("signed", 'Content-Type: multipart/signed; '
                       'micalg=pgp-sha256;\n protocol="application/'
                       'pgp-signature"; boundary="sig-1"\n'), "\n"] +
                  multipart("sig-1", [
                      [part('Content-Type: multipart/mixed; boundary="s-m"\n',
                            "")] + multipart("s-m", [text_part(), att(
                                "application/pdf", "signed.pdf", PDF)]),
                      part('Content-Type: application/pgp-signature; '
                           'name="signature.asc"\n'
                           'Content-Description: OpenPGP digital signature'
                           '\nContent-Disposition: attachment; '
                           'filename="signature.asc"\n', sig)]))


@msg("legal", "signed-smime", min_parts=3,
     must_see_filenames=["smime.p7s"])
def _():
    return render([hdr("smime signed", 'Content-Type: multipart/signed; '
                       'protocol="application/pkcs7-signature"; '
                       'micalg=sha-256;\n\tboundary="----=_smime_1"\n'),
                   "\n"] + multipart("----=_smime_1", [
                       text_part(),
                       part('Content-Type: application/pkcs7-signature; '
                            'name="smime.p7s"\n'
                            "Content-Transfer-Encoding: base64\n"
                            'Content-Disposition: attachment; '
                            'filename="smime.p7s"\n', b64(rnd(6, 900)))],
                       preamble="This is an S/MIME signed message\n"))


@msg("legal", "encrypted-smime", min_parts=1,
     must_see_filenames=["smime.p7m"],
     must_see_types=["application/pkcs7-mime"],
     notes="the whole body is application/pkcs7-mime; opaque to a gateway")
def _():
    return render([hdr("smime enc", 'Content-Type: application/pkcs7-mime; '
                       'smime-type=enveloped-data; name="smime.p7m"\n'
                       "Content-Transfer-Encoding: base64\n"
                       'Content-Disposition: attachment; '
                       'filename="smime.p7m"\n'), "\n", b64(rnd(7, 1500))])


@msg("legal", "encrypted-pgp", min_parts=3,
     must_see_types=["application/pgp-encrypted"],
     notes="multipart/encrypted (RFC 3156)")
def _():
    return render([hdr("pgp enc", 'Content-Type: multipart/encrypted; '
                       'protocol="application/pgp-encrypted"; '
                       'boundary="enc-1"\n'), "\n"] +
                  multipart("enc-1", [
                      part("Content-Type: application/pgp-encrypted\n"
                           "Content-Description: PGP/MIME version "
                           "identification\n", "Version: 1\n"),
                      part('Content-Type: application/octet-stream; '
                           'name="encrypted.asc"\n'
                           'Content-Disposition: inline; '
                           'filename="encrypted.asc"\n',
                           "-----BEGIN PGP MESSAGE-----\n\n" +
                           b64(rnd(8, 300)) +
                           "-----END PGP MESSAGE-----\n")]))


@msg("legal", "utf8-headers", min_parts=3,
     must_see_filenames=["Übersicht März.xlsx"],
     notes="RFC 6532: raw UTF-8 in headers and in a quoted filename")
def _():
    return render([
        "From: Jörg Müller <jörg@exämple.test>\nTo: 李 <li@例え.test>\n"
        "Subject: Übersicht für März ✓\n"
        "Date: Mon, 01 Jan 2024 12:00:00 +0000\n"
        "Message-ID: <utf8@example.test>\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="u8"\n\n'] +
        multipart("u8", [text_part("Hallo\n"), part(
            'Content-Type: application/vnd.ms-excel; '
            'name="Übersicht März.xlsx"\n'
            'Content-Disposition: attachment; filename="Übersicht März.xlsx"'
            "\nContent-Transfer-Encoding: base64\n", b64(ZIP))]))


@msg("legal", "long-folded-headers", min_parts=3,
     must_see_filenames=["quarterly-financial-statement-for-the-board-of-"
                         "directors-final-version.pdf"],
     notes="headers folded over many lines, the boundary parameter on a "
     "continuation line")
def _():
    fn = ("quarterly-financial-statement-for-the-board-of-directors-final-"
          "version.pdf")
    refs = "".join("\n <ref%03d@example.test>" % i for i in range(30))
    return render([hdr("a subject that is long enough that it will be "
                       "folded\n over several lines\n\tby the sending "
                       "client", "References:" + refs + "\n"
                       "Content-Type: multipart/mixed;\n"
                       "\tcharset=\"utf-8\";\n"
                       '\tboundary="fold-1"\n'), "\n"] +
                  multipart("fold-1", [text_part(), part(
                      "Content-Type: application/pdf;\n"
                      '  name="%s"\n'
                      "Content-Disposition: attachment;\n"
                      '  filename="%s";\n'
                      '  size=%d;\n  creation-date="Mon, 01 Jan 2024 '
                      '12:00:00 +0000"\n'
                      "Content-Transfer-Encoding:\n base64\n"
                      % (fn, fn, len(PDF)), b64(PDF))]))


@msg("legal", "long-folded-headers-lf", min_parts=3,
     must_see_filenames=["folded.pdf"])
def _():
    return render([hdr("folded", "Content-Type:\n multipart/mixed;\n"
                       "   boundary=\n    \"fold-2\"\n"), "\n"] +
                  multipart("fold-2", [text_part(), part(
                      "Content-Type: application/pdf\n"
                      "Content-Disposition:\n attachment;\n filename=\n"
                      '  "folded.pdf"\nContent-Transfer-Encoding: base64\n',
                      b64(PDF))]), crlf=False)


@msg("legal", "delivery-status-notification", min_parts=4,
     must_see_types=["message/delivery-status"],
     notes="a DSN (RFC 3464): multipart/report with message/delivery-status "
     "and text/rfc822-headers")
def _():
    ds = ("Reporting-MTA: dns; mx.example.test\n"
          "Arrival-Date: Mon, 01 Jan 2024 12:00:00 +0000\n\n"
          "Final-Recipient: rfc822; nobody@example.test\nAction: failed\n"
          "Status: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 no such user\n")
    return render([hdr("Undelivered Mail Returned to Sender",
                       'Content-Type: multipart/report; '
                       'report-type=delivery-status;\n boundary="dsn-1"\n',
                       frm="MAILER-DAEMON@mx.example.test"), "\n"] +
                  multipart("dsn-1", [
                      text_part("I'm sorry to have to inform you...\n"),
                      part("Content-Description: Delivery report\n"
                           "Content-Type: message/delivery-status\n", ds),
                      part("Content-Description: Undelivered Message "
                           "Headers\nContent-Type: text/rfc822-headers\n",
                           hdr("lost"))]))


@msg("legal", "csv-attachment", min_parts=3,
     must_see_filenames=["export.csv"])
def _():
    return mixed("csv", [text_part(), part(
        'Content-Type: text/csv; charset="windows-1252"; name="export.csv"\n'
        'Content-Disposition: attachment; filename="export.csv"\n'
        "Content-Transfer-Encoding: quoted-printable\n",
        "id;name\n1;M=FCller\n2;Stra=DFe\n")])


@msg("legal", "name-only", min_parts=3, must_see_filenames=["legacy.doc"],
     notes="only a name= on Content-Type, no Content-Disposition")
def _():
    return mixed("name only", [text_part(), part(
        "Content-Type: application/msword; name=legacy.doc\n"
        "Content-Transfer-Encoding: base64\n", b64(BIN))])


@msg("legal", "inline-with-filename", min_parts=3,
     must_see_filenames=["inline.txt"])
def _():
    return mixed("inline", [text_part(), part(
        "Content-Type: text/plain; charset=us-ascii\n"
        "Content-Disposition: inline; filename=inline.txt\n",
        "shown inline\n")])


@msg("legal", "empty-body", min_parts=1,
     must_see_sha256=[sha(b"")], notes="headers, blank line, nothing")
def _():
    return render([hdr("empty", "Content-Type: text/plain\n"), "\n"])


@msg("legal", "digest", min_parts=7,
     notes="multipart/digest: parts without Content-Type default to "
     "message/rfc822 (RFC 2046 5.1.5)")
def _():
    msgs = [part("", hdr("digest item %d" % i, mime=False) + "\n" +
                 "item %d\n" % i) for i in range(3)]
    return render([hdr("digest", 'Content-Type: multipart/digest; '
                       'boundary="dig-1"\n'), "\n"] + multipart("dig-1",
                                                               msgs))


@msg("legal", "octet-stream-no-name", min_parts=3,
     must_see_types=["application/octet-stream"],
     must_see_sha256=[sha(BIN)])
def _():
    return mixed("no name", [text_part(), part(
        "Content-Type: application/octet-stream\n"
        "Content-Transfer-Encoding: base64\n", b64(BIN))])


@msg("legal", "format-flowed", min_parts=1)
def _():
    return render([hdr("flowed", "Content-Type: text/plain; charset=utf-8;"
                       " format=flowed; delsp=yes\n"
                       "Content-Transfer-Encoding: 8bit\n"), "\n",
                   "This is a long line that is soft \nwrapped by the "
                   "sender.\n> quoted\n"])


@msg("legal", "windows-1252-text", min_parts=2)
def _():
    return render([hdr("cp1252", 'Content-Type: multipart/alternative; '
                       'boundary="cp"\n'), "\n"] + multipart("cp", [[
                           "Content-Type: text/plain; charset=windows-1252\n"
                           "Content-Transfer-Encoding: 8bit\n\n",
                           Raw(b"Price: \x80 10 \x96 \x93quoted\x94")]]))


@msg("legal", "tnef-winmail", min_parts=3,
     must_see_filenames=["winmail.dat"])
def _():
    return mixed("tnef", [text_part(), att("application/ms-tnef",
                                           "winmail.dat",
                                           b"\x78\x9f\x3e\x22" +
                                           rnd(9, 200))])


@msg("legal", "alternative-three", min_parts=4)
def _():
    return render([hdr("three", 'Content-Type: multipart/alternative; '
                       'boundary="a3"\n'), "\n"] + multipart("a3", [
                           text_part(), part(
                               "Content-Type: text/watch-html\n",
                               "<p>short</p>\n"), html_part()]))


@msg("legal", "base64-long-line", min_parts=3,
     must_see_filenames=["oneline.bin"], must_see_sha256=[sha(BIN * 4)],
     notes="base64 in one long line (some senders do this)")
def _():
    return mixed("oneline", [text_part(), part(
        "Content-Type: application/octet-stream; name=oneline.bin\n"
        "Content-Transfer-Encoding: base64\n", b64(BIN * 4, 100000))])


@msg("legal", "base64-short-lines-lf", min_parts=3,
     must_see_filenames=["short.pdf"], must_see_sha256=[sha(PDF)],
     notes="base64 in 20-character lines, LF")
def _():
    return mixed("short lines", [text_part(), part(
        "Content-Type: application/pdf; name=short.pdf\n"
        "Content-Transfer-Encoding: base64\n", b64(PDF, 20))], crlf=False)


@msg("legal", "attachment-trailing-newlines", min_parts=3,
     must_see_filenames=["t.txt"],
     notes="a text attachment whose content ends in two newlines")
def _():
    return mixed("tn", [text_part(), part(
        "Content-Type: text/plain; name=t.txt\n", "line\n\n")])


@msg("legal", "rfc822-nested-attachment-lf", min_parts=8,
     must_see_filenames=["deep.xlsx"],
     notes="message/rfc822 inside a multipart inside message/rfc822, LF")
def _():
    inner2 = forwarded("deep", [text_part(), att(
        "application/vnd.ms-excel", "deep.xlsx", ZIP)], boundary="d2")
    inner1 = forwarded("mid", [text_part(), [part(
        'Content-Type: multipart/mixed; boundary="d1x"\n', "")] +
        multipart("d1x", [rfc822(inner2)])], boundary="d1")
    return mixed("fwd", [text_part(), rfc822(inner1)], crlf=False)


@msg("legal", "audio-video", min_parts=4,
     must_see_filenames=["voicemail.wav", "clip.mp4"])
def _():
    return mixed("av", [text_part(),
                        att("audio/wav", "voicemail.wav", b"RIFF" +
                            rnd(10, 100)),
                        att("video/mp4", "clip.mp4", b"\x00\x00\x00\x18ftyp"
                            + rnd(11, 100))])


@msg("legal", "text-qp-html-with-soft-breaks", min_parts=3)
def _():
    return render([hdr("qp html", 'Content-Type: multipart/alternative; '
                       'boundary="qh"\n'), "\n"] + multipart("qh", [
                           text_part("hi\n"),
                           part("Content-Type: text/html; charset=utf-8\n"
                                "Content-Transfer-Encoding: "
                                "quoted-printable\n",
                                qp(("<div style=\"font-family: Arial\">"
                                    "Grüße</div>" * 5 + "\n").encode()))]))


@msg("legal", "vcard", min_parts=3, must_see_filenames=["alice.vcf"])
def _():
    return mixed("vcard", [text_part(), part(
        'Content-Type: text/vcard; charset=utf-8; name="alice.vcf"\n'
        'Content-Disposition: attachment; filename="alice.vcf"\n',
        "BEGIN:VCARD\nVERSION:4.0\nFN:Alice\nEND:VCARD\n")])


@msg("legal", "many-attachments", min_parts=52,
     must_see_filenames=["file-00.txt", "file-49.txt"],
     notes="fifty small attachments")
def _():
    return mixed("fifty", [text_part()] + [part(
        "Content-Type: text/plain; name=file-%02d.txt\n"
        "Content-Disposition: attachment; filename=file-%02d.txt\n"
        % (i, i), "file %d\n" % i) for i in range(50)])


@msg("legal", "x-mac-apple-double", min_parts=5,
     must_see_filenames=["letter.pages"],
     notes="multipart/appledouble from old Apple Mail")
def _():
    ad = [part('Content-Type: multipart/appledouble; boundary="ad-1"\n',
               "")] + multipart("ad-1", [
                   att("application/applefile", "letter.pages",
                       b"\x00\x05\x16\x07" + rnd(12, 60)),
                   att("application/octet-stream", "letter.pages",
                       rnd(13, 120))])
    return mixed("appledouble", [text_part(), ad])


@msg("legal", "multipart-top-crlf-no-preamble", min_parts=2,
     notes="the first delimiter right after the header block")
def _():
    return render([hdr("no preamble", "Content-Type: multipart/mixed; "
                       "boundary=np\n"), "\n"] +
                  multipart("np", [text_part()]))


@msg("legal", "content-id-and-description", min_parts=3,
     must_see_filenames=["chart.gif"])
def _():
    return render([hdr("related", 'Content-Type: multipart/related; '
                       'boundary="r3"\n'), "\n"] + multipart("r3", [
                           html_part('<img src="cid:chart">\n'),
                           part("Content-Type: image/gif\n"
                                "Content-ID: <chart>\n"
                                "Content-Location: chart.gif\n"
                                "Content-Description: a chart\n"
                                'Content-Disposition: inline; '
                                'filename="chart.gif"\n'
                                "Content-Transfer-Encoding: base64\n",
                                b64(GIF))]))


# ===========================================================================
# tricky

@msg("tricky", "boundary-prefix-of-inner", min_parts=5,
     must_see_filenames=["inner.pdf", "outer.zip"],
     notes="the inner boundary starts with the outer one: '--frontier-2' "
     "is not a delimiter of 'frontier'")
def _():
    inner = [part('Content-Type: multipart/mixed; boundary="frontier-2"\n',
                  "")] + multipart("frontier-2", [
                      text_part("inner\n"),
                      att("application/pdf", "inner.pdf", PDF)])
    return mixed("prefix", [inner, att("application/zip", "outer.zip", ZIP)],
                 boundary="frontier")


@msg("tricky", "boundary-inner-prefix-of-outer", min_parts=5,
     must_see_filenames=["inner.pdf", "outer.zip"],
     notes="the outer boundary starts with the inner one")
def _():
    inner = [part('Content-Type: multipart/mixed; boundary="abc"\n',
                  "")] + multipart("abc", [
                      text_part("inner\n"),
                      att("application/pdf", "inner.pdf", PDF)])
    return mixed("prefix2", [inner, att("application/zip", "outer.zip",
                                        ZIP)], boundary="abcdef")


@msg("tricky", "boundary-line-with-suffix", min_parts=3,
     must_see_filenames=["real.txt"],
     notes="lines '--bXYZ' and '--b--more' inside a part are not "
     "delimiters of boundary 'b'")
def _():
    return mixed("suffix", [
        text_part("--bXYZ is not a delimiter\n--b-- neither? no: this is "
                  "not at the start\n--bb\n"),
        part("Content-Type: text/plain; name=real.txt\n", "real\n")],
        boundary="b")


@msg("tricky", "boundary-with-spaces", min_parts=3,
     must_see_filenames=["spaces.pdf"],
     notes="RFC 2046 allows spaces in a boundary (not last)")
def _():
    return mixed("spaces", [text_part(), att("application/pdf", "spaces.pdf",
                                             PDF)],
                 boundary="simple boundary with spaces")


@msg("tricky", "boundary-special-chars", min_parts=3,
     must_see_filenames=["special.zip"],
     notes="every bchars special: '()+_,-./:=? in the boundary")
def _():
    return mixed("special", [text_part(), att("application/zip",
                                              "special.zip", ZIP)],
                 boundary="'()+_,-./:=?ab")


@msg("tricky", "boundary-unquoted-token", min_parts=3,
     must_see_filenames=["t.pdf"])
def _():
    return render([hdr("unquoted", "Content-Type: multipart/mixed; "
                       "boundary=----_NextPart_000_0012_01DA\n"), "\n"] +
                  multipart("----_NextPart_000_0012_01DA", [
                      text_part(), att("application/pdf", "t.pdf", PDF)]))


@msg("tricky", "boundary-transport-padding", min_parts=3,
     must_see_filenames=["pad.txt"],
     notes="delimiter lines followed by spaces and tabs (transport padding,"
     " RFC 2046 5.1.1)")
def _():
    return render([hdr("padding", 'Content-Type: multipart/mixed; '
                       'boundary="pad"\n'), "\n",
                   "--pad   \n", text_part("one\n"), "\n--pad\t \n",
                   part("Content-Type: text/plain; name=pad.txt\n", "two"),
                   "\n--pad--  \t\n"])


@msg("tricky", "boundary-70-chars", min_parts=3,
     must_see_filenames=["b70.pdf"], notes="the longest legal boundary")
def _():
    return mixed("b70", [text_part(), att("application/pdf", "b70.pdf", PDF)],
                 boundary="x" * 70)


@msg("tricky", "preamble-fake-boundaries", min_parts=3,
     must_see_filenames=["after.pdf"],
     notes="preamble lines that look like delimiters but are not")
def _():
    pre = ("-- fb\n---fb\n --fb\n--FB\n--fbx\n"
           "Content-Type: application/x-msdownload; name=fake.exe\n\n")
    return mixed("preamble", [text_part(), att("application/pdf",
                                               "after.pdf", PDF)],
                 boundary="fb", preamble=pre)


@msg("tricky", "epilogue-fake-boundaries", min_parts=3,
     must_see_filenames=["before.pdf"],
     notes="an epilogue with lines that look like delimiters")
def _():
    epi = "--fbx\n-- fb\n--FB--\ntrailing text\n"
    return mixed("epilogue", [text_part(), att("application/pdf",
                                               "before.pdf", PDF)],
                 boundary="fb", epilogue=epi)


@msg("tricky", "empty-parts", min_parts=5,
     notes="parts with headers and no body, and an entirely empty part")
def _():
    return render([hdr("empty parts", 'Content-Type: multipart/mixed; '
                       'boundary="e"\n'), "\n",
                   "--e\nContent-Type: text/plain\n\n\n",
                   "--e\n\n\n",
                   "--e\nContent-Type: application/octet-stream; name=z\n"
                   "Content-Transfer-Encoding: base64\n\n\n",
                   "--e\n\nx\n--e--\n"])


@msg("tricky", "part-no-headers", min_parts=3,
     must_see_sha256=[sha(b"no headers here")],
     notes="a part with no header lines: text/plain us-ascii by default")
def _():
    return mixed("no headers", [text_part(), part("", "no headers here")])


@msg("tricky", "multipart-single-part", min_parts=2,
     must_see_filenames=["only.pdf"])
def _():
    return mixed("single", [att("application/pdf", "only.pdf", PDF)],
                 preamble="")


@msg("tricky", "charset-aliases", min_parts=6,
     notes="charset spellings: utf8, UTF-8 quoted, latin1, cp1252, "
     "ISO_8859-1:1987")
def _():
    return mixed("charsets", [
        text_part("a\n", "text/plain; charset=utf8"),
        text_part("b\n", 'text/plain; charset="UTF-8"'),
        ["Content-Type: text/plain; charset=latin1\n\n", Raw(b"c\xe9")],
        ["Content-Type: text/plain; charset=cp1252\n\n", Raw(b"d\x80")],
        ["Content-Type: text/plain; charset=\"ISO_8859-1:1987\"\n\n",
         Raw(b"e\xe9")]])


@msg("tricky", "odd-case", min_parts=3, must_see_filenames=["CASE.PDF"],
     notes="header names, types, parameter names and encodings in odd case")
def _():
    return render([hdr("case", 'CONTENT-TYPE: MULTIPART/MIXED; BOUNDARY="'
                       'CaSe"\n'), "\n"] + multipart("CaSe", [
                           part("content-type: TEXT/Plain; CHARSET=US-ASCII"
                                "\n", "x\n"),
                           part('cOnTeNt-TyPe: Application/PDF; NaMe='
                                '"CASE.PDF"\ncontent-disposition: '
                                'ATTACHMENT; FILENAME="CASE.PDF"\n'
                                "content-transfer-encoding: BASE64\n",
                                b64(PDF))]))


@msg("tricky", "odd-spacing", min_parts=3,
     must_see_filenames=["spaced.pdf"],
     notes="spaces around ';' and '=', tabs, a trailing ';'")
def _():
    return render([hdr("spacing", 'Content-Type:multipart/mixed ;boundary ='
                       ' "sp" ;\n'), "\n"] + multipart("sp", [
                           text_part(),
                           part('Content-Type:\tapplication/pdf ;  name = '
                                '"spaced.pdf"  ;\nContent-Disposition: '
                                'attachment ; filename= spaced.pdf ;\n'
                                'Content-Transfer-Encoding:   base64   \n',
                                b64(PDF))]))


@msg("tricky", "comments-in-content-type", min_parts=3,
     must_see_filenames=["commented.pdf"],
     notes="RFC 822 comments in Content-Type and Content-Disposition")
def _():
    return render([hdr("comments", 'Content-Type: multipart/mixed (outer);'
                       ' boundary="cm" (the boundary)\n'), "\n"] +
                  multipart("cm", [
                      part("Content-Type: text/plain (a comment); "
                           "charset=us-ascii\n", "text\n"),
                      part('Content-Type: application/pdf (pdf)\n'
                           'Content-Disposition: attachment (att); '
                           'filename="commented.pdf" (a file)\n'
                           "Content-Transfer-Encoding: base64 (b64)\n",
                           b64(PDF))]))


@msg("tricky", "whitespace-before-colon", min_parts=3,
     must_see_filenames=["colon.pdf"],
     notes="'Content-Type :' (obsolete syntax RFC 5322 4.5, still parsed "
     "by clients)")
def _():
    return render([hdr("ws colon", 'Content-Type : multipart/mixed; '
                       'boundary="wc"\n'), "\n"] + multipart("wc", [
                           text_part(),
                           part('Content-Type\t: application/pdf\n'
                                'Content-Disposition : attachment; '
                                'filename="colon.pdf"\n'
                                "Content-Transfer-Encoding : base64\n",
                                b64(PDF))]))


@msg("tricky", "quoted-pairs-in-filename", min_parts=3,
     must_see_filenames=['a "quoted" name.txt'])
def _():
    return mixed("quoted pairs", [text_part(), part(
        'Content-Type: text/plain\n'
        'Content-Disposition: attachment; '
        'filename="a \\"quoted\\" name.txt"\n', "q\n")])


@msg("tricky", "unquoted-filename-with-spaces", min_parts=3,
     must_see_filenames=[["my report.pdf", "my"]],
     notes="filename=my report.pdf without quotes (not a token)")
def _():
    return mixed("unquoted", [text_part(), part(
        "Content-Type: application/pdf\n"
        "Content-Disposition: attachment; filename=my report.pdf\n"
        "Content-Transfer-Encoding: base64\n", b64(PDF))])


@msg("tricky", "rfc2231-no-charset", min_parts=3,
     must_see_filenames=["plain name.txt"],
     notes="filename*='' with empty charset and language")
def _():
    return mixed("2231 empty", [text_part(), part(
        "Content-Type: text/plain\n"
        "Content-Disposition: attachment; filename*=''plain%20name.txt\n",
        "x\n")])


@msg("tricky", "percent-in-plain-filename", min_parts=3,
     must_see_filenames=["100%25 sure.txt"],
     notes="percent signs in a non-extended parameter are literal")
def _():
    return mixed("percent", [text_part(), part(
        "Content-Type: text/plain\n"
        'Content-Disposition: attachment; filename="100%25 sure.txt"\n',
        "x\n")])


@msg("tricky", "rfc2231-lowercase-hex", min_parts=3,
     must_see_filenames=["größe.txt"])
def _():
    return mixed("lower hex", [text_part(), part(
        "Content-Type: text/plain\n"
        "Content-Disposition: attachment; "
        "filename*=utf-8''gr%c3%b6%c3%9fe.txt\n", "x\n")])


@msg("tricky", "cte-odd-spelling", min_parts=4,
     must_see_sha256=[sha(PDF), sha(QP_BIN)],
     notes="'BASE64' with surrounding spaces, 'Quoted-Printable'")
def _():
    return mixed("cte case", [
        text_part(),
        part("Content-Type: application/pdf\n"
             "Content-Transfer-Encoding:   BASE64  \n", b64(PDF)),
        part("Content-Type: application/octet-stream\n"
             "Content-Transfer-Encoding: Quoted-Printable\n",
             qp(QP_BIN))])


@msg("tricky", "cte-x-uuencode", min_parts=3,
     must_see_filenames=["legacy.bin"],
     notes="Content-Transfer-Encoding: x-uuencode (non-standard, some old "
     "clients)")
def _():
    return mixed("x-uue", [text_part(), part(
        "Content-Type: application/octet-stream; name=legacy.bin\n"
        "Content-Transfer-Encoding: x-uuencode\n",
        uuencode(BIN, "legacy.bin"))])


@msg("tricky", "no-mime-version", min_parts=3,
     must_see_filenames=["nv.pdf"],
     notes="MIME headers without MIME-Version: parsed as MIME anyway")
def _():
    return render([hdr("no version", 'Content-Type: multipart/mixed; '
                       'boundary="nv"\n', mime=False), "\n"] +
                  multipart("nv", [text_part(),
                                   att("application/pdf", "nv.pdf", PDF)]))


@msg("tricky", "type-without-subtype", min_parts=2,
     notes="'Content-Type: text' (no subtype) means text/plain (RFC 2045 "
     "5.2)")
def _():
    return mixed("no subtype", [part("Content-Type: text\n", "x\n")])


@msg("tricky", "type-trailing-semicolon", min_parts=3,
     must_see_filenames=["semi.pdf"])
def _():
    return mixed("semicolons", [text_part(), part(
        "Content-Type: application/pdf;\n"
        'Content-Disposition: attachment;; filename="semi.pdf";;\n'
        "Content-Transfer-Encoding: base64\n", b64(PDF))])


@msg("tricky", "digest-explicit-types", min_parts=6,
     notes="multipart/digest with one text/plain part and two default "
     "message/rfc822 parts")
def _():
    return render([hdr("digest2", 'Content-Type: multipart/digest; '
                       'boundary="dg"\n'), "\n"] + multipart("dg", [
                           text_part("table of contents\n"),
                           part("", hdr("one", mime=False) + "\none\n"),
                           part("", hdr("two", mime=False) + "\ntwo\n")]))


@msg("tricky", "header-folded-quoted-string", min_parts=3,
     must_see_filenames=[["fo\tld.txt", "fold.txt"]],
     notes="a filename folded inside a quoted string: unfolding removes "
     "only the line break, the name is 'fo<TAB>ld.txt'")
def _():
    return mixed("fold quoted", [text_part(), part(
        "Content-Type: text/plain\n"
        'Content-Disposition: attachment; filename="fo\n\tld.txt"\n',
        "x\n")])


@msg("tricky", "rfc822-no-trailing-newline", min_parts=4,
     notes="an embedded message whose body has no final line break before "
     "the delimiter")
def _():
    inner = [hdr("inner", "Content-Type: text/plain\n"), "\n", "no newline"]
    return mixed("rfc822 nl", [text_part(), rfc822(inner)])


@msg("tricky", "mixed-in-alternative-in-mixed", min_parts=7,
     must_see_filenames=["alt-hidden.pdf"],
     notes="an attachment inside one branch of multipart/alternative")
def _():
    alt = [part('Content-Type: multipart/alternative; boundary="ax"\n',
                "")] + multipart("ax", [
                    text_part(),
                    [part('Content-Type: multipart/mixed; boundary="mx"\n',
                          "")] + multipart("mx", [
                              html_part(),
                              att("application/pdf", "alt-hidden.pdf",
                                  PDF)])])
    return mixed("alt att", [alt, text_part("footer\n")])


@msg("tricky", "boundary-quoted-with-equals", min_parts=3,
     must_see_filenames=["eq.pdf"])
def _():
    return mixed("eq", [text_part(), att("application/pdf", "eq.pdf", PDF)],
                 boundary="=_Part_123=_=")


@msg("tricky", "content-disposition-no-type", min_parts=3,
     must_see_filenames=["untyped.bin"],
     notes="attachment with Content-Disposition only: text/plain by default"
     " but a file all the same")
def _():
    return mixed("untyped", [text_part(), part(
        'Content-Disposition: attachment; filename="untyped.bin"\n'
        "Content-Transfer-Encoding: base64\n", b64(BIN))])


@msg("tricky", "encoded-word-in-unquoted-name", min_parts=3,
     must_see_filenames=["résumé.doc"],
     notes="an encoded word as an unquoted parameter value")
def _():
    return mixed("ew unquoted", [text_part(), part(
        "Content-Type: application/msword; name==?utf-8?Q?r=C3=A9sum=C3=A9."
        "doc?=\nContent-Transfer-Encoding: base64\n", b64(BIN))])


@msg("tricky", "filename-2231-and-plain-agree", min_parts=3,
     must_see_filenames=["Straße.pdf"],
     notes="filename* and a plain ASCII fallback filename (modern "
     "clients send both)")
def _():
    return mixed("both", [text_part(), part(
        "Content-Type: application/pdf\n"
        "Content-Disposition: attachment; filename=\"Strasse.pdf\"; "
        "filename*=UTF-8''Stra%C3%9Fe.pdf\n"
        "Content-Transfer-Encoding: base64\n", b64(PDF))])


@msg("tricky", "crlf-in-binary-content", min_parts=3,
     must_see_filenames=["lines.bin"],
     notes="binary part whose content contains CRLF and lone CR and LF")
def _():
    data = b"a\r\nb\rc\nd\r\n\r\n--not-a-boundary\r\n" + rnd(14, 50)
    return mixed("binary lines", [text_part(), [
        "Content-Type: application/octet-stream; name=lines.bin\n"
        "Content-Transfer-Encoding: binary\n\n", Raw(data)]])


@msg("tricky", "multipart-alternative-lf-preamble-epilogue", min_parts=3,
     notes="preamble and epilogue both present, LF")
def _():
    return render([hdr("pe", 'Content-Type: multipart/alternative; '
                       'boundary="pe"\n'), "\n"] +
                  multipart("pe", [text_part(), html_part()],
                            preamble="preamble line\n\n",
                            epilogue="\nepilogue line\n"), crlf=False)


# ===========================================================================
# broken

@msg("broken", "missing-final-boundary", min_parts=3,
     must_see_filenames=["unclosed.pdf"])
def _():
    return render([hdr("no close", 'Content-Type: multipart/mixed; '
                       'boundary="nc"\n'), "\n"] +
                  multipart("nc", [text_part(), att(
                      "application/pdf", "unclosed.pdf", PDF)],
                      close=False))


@msg("broken", "missing-final-boundary-nested", min_parts=5,
     must_see_filenames=["in.pdf", "out.zip"],
     notes="the inner multipart is never closed; the outer delimiter ends "
     "it")
def _():
    inner = [part('Content-Type: multipart/mixed; boundary="in"\n', "")] + \
        multipart("in", [text_part(), att("application/pdf", "in.pdf", PDF)],
                  close=False)
    return mixed("nested no close", [inner, att("application/zip", "out.zip",
                                                ZIP)], boundary="out")


@msg("broken", "missing-boundary-parameter", min_parts=1,
     notes="multipart/mixed without a boundary: one opaque body")
def _():
    return render([hdr("no boundary", "Content-Type: multipart/mixed\n"),
                   "\n", "--x\nContent-Type: text/plain\n\nhello\n--x--\n"])


@msg("broken", "empty-boundary-parameter", min_parts=1)
def _():
    return render([hdr("empty boundary", 'Content-Type: multipart/mixed; '
                       'boundary=""\n'), "\n",
                   "--\nContent-Type: text/plain\n\nhello\n----\n"])


@msg("broken", "boundary-never-appears", min_parts=1,
     notes="boundary declared, body never uses it: all preamble")
def _():
    return render([hdr("absent", 'Content-Type: multipart/mixed; '
                       'boundary="absent"\n'), "\n",
                   "just text, no delimiters\n"])


@msg("broken", "base64-garbage", min_parts=3,
     must_see_filenames=["garbage.pdf"], must_see_sha256=[sha(PDF)],
     notes="base64 with characters outside the alphabet sprinkled in")
def _():
    enc = b64(PDF)
    dirty = "".join(c + ("!" if i % 17 == 0 else "") +
                    ("*" if i % 29 == 0 else "")
                    for i, c in enumerate(enc))
    return mixed("b64 garbage", [text_part(), part(
        "Content-Type: application/pdf; name=garbage.pdf\n"
        "Content-Transfer-Encoding: base64\n", dirty)])


@msg("broken", "base64-whitespace", min_parts=3,
     must_see_filenames=["ws.pdf"], must_see_sha256=[sha(PDF)],
     notes="spaces and tabs inside base64 lines, blank lines between")
def _():
    enc = b64(PDF, 40)
    dirty = "".join(c + (" " if i % 7 == 0 else "") +
                    ("\t" if i % 11 == 0 else "")
                    for i, c in enumerate(enc)).replace("\n", "\n\n", 2)
    return mixed("b64 ws", [text_part(), part(
        "Content-Type: application/pdf; name=ws.pdf\n"
        "Content-Transfer-Encoding: base64\n", dirty)])


@msg("broken", "base64-missing-padding", min_parts=3,
     must_see_filenames=["nopad.bin"], must_see_sha256=[sha(b"hello world!x")],
     notes="base64 of 13 bytes without the trailing '=='")
def _():
    return mixed("b64 nopad", [text_part(), part(
        "Content-Type: application/octet-stream; name=nopad.bin\n"
        "Content-Transfer-Encoding: base64\n",
        base64.b64encode(b"hello world!x").decode().rstrip("=") + "\n")])


@msg("broken", "base64-extra-padding", min_parts=3,
     must_see_filenames=["xpad.bin"], must_see_sha256=[sha(b"hello world!x")],
     notes="base64 with '====' at the end")
def _():
    return mixed("b64 xpad", [text_part(), part(
        "Content-Type: application/octet-stream; name=xpad.bin\n"
        "Content-Transfer-Encoding: base64\n",
        base64.b64encode(b"hello world!x").decode() + "==\n")])


@msg("broken", "base64-truncated", min_parts=3,
     must_see_filenames=["cut.pdf"],
     notes="base64 cut in the middle of a quantum (length % 4 == 1)")
def _():
    enc = b64(PDF).replace("\n", "")
    enc = enc[:(len(enc) // 2) // 4 * 4 + 1]
    return mixed("b64 cut", [text_part(), part(
        "Content-Type: application/pdf; name=cut.pdf\n"
        "Content-Transfer-Encoding: base64\n", enc + "\n")])


@msg("broken", "base64-truncated-3", min_parts=3,
     must_see_filenames=["cut3.pdf"],
     notes="base64 cut with 3 characters in the last quantum")
def _():
    enc = b64(PDF).replace("\n", "")
    enc = enc[:(len(enc) // 2) // 4 * 4 + 3]
    return mixed("b64 cut3", [text_part(), part(
        "Content-Type: application/pdf; name=cut3.pdf\n"
        "Content-Transfer-Encoding: base64\n", enc + "\n")])


@msg("broken", "base64-text-not-base64", min_parts=2,
     notes="CTE base64 on a body that is plain English text")
def _():
    return mixed("not b64", [part(
        "Content-Type: text/plain\nContent-Transfer-Encoding: base64\n",
        "This is not base64 at all, it is just text.\n")])


@msg("broken", "qp-bad-escapes", min_parts=2,
     notes="'=ZZ', '=4' at a line end, lowercase '=3d', '=' then EOF")
def _():
    return mixed("qp bad", [part(
        "Content-Type: text/plain\n"
        "Content-Transfer-Encoding: quoted-printable\n",
        "bad =ZZ escape\nshort =4\nlower =3d case =e9\nspace = after\n"
        "end=")])


@msg("broken", "qp-trailing-whitespace", min_parts=2,
     notes="QP with trailing spaces (to be removed, RFC 2045 6.7 (3)) and "
     "a soft break followed by spaces")
def _():
    return mixed("qp ws", [part(
        "Content-Type: text/plain\n"
        "Content-Transfer-Encoding: quoted-printable\n",
        "trailing   \nsoft break with spaces=  \nnext\n")])


@msg("broken", "qp-long-lines", min_parts=2,
     notes="QP with a 2000-character line and no soft breaks")
def _():
    return mixed("qp long", [part(
        "Content-Type: text/plain\n"
        "Content-Transfer-Encoding: quoted-printable\n",
        "x=3D" * 500 + "\n")])


@msg("broken", "headers-no-body", min_parts=1,
     notes="a message that ends right after its last header line, no "
     "blank line")
def _():
    return render([hdr("no body", "Content-Type: text/plain\n")])


@msg("broken", "headers-no-body-no-newline", min_parts=1,
     notes="ends in the middle of the last header line")
def _():
    return render([hdr("no body", "Content-Type: text/plain")])


@msg("broken", "part-headers-no-body", min_parts=3,
     must_see_filenames=["headonly.exe"],
     notes="a part whose header block runs into the next delimiter")
def _():
    return render([hdr("part no body", 'Content-Type: multipart/mixed; '
                       'boundary="hb"\n'), "\n",
                   "--hb\nContent-Type: text/plain\n\nx\n",
                   "--hb\nContent-Type: application/octet-stream; "
                   "name=headonly.exe\nContent-Disposition: attachment\n",
                   "--hb--\n"])


@msg("broken", "empty-file", min_parts=1, notes="zero bytes")
def _():
    return b""


@msg("broken", "body-only", min_parts=1, notes="no header block at all")
def _():
    return render(["\n", "just a body\n"])


@msg("broken", "nul-bytes-body", min_parts=2,
     must_see_sha256=[sha(b"before\x00after\x00\x00end")])
def _():
    return mixed("nul body", [[
        "Content-Type: application/octet-stream\n\n",
        Raw(b"before\x00after\x00\x00end")]])


@msg("broken", "nul-bytes-headers", min_parts=3,
     must_see_filenames=[["nul\x00.pdf", "nul.pdf", "nul"]],
     notes="NUL bytes in header values, including a filename")
def _():
    return render([Raw(b"From: a@example.test\r\nSubject: nul\x00inside\r\n"
                       b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed;"
                       b' boundary="nb"\r\n\r\n--nb\r\n'
                       b"Content-Type: text/plain\r\n\r\nx\r\n--nb\r\n"
                       b'Content-Type: application/pdf; name="nul\x00.pdf"\r\n'
                       b"Content-Transfer-Encoding: base64\r\n\r\n"),
                   b64(PDF), "--nb--\n"])


@msg("broken", "8bit-headers-latin1", min_parts=3,
     must_see_filenames=[["r\u00e9sum\u00e9.pdf", "r\ufffdsum\ufffd.pdf"]],
     notes="raw ISO-8859-1 bytes in Subject and filename (not UTF-8)")
def _():
    return render([Raw(b"From: J\xf6rg <j@example.test>\r\nSubject: "
                       b"Gr\xfc\xdfe\r\nMIME-Version: 1.0\r\n"
                       b'Content-Type: multipart/mixed; boundary="l1"\r\n\r\n'
                       b"--l1\r\nContent-Type: text/plain\r\n\r\nx\r\n--l1\r\n"
                       b"Content-Type: application/pdf; "
                       b'name="r\xe9sum\xe9.pdf"\r\n'
                       b"Content-Transfer-Encoding: base64\r\n\r\n"),
                   b64(PDF), "--l1--\n"])


@msg("broken", "mixed-line-endings", min_parts=4,
     must_see_filenames=["mle.pdf", "mle2.zip"],
     notes="CRLF headers, LF body lines, a bare CR in text, LF delimiters")
def _():
    return (b"From: a@example.test\r\nSubject: mixed\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="ml"\r\n\r\n'
            b"--ml\nContent-Type: text/plain\r\n\nline1\r\nline2\nbare\rcr\n"
            b"--ml\r\nContent-Type: application/pdf; name=mle.pdf\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" +
            b64(PDF).replace("\n", "\r\n", 3).encode() +
            b"--ml\nContent-Type: application/zip; name=mle2.zip\r\n"
            b"Content-Transfer-Encoding: base64\n\n" + b64(ZIP).encode() +
            b"--ml--\r\n")


@msg("broken", "cr-only-line-endings", min_parts=1, must_have_defects=True,
     notes="old Mac line endings: bare CR everywhere; a parser that knows "
     "only CRLF and LF sees one long header line, and must say so")
def _():
    return render([hdr("cr only", "Content-Type: text/plain\n"), "\n",
                   TEXT]).replace(b"\r\n", b"\r")


@msg("broken", "very-long-body-line", min_parts=3,
     must_see_filenames=["after-long.pdf"],
     notes="a text line of 200,000 characters before an attachment")
def _():
    return mixed("long line", [text_part("A" * 200000 + "\n"),
                               att("application/pdf", "after-long.pdf",
                                   PDF)])


@msg("broken", "very-long-header-line", min_parts=3,
     must_see_filenames=["long-subject.pdf"],
     notes="a 20,000-character Subject line (no folding)")
def _():
    return render([hdr("S" * 20000, 'Content-Type: multipart/mixed; '
                       'boundary="ls"\n'), "\n"] + multipart("ls", [
                           text_part(),
                           att("application/pdf", "long-subject.pdf",
                               PDF)]))


@msg("broken", "unterminated-quote-boundary", min_parts=1,
     notes='boundary="abc with no closing quote')
def _():
    return render([hdr("unterminated", 'Content-Type: multipart/mixed; '
                       'boundary="abc\n'), "\n",
                   "--abc\nContent-Type: text/plain\n\nx\n--abc--\n"])


@msg("broken", "unterminated-quote-filename", min_parts=3,
     must_see_filenames=[["evil.exe", "evil.exe;"]],
     notes='filename="evil.exe with no closing quote')
def _():
    return mixed("unterminated fn", [text_part(), part(
        "Content-Type: application/octet-stream\n"
        'Content-Disposition: attachment; filename="evil.exe\n'
        "Content-Transfer-Encoding: base64\n", b64(EXE))])


@msg("broken", "header-without-colon", min_parts=3,
     must_see_filenames=["nc.pdf"],
     notes="a header line without a colon in the middle of a part header "
     "block")
def _():
    return mixed("no colon", [text_part(), part(
        "Content-Type: application/pdf; name=nc.pdf\n"
        "This line has no colon\n"
        "Content-Transfer-Encoding: base64\n", b64(PDF))])


@msg("broken", "unknown-cte", min_parts=3,
     must_see_filenames=["unk.bin"],
     notes="Content-Transfer-Encoding: x-foo: content taken as it is")
def _():
    return mixed("unknown cte", [text_part(), part(
        "Content-Type: application/octet-stream; name=unk.bin\n"
        "Content-Transfer-Encoding: x-foo\n", "raw data\n")])


@msg("broken", "no-blank-line-after-part-headers", min_parts=3,
     notes="part body starts right after the headers without a blank line")
def _():
    return mixed("no blank", [text_part(),
                              "Content-Type: text/plain\nbody starts here\n"
                              "second line\n"])


@msg("broken", "type-garbage", min_parts=3,
     notes="Content-Type values that are not types: '/', 'text/', "
     "'a/b/c', empty")
def _():
    return mixed("garbage types", [
        part("Content-Type: /\n", "1\n"),
        part("Content-Type: text/\n", "2\n"),
        part("Content-Type: a/b/c\n", "3\n"),
        part("Content-Type:\n", "4\n")])


@msg("broken", "truncated-mid-header", min_parts=2,
     notes="the message ends in the middle of a part header block")
def _():
    return render([hdr("trunc", 'Content-Type: multipart/mixed; '
                       'boundary="tr"\n'), "\n",
                   "--tr\nContent-Type: text/plain\n\nx\n--tr\n"
                   "Content-Type: application/pdf; na"])


@msg("broken", "truncated-mid-base64", min_parts=3,
     must_see_filenames=["half.pdf"],
     notes="the message ends in the middle of a base64 attachment")
def _():
    return render([hdr("trunc b64", 'Content-Type: multipart/mixed; '
                       'boundary="tb"\n'), "\n",
                   "--tb\nContent-Type: text/plain\n\nx\n--tb\n"
                   "Content-Type: application/pdf; name=half.pdf\n"
                   "Content-Transfer-Encoding: base64\n\n",
                   b64(PDF)[:150]])


@msg("broken", "zero-parts", min_parts=1,
     notes="a multipart with only the close delimiter")
def _():
    return render([hdr("zero", 'Content-Type: multipart/mixed; '
                       'boundary="z"\n'), "\n", "--z--\n"])


@msg("broken", "rfc822-empty", min_parts=2,
     notes="message/rfc822 part with an empty body")
def _():
    return mixed("empty rfc822", [text_part(), part(
        "Content-Type: message/rfc822\n", "")])


@msg("broken", "rfc822-truncated", min_parts=3,
     notes="message/rfc822 whose embedded multipart never closes and the "
     "outer message ends")
def _():
    return render([hdr("rfc822 trunc", 'Content-Type: multipart/mixed; '
                       'boundary="o"\n'), "\n", "--o\n",
                   "Content-Type: message/rfc822\n\n",
                   "Subject: inner\nContent-Type: multipart/mixed; "
                   'boundary="i"\n\n--i\nContent-Type: text/plain\n\nx\n'])


@msg("broken", "space-continuation-first-line", min_parts=1,
     notes="the message starts with a continuation line")
def _():
    return render([" continued\n", hdr("cont", "Content-Type: text/plain\n"),
                   "\n", "x\n"])


@msg("broken", "mbox-from-line", min_parts=3,
     must_see_filenames=["mbox.pdf"],
     notes="an mbox 'From ' line before the headers")
def _():
    return render(["From alice@example.test Mon Jan  1 12:00:00 2024\n",
                   hdr("mbox", 'Content-Type: multipart/mixed; '
                       'boundary="mb"\n'), "\n"] + multipart("mb", [
                           text_part(), att("application/pdf", "mbox.pdf",
                                            PDF)]), crlf=False)


# ===========================================================================
# hostile

@msg("hostile", "duplicate-content-type-boundaries", must_have_defects=True,
     must_see_filenames=["evil-a.exe"], should_see_filenames=["evil-b.exe"],
     notes="two Content-Type headers with different boundaries; Python "
     "uses the first; a parser may pick either, but must flag the message "
     "and see the parts of the one it picks")
def _():
    return render([hdr("dup ct", 'Content-Type: multipart/mixed; '
                       'boundary="AAA"\nContent-Type: multipart/mixed; '
                       'boundary="BBB"\n'), "\n",
                   "--AAA\n", text_part("a text\n"), "\n--AAA\n",
                   att("application/octet-stream", "evil-a.exe", EXE),
                   "\n--BBB\n", text_part("b text\n"), "\n--BBB\n",
                   att("application/octet-stream", "evil-b.exe", EXE),
                   "\n--BBB--\n--AAA--\n"])


@msg("hostile", "duplicate-boundary-parameter", must_have_defects=True,
     must_see_filenames=["dup-a.exe"], should_see_filenames=["dup-b.exe"],
     notes="boundary=AAA; boundary=BBB in one header")
def _():
    return render([hdr("dup boundary", 'Content-Type: multipart/mixed; '
                       'boundary="AAA"; boundary="BBB"\n'), "\n",
                   "--AAA\n", text_part("a\n"), "\n--AAA\n",
                   att("application/octet-stream", "dup-a.exe", EXE),
                   "\n--BBB\n", text_part("b\n"), "\n--BBB\n",
                   att("application/octet-stream", "dup-b.exe", EXE),
                   "\n--BBB--\n--AAA--\n"])


@msg("hostile", "duplicate-filename-parameter", must_have_defects=True,
     must_see_filenames=["clean.txt", "evil.exe"],
     notes="filename=clean.txt; filename=evil.exe: Python takes the first,"
     " parsers disagree on which wins; a rule must see both")
def _():
    return mixed("dup filename", [text_part(), part(
        "Content-Type: application/octet-stream\n"
        'Content-Disposition: attachment; filename="clean.txt"; '
        'filename="evil.exe"\n'
        "Content-Transfer-Encoding: base64\n", b64(EXE))])


@msg("hostile", "duplicate-content-disposition", must_have_defects=True,
     must_see_filenames=["clean.txt", "evil.exe"],
     notes="two Content-Disposition headers with different filenames")
def _():
    return mixed("dup cd", [text_part(), part(
        "Content-Type: application/octet-stream\n"
        'Content-Disposition: attachment; filename="clean.txt"\n'
        'Content-Disposition: attachment; filename="evil.exe"\n'
        "Content-Transfer-Encoding: base64\n", b64(EXE))])


@msg("hostile", "name-vs-filename", must_see_filenames=["clean.txt",
                                                        "evil.exe"],
     notes="Content-Type name=evil.exe, Content-Disposition "
     "filename=clean.txt; parsers differ on which one they use")
def _():
    return mixed("name vs filename", [text_part(), part(
        'Content-Type: application/octet-stream; name="evil.exe"\n'
        'Content-Disposition: attachment; filename="clean.txt"\n'
        "Content-Transfer-Encoding: base64\n", b64(EXE))])


@msg("hostile", "filename-star-vs-filename", must_see_filenames=[
    "clean.txt", "evil.exe"],
     notes="filename=clean.txt and filename*=evil.exe: consumers that "
     "follow RFC 6266 prefer filename*; Python's get_filename() returns "
     "clean.txt")
def _():
    return mixed("star vs plain", [text_part(), part(
        "Content-Type: application/octet-stream\n"
        'Content-Disposition: attachment; filename="clean.txt"; '
        "filename*=utf-8''evil.exe\n"
        "Content-Transfer-Encoding: base64\n", b64(EXE))])


@msg("hostile", "filename-star-first", must_see_filenames=[
    "clean.txt", "evil.exe"],
     notes="filename*=evil.exe first, then filename=clean.txt")
def _():
    return mixed("star first", [text_part(), part(
        "Content-Type: application/octet-stream\n"
        "Content-Disposition: attachment; filename*=utf-8''evil.exe; "
        'filename="clean.txt"\n'
        "Content-Transfer-Encoding: base64\n", b64(EXE))])


@msg("hostile", "rfc2231-continuation-gap", must_have_defects=True,
     must_see_filenames=[["evl.exe", "ev"]],
     notes="filename*0, filename*2, no filename*1: a parser that stops at "
     "the gap sees 'ev', one that joins what is there sees 'evl.exe'")
def _():
    return mixed("2231 gap", [text_part(), part(
        "Content-Type: application/octet-stream\n"
        'Content-Disposition: attachment; filename*0="ev"; '
        'filename*2="l.exe"\n'
        "Content-Transfer-Encoding: base64\n", b64(EXE))])


@msg("hostile", "rfc2231-continuation-reordered",
     must_see_filenames=["evil.exe"],
     notes="continuations in the order 2, 0, 1: RFC 2231 says the numbers "
     "count, not the order")
def _():
    return mixed("2231 order", [text_part(), part(
        "Content-Type: application/octet-stream\n"
        'Content-Disposition: attachment; filename*2=".exe"; '
        'filename*0="ev"; filename*1="il"\n'
        "Content-Transfer-Encoding: base64\n", b64(EXE))])


@msg("hostile", "rfc2231-continuation-and-plain", must_see_filenames=[
    "invoice.pdf", "invoice.pdf.exe"],
     notes="filename=invoice.pdf and filename*0/*1 spelling "
     "invoice.pdf.exe")
def _():
    return mixed("2231 cont plain", [text_part(), part(
        "Content-Type: application/octet-stream\n"
        'Content-Disposition: attachment; filename="invoice.pdf";\n'
        ' filename*0="invoice.pdf"; filename*1=".exe"\n'
        "Content-Transfer-Encoding: base64\n", b64(EXE))])


@msg("hostile", "rfc2231-duplicate-section", must_have_defects=True,
     must_see_filenames=["evil.txt", ["evil.exe", "evil.txt.exe"]],
     should_see_filenames=["evil.exe"],
     notes="filename*1 given twice (.txt and .exe): a duplicate parameter;"
     " first-wins gives evil.txt, last-wins evil.exe; a candidate ending "
     "in .exe must be there")
def _():
    return mixed("2231 dup section", [text_part(), part(
        "Content-Type: application/octet-stream\n"
        'Content-Disposition: attachment; filename*0="evil"; '
        'filename*1=".txt"; filename*1=".exe"\n'
        "Content-Transfer-Encoding: base64\n", b64(EXE))])


@msg("hostile", "encoded-word-exe", must_see_filenames=["evil.exe"],
     notes="filename is a base64 encoded word hiding .exe")
def _():
    return mixed("ew exe", [text_part(), part(
        "Content-Type: application/octet-stream; "
        'name="=?utf-8?B?ZXZpbC5leGU=?="\n'
        'Content-Disposition: attachment; filename="=?utf-8?B?ZXZpbC5leGU=?="'
        "\nContent-Transfer-Encoding: base64\n", b64(EXE))])


@msg("hostile", "encoded-word-split-extension",
     must_see_filenames=["invoice.pdf.exe"],
     notes="two Q encoded words, the second only '.exe'")
def _():
    v = "=?utf-8?Q?invoice=2Epdf?= =?utf-8?Q?=2Eexe?="
    return mixed("ew split", [text_part(), part(
        'Content-Type: application/octet-stream; name="%s"\n'
        'Content-Disposition: attachment; filename="%s"\n'
        "Content-Transfer-Encoding: base64\n" % (v, v), b64(EXE))])


@msg("hostile", "encoded-word-adjacent-text",
     should_see_filenames=["invoice.pdf.exe"],
     notes="'invoice.pdf=?utf-8?Q?.exe?=': an encoded word glued to text "
     "(not an encoded word by RFC 2047, decoded by lenient clients)")
def _():
    v = "invoice.pdf=?utf-8?Q?.exe?="
    return mixed("ew adjacent", [text_part(), part(
        'Content-Type: application/octet-stream; name="%s"\n'
        'Content-Disposition: attachment; filename="%s"\n'
        "Content-Transfer-Encoding: base64\n" % (v, v), b64(EXE))])


@msg("hostile", "encoded-word-unknown-charset",
     must_see_filenames=[["evil.exe", "=?x-unknown?B?ZXZpbC5leGU=?="]],
     notes="an encoded word in a charset nobody knows")
def _():
    return mixed("ew unknown", [text_part(), part(
        "Content-Type: application/octet-stream\n"
        'Content-Disposition: attachment; '
        'filename="=?x-unknown?B?ZXZpbC5leGU=?="\n'
        "Content-Transfer-Encoding: base64\n", b64(EXE))])


@msg("hostile", "encoded-word-in-2231", must_see_filenames=[
    ["=?utf-8?B?ZXZpbC5leGU=?=", "evil.exe"]],
     notes="an encoded word inside an RFC 2231 value (must not be decoded "
     "twice, but the literal must be kept)")
def _():
    return mixed("ew in 2231", [text_part(), part(
        "Content-Type: application/octet-stream\n"
        "Content-Disposition: attachment; "
        "filename*=utf-8''%3D%3Futf-8%3FB%3FZXZpbC5leGU%3D%3F%3D\n"
        "Content-Transfer-Encoding: base64\n", b64(EXE))])


@msg("hostile", "cte-on-multipart", must_see_filenames=["cte.exe"],
     notes="Content-Transfer-Encoding: base64 on a multipart whose body "
     "is not encoded (illegal, RFC 2045 6.4); clients ignore it")
def _():
    return render([hdr("cte multipart", 'Content-Type: multipart/mixed; '
                       'boundary="cm"\nContent-Transfer-Encoding: base64\n'),
                   "\n"] + multipart("cm", [text_part(), att(
                       "application/octet-stream", "cte.exe", EXE)]))


@msg("hostile", "cte-on-multipart-encoded", must_have_defects=True,
     should_see_filenames=["hidden.exe"],
     notes="a multipart whose whole body is base64-encoded, with CTE "
     "base64: a parser that ignores the CTE sees nothing; one that "
     "decodes sees hidden.exe; either way it must be flagged")
def _():
    inner = render(multipart("ce", [text_part(), att(
        "application/octet-stream", "hidden.exe", EXE)]))
    return render([hdr("cte multipart enc", 'Content-Type: multipart/mixed;'
                       ' boundary="ce"\nContent-Transfer-Encoding: base64\n'),
                   "\n", b64(inner)])


@msg("hostile", "rfc822-with-base64-cte", should_see_filenames=[
    "wrapped.exe"],
     notes="message/rfc822 with CTE base64 (forbidden by RFC 2046 5.2.1): "
     "a lenient parser may decode it and find the attachment inside")
def _():
    inner = render(forwarded("wrapped", [text_part(), att(
        "application/octet-stream", "wrapped.exe", EXE)]))
    return mixed("rfc822 b64", [text_part(), part(
        "Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n",
        b64(inner))])


@msg("hostile", "nesting-40-deep", must_have_defects="limit", min_parts=33,
     notes="40 nested multiparts, over the depth limit of 32; the gateway "
     "must flag (and by default refuse) it")
def _():
    items = att("application/octet-stream", "bottom.exe", EXE)
    for d in range(39, -1, -1):
        b = "d%02d" % d
        items = [part('Content-Type: multipart/mixed; boundary="%s"\n' % b,
                      "")] + multipart(b, [items])
    return render([hdr("deep")] + items)


@msg("hostile", "nesting-40-deep-rfc822", must_have_defects="limit",
     min_parts=33,
     notes="40 nested message/rfc822, over the depth limit")
def _():
    items = [hdr("bottom", "Content-Type: application/octet-stream; "
                 "name=bottom.exe\nContent-Transfer-Encoding: base64\n"),
             "\n", b64(EXE)]
    for d in range(40):
        items = [hdr("level %d" % d, "Content-Type: message/rfc822\n"),
                 "\n"] + items
    return render(items)


@msg("hostile", "parts-20000", must_have_defects="limit", min_parts=1000,
     must_see_filenames=["early.exe"],
     notes="20,000 tiny parts, over the limit of 10,000; early.exe is "
     "part 5, late.exe part 19,999")
def _():
    out = [hdr("many", "Content-Type: multipart/mixed; boundary=p\n"), "\n"]
    for i in range(20000):
        if i == 4:
            out.append("--p\nContent-Type: application/octet-stream; "
                       "name=early.exe\n\nMZ\n")
        elif i == 19998:
            out.append("--p\nContent-Type: application/octet-stream; "
                       "name=late.exe\n\nMZ\n")
        else:
            out.append("--p\n\n%d\n" % (i % 10))
    out.append("--p--\n")
    return render(out, crlf=False)


@msg("hostile", "boundary-300-chars", must_see_filenames=["long-b.exe"],
     must_see_unless_limit=True,
     notes="a 300-character boundary (RFC 2046 allows 70): parse it or "
     "flag it, never pass the attachment unseen")
def _():
    return mixed("long boundary", [text_part(), att(
        "application/octet-stream", "long-b.exe", EXE)],
        boundary="B" * 300)


@msg("hostile", "header-line-100k", must_have_defects="limit",
     notes="a 100 KB Content-Type header line (a parameter that never "
     "ends), over any sane header line limit")
def _():
    return mixed("huge header", [text_part(), part(
        'Content-Type: application/octet-stream; name="evil.exe"; x="' +
        "A" * 100000 + '"\n'
        'Content-Disposition: attachment; filename="evil.exe"\n'
        "Content-Transfer-Encoding: base64\n", b64(EXE))])


@msg("hostile", "header-block-5000-lines", must_see_filenames=["junk.exe"],
     notes="5000 header lines (370 KB) in one part before the Content-Type:"
     " under the 1 MiB default header block limit, so the parser must read "
     "through them and still see the attachment")
def _():
    junk = "".join("X-Junk-%04d: %s\n" % (i, "j" * 60) for i in range(5000))
    return mixed("huge header block", [text_part(), part(
        junk + 'Content-Type: application/octet-stream; name="junk.exe"\n'
        "Content-Transfer-Encoding: base64\n", b64(EXE))])


@msg("hostile", "rlo-filename", must_see_filenames=["photo\u202egpj.exe"],
     notes="U+202E RIGHT-TO-LEFT OVERRIDE: shown as 'photoexe.jpg', "
     "really .exe")
def _():
    return mixed("rlo", [text_part(), part(
        "Content-Type: application/octet-stream\n"
        "Content-Disposition: attachment; "
        "filename*=utf-8''photo%E2%80%AEgpj.exe\n"
        "Content-Transfer-Encoding: base64\n", b64(EXE))])


@msg("hostile", "rlo-filename-raw-utf8",
     must_see_filenames=["invoice\u202efdp.scr"],
     notes="RLO as raw UTF-8 in a quoted filename (RFC 6532)")
def _():
    return mixed("rlo raw", [text_part(), part(
        "Content-Type: application/octet-stream\n"
        'Content-Disposition: attachment; filename="invoice\u202efdp.scr"\n'
        "Content-Transfer-Encoding: base64\n", b64(EXE))])


@msg("hostile", "rlo-filename-encoded-word",
     must_see_filenames=["report\u202excod.js"],
     notes="RLO inside an RFC 2047 encoded word")
def _():
    ew = "=?utf-8?B?%s?=" % base64.b64encode(
        "report\u202excod.js".encode()).decode()
    return mixed("rlo ew", [text_part(), part(
        'Content-Type: application/octet-stream; name="%s"\n'
        "Content-Transfer-Encoding: base64\n" % ew, b64(b"WScript.Echo(1)"))])


@msg("hostile", "zero-width-filename",
     must_see_filenames=["evil\u200b.exe", "evil.e\u200cxe"],
     notes="zero-width space before the dot, zero-width non-joiner inside"
     " the extension")
def _():
    return mixed("zwsp", [text_part(), part(
        "Content-Type: application/octet-stream\n"
        "Content-Disposition: attachment; "
        "filename*=utf-8''evil%E2%80%8B.exe\n"
        "Content-Transfer-Encoding: base64\n", b64(EXE)), part(
        "Content-Type: application/octet-stream\n"
        "Content-Disposition: attachment; "
        "filename*=utf-8''evil.e%E2%80%8Cxe\n"
        "Content-Transfer-Encoding: base64\n", b64(EXE))])


@msg("hostile", "trailing-dots-spaces", must_see_filenames=[
    "evil.exe.", "evil2.exe   ", "evil3.exe . ."],
     notes="Windows strips trailing dots and spaces: each of these saves "
     "as an .exe")
def _():
    return mixed("trailing", [text_part()] + [part(
        "Content-Type: application/octet-stream\n"
        'Content-Disposition: attachment; filename="%s"\n'
        "Content-Transfer-Encoding: base64\n" % n, b64(EXE))
        for n in ("evil.exe.", "evil2.exe   ", "evil3.exe . .")])


@msg("hostile", "path-in-filename", must_see_filenames=[
    "..\\..\\Startup\\evil.exe", "/tmp/../evil.sh"],
     notes="directory components in filenames; rules must match on the "
     "last component")
def _():
    return mixed("paths", [text_part(), part(
        "Content-Type: application/octet-stream\n"
        'Content-Disposition: attachment; '
        'filename="..\\\\..\\\\Startup\\\\evil.exe"\n'
        "Content-Transfer-Encoding: base64\n", b64(EXE)), part(
        "Content-Type: application/x-sh\n"
        'Content-Disposition: attachment; filename="/tmp/../evil.sh"\n',
        "#!/bin/sh\necho hi\n")])


@msg("hostile", "uuencode-hiding-exe", must_see_filenames=["evil.exe"],
     must_see_sha256=[sha(EXE)],
     notes="a uuencoded .exe inside a text/plain body of a multipart")
def _():
    return mixed("uu exe", [text_part("Please run the attached.\n\n" +
                                      uuencode(EXE, "evil.exe") +
                                      "\nthanks\n"), html_part()])


@msg("hostile", "uuencode-hiding-exe-top-level",
     must_see_filenames=["payload.exe"],
     notes="a uuencoded .exe in a message with no MIME at all")
def _():
    return render([hdr("uu top", mime=False), "\n", "hi\n\n",
                   uuencode(EXE, "payload.exe", "755")], crlf=False)


@msg("hostile", "rfc822-exe-three-deep", must_see_filenames=["deep.exe"],
     must_see_sha256=[sha(EXE)], min_parts=10,
     notes="an .exe inside message/rfc822 inside message/rfc822 inside "
     "message/rfc822")
def _():
    inner = forwarded("level 3", [text_part("3\n"), att(
        "application/octet-stream", "deep.exe", EXE)], boundary="l3")
    for lvl in (2, 1):
        inner = forwarded("level %d" % lvl, [text_part("%d\n" % lvl),
                                             rfc822(inner)],
                          boundary="l%d" % lvl)
    return mixed("Fwd: Fwd: Fwd:", [text_part("0\n"), rfc822(inner)])


@msg("hostile", "mime-type-lie-png", must_see_filenames=["cat.png"],
     must_see_sha256=[sha(EXE)],
     notes="image/png claimed, the decoded content starts with 'MZ': rules "
     "must be able to look at the content")
def _():
    return mixed("cat picture", [text_part(), att("image/png", "cat.png",
                                                  EXE, disp="inline")])


@msg("hostile", "mime-type-lie-text", must_see_sha256=[sha(EXE)],
     notes="a text/plain part with no name, content is a base64 PE file")
def _():
    return mixed("text lie", [text_part(), part(
        "Content-Type: text/plain; charset=us-ascii\n"
        "Content-Transfer-Encoding: base64\n", b64(EXE))])


@msg("hostile", "whitespace-before-colon-exe",
     must_see_filenames=["colon.exe"],
     notes="'Content-Disposition :' hiding the filename from parsers that "
     "stop at the first non-header line")
def _():
    return mixed("ws colon exe", [text_part(), part(
        "Content-Type: application/octet-stream\n"
        "Content-Disposition : attachment; filename=colon.exe\n"
        "Content-Transfer-Encoding: base64\n", b64(EXE))])


@msg("hostile", "epilogue-hidden-part", should_see_filenames=["epi.exe"],
     must_have_defects=True,
     notes="a complete part after the close delimiter: epilogue by RFC "
     "2046, a part to a parser that keeps looking for delimiters; a "
     "delimiter line of a closed multipart is an ambiguity to flag")
def _():
    return mixed("epilogue part", [text_part()], boundary="ep",
                 epilogue="--ep\nContent-Type: application/octet-stream;"
                 " name=epi.exe\nContent-Transfer-Encoding: base64\n\n" +
                 b64(EXE) + "--ep--\n")


@msg("hostile", "preamble-hidden-part", should_see_filenames=["pre.exe"],
     notes="a part-looking block in the preamble, before the first "
     "delimiter")
def _():
    return mixed("preamble part", [text_part()], boundary="pp",
                 preamble="Content-Type: application/octet-stream; "
                 "name=pre.exe\nContent-Transfer-Encoding: base64\n\n" +
                 b64(EXE))


@msg("hostile", "boundary-with-trailing-garbage",
     should_see_filenames=["garbage.exe"],
     notes="'--bnd garbage' lines: not delimiters by RFC 2046, taken as "
     "delimiters by prefix-matching parsers")
def _():
    return render([hdr("trailing garbage", 'Content-Type: multipart/mixed; '
                       'boundary="bnd"\n'), "\n",
                   "--bnd\n", text_part(), "\n--bnd garbage\n",
                   att("application/octet-stream", "garbage.exe", EXE),
                   "\n--bnd--\n"])


@msg("hostile", "nested-same-boundary", must_see_filenames=[
    ["same.exe"]], must_have_defects=True,
     notes="an inner multipart reuses the outer boundary")
def _():
    return render([hdr("same boundary", 'Content-Type: multipart/mixed; '
                       'boundary="S"\n'), "\n",
                   "--S\n", text_part(), "\n--S\n",
                   'Content-Type: multipart/mixed; boundary="S"\n\n',
                   "--S\n", att("application/octet-stream", "same.exe", EXE),
                   "\n--S--\n--S--\n"])


@msg("hostile", "nul-in-filename", must_see_filenames=[
    ["evil.exe\x00.txt", "evil.exe"]],
     notes="a NUL inside the filename: C code that stops at the NUL sees "
     "'evil.exe'")
def _():
    return mixed("nul filename", [text_part(), part(
        "Content-Type: application/octet-stream\n"
        "Content-Disposition: attachment; filename*=utf-8''evil.exe%00.txt\n"
        "Content-Transfer-Encoding: base64\n", b64(EXE))])


@msg("hostile", "rfc2231-bad-percent", must_see_filenames=[
    ["evil%2.exe", "evil\ufffd.exe", "evil.exe"]],
     notes="an invalid %-escape in filename*")
def _():
    return mixed("bad percent", [text_part(), part(
        "Content-Type: application/octet-stream\n"
        "Content-Disposition: attachment; filename*=utf-8''evil%2.exe\n"
        "Content-Transfer-Encoding: base64\n", b64(EXE))])


@msg("hostile", "rfc2231-invalid-utf8", must_see_filenames=[
    "\ufffd\ufffdevil.exe"],
     notes="filename* declares UTF-8 but holds 0xFF 0xFE: replacement "
     "characters, the .exe still visible")
def _():
    return mixed("bad utf8", [text_part(), part(
        "Content-Type: application/octet-stream\n"
        "Content-Disposition: attachment; filename*=utf-8''%FF%FEevil.exe\n"
        "Content-Transfer-Encoding: base64\n", b64(EXE))])


@msg("hostile", "many-filename-candidates", must_have_defects=True,
     must_see_filenames=["real-199.exe"],
     notes="200 filename parameters in one header")
def _():
    params = "".join(';\n filename="real-%03d.%s"' % (
        i, "exe" if i == 199 else "txt") for i in range(200))
    return mixed("200 names", [text_part(), part(
        "Content-Type: application/octet-stream\n"
        "Content-Disposition: attachment" + params + "\n"
        "Content-Transfer-Encoding: base64\n", b64(EXE))])


@msg("hostile", "very-long-filename", must_see_filenames=[
    "a" * 5000 + ".exe"],
     notes="a 5000-character filename ending in .exe (truncating it loses "
     "the extension)")
def _():
    return mixed("long name", [text_part(), part(
        "Content-Type: application/octet-stream\n"
        'Content-Disposition: attachment; filename="%s.exe"\n'
        "Content-Transfer-Encoding: base64\n" % ("a" * 5000), b64(EXE))])


@msg("hostile", "exe-content-type-no-name",
     must_see_types=["application/x-msdownload"], must_see_sha256=[sha(EXE)],
     notes="executable MIME type, no filename at all")
def _():
    return mixed("no name exe", [text_part(), part(
        "Content-Type: application/x-msdownload\n"
        "Content-Transfer-Encoding: base64\n", b64(EXE))])


@msg("hostile", "inline-text-plain-name-exe",
     must_see_filenames=["run.exe"],
     notes="a text/plain part, inline, named run.exe: rules must not skip "
     "text parts")
def _():
    return mixed("inline exe", [text_part(), part(
        "Content-Type: text/plain; name=run.exe\n"
        "Content-Disposition: inline\n"
        "Content-Transfer-Encoding: base64\n", b64(EXE))])


@msg("hostile", "base64-data-after-padding",
     must_see_filenames=["concat.exe"],
     should_see_filenames=[],
     notes="base64 in two padded pieces ('...==' then more): decoders that"
     " stop at the first '=' see a harmless prefix; the full content is "
     "an .exe")
def _():
    return mixed("b64 concat", [text_part(), part(
        "Content-Type: application/octet-stream; name=concat.exe\n"
        "Content-Transfer-Encoding: base64\n",
        base64.b64encode(b"MZ").decode() + "\n" + b64(EXE[2:]))])


@msg("hostile", "duplicate-cte", must_have_defects=True,
     must_see_filenames=["dupcte.exe"],
     notes="Content-Transfer-Encoding: 7bit then base64")
def _():
    return mixed("dup cte", [text_part(), part(
        "Content-Type: application/octet-stream; name=dupcte.exe\n"
        "Content-Transfer-Encoding: 7bit\n"
        "Content-Transfer-Encoding: base64\n", b64(EXE))])


@msg("hostile", "quoted-vs-unquoted-boundary", must_see_filenames=[
    "q.exe"],
     notes='boundary="a b" where a lax parser takes the unquoted token "a"')
def _():
    return render([hdr("quoted boundary", 'Content-Type: multipart/mixed; '
                       'boundary="a b"\n'), "\n",
                   "--a\nContent-Type: text/plain\n\ndecoy\n",
                   "--a b\n", text_part(), "\n--a b\n",
                   att("application/octet-stream", "q.exe", EXE),
                   "\n--a b--\n--a--\n"])


@msg("hostile", "content-type-in-body-of-text", min_parts=1,
     notes="a text/plain body that contains MIME headers and delimiters: "
     "nothing in it is a part")
def _():
    return render([hdr("not mime", "Content-Type: text/plain\n"), "\n",
                   "--x\nContent-Type: application/octet-stream; "
                   "name=fake.exe\n\nMZ\n--x--\n"])


@msg("hostile", "uppercase-exe-and-double-ext",
     must_see_filenames=["INVOICE.PDF.EXE", "scan.jpg.scr"])
def _():
    return mixed("double ext", [text_part(),
                                att("application/octet-stream",
                                    "INVOICE.PDF.EXE", EXE),
                                att("image/jpeg", "scan.jpg.scr", EXE)])


@msg("hostile", "zip-containing-exe", must_see_filenames=["invoice.zip"],
     must_see_sha256=[sha(ZIP_EXE)],
     notes="an .exe inside a zip: the decoded zip must be available for "
     "archive rules")
def _():
    return mixed("zip exe", [text_part(), att("application/zip",
                                              "invoice.zip", ZIP_EXE)])


@msg("hostile", "message-partial", min_parts=2,
     notes="message/partial fragment (can reassemble past a gateway); "
     "must be visible as such")
def _():
    return render([hdr("partial", 'Content-Type: message/partial; '
                       'id="frag@example.test"; number=1; total=2\n'), "\n",
                   "Content-Type: multipart/mixed; boundary=fr\n\n--fr\n"
                   "Content-Type: application/octet-stream; "
                   "name=part.exe\n\n"])


@msg("hostile", "external-body", min_parts=2,
     notes="message/external-body pointing at a URL")
def _():
    return mixed("external", [text_part(), part(
        'Content-Type: message/external-body; access-type=URL;\n'
        ' URL="http://example.test/evil.exe"\n',
        "Content-Type: application/octet-stream\n\n")])


@msg("hostile", "cr-only-line-endings-exe", must_have_defects=True,
     should_see_filenames=["cr.exe"],
     notes="a multipart with an .exe written with bare CR line endings: "
     "parsers that take CR as a line end (Python) see the attachment")
def _():
    return mixed("cr only", [text_part(), att(
        "application/octet-stream", "cr.exe", EXE)]).replace(b"\r\n", b"\r")


# ---------------------------------------------------------------------------


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        if f.endswith(".eml") or f.endswith(".expect.json"):
            os.unlink(os.path.join(out, f))
    counts = {}
    for category, slug, fn, expect in CORPUS:
        counts[category] = counts.get(category, 0) + 1
        name = "%s-%03d-%s" % (category, counts[category], slug)
        data = fn()
        with open(os.path.join(out, name + ".eml"), "wb") as f:
            f.write(data)
        exp = {k: v for k, v in sorted(expect.items()) if v != []}
        exp.setdefault("notes", "")
        with open(os.path.join(out, name + ".expect.json"), "w",
                  encoding="utf-8") as f:
            json.dump(exp, f, indent=1, sort_keys=True, ensure_ascii=True)
            f.write("\n")
    total = sum(counts.values())
    print("%d messages (%s) in %s" % (total, ", ".join(
        "%s %d" % kv for kv in sorted(counts.items())), out))


if __name__ == "__main__":
    main()
