#!/usr/bin/env python3
"""make.py - write the attachment evasion corpus (tests/data/evasion).

Each NAME.eml is a message hiding an executable (or something the
rules must refuse) the way attackers do; tests/unit/test_attachment_
evasion.c runs every one through the attachment, content and rules
filters with contrib/rules/default.rules and checks the verdict.  The
files are checked in; run this again only to change them:

    cd tests/data/evasion && python3 make.py

Archives are made here: zips with Python's zipfile (the encrypted one
by setting the encryption flag by hand), tar.gz with tarfile, 7z and
iso through libarchive's writer (ctypes), when it is installed.  RAR
samples are not made: nothing free writes RAR.
"""
import base64
import ctypes
import ctypes.util
import io
import struct
import tarfile
import zipfile

FROM = "From: sender@example.net\r\nTo: user@example.org\r\n"


def pe_bytes():
    """A small PE32 image libmagic reads as a Windows program."""
    b = bytearray(1024)
    b[0:2] = b"MZ"
    struct.pack_into("<I", b, 0x3C, 0x80)
    stub = b"This program cannot be run in DOS mode.\r\r\n$"
    b[0x4E:0x4E + len(stub)] = stub
    b[0x80:0x84] = b"PE\0\0"
    struct.pack_into("<HH", b, 0x84, 0x14C, 1)  # i386, 1 section
    struct.pack_into("<H", b, 0x94, 0xE0)  # optional header size
    struct.pack_into("<H", b, 0x96, 0x0102)  # executable, 32-bit
    struct.pack_into("<H", b, 0x98, 0x10B)  # PE32
    struct.pack_into("<H", b, 0xDC, 2)  # subsystem: GUI
    return bytes(b)


EXE = pe_bytes()
PNG = (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0"
       b"\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00"
       b"\x05\x18\xd8N\0\0\0\0IEND\xaeB`\x82")


def b64(data):
    s = base64.b64encode(data).decode()
    return "\r\n".join(s[i:i + 76] for i in range(0, len(s), 76))


def zip_of(members):
    """members: (name, bytes) in order; a name ending in '/' with
    bytes is a 'directory' that carries data."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            info = zipfile.ZipInfo(name, (2024, 1, 2, 3, 4, 5))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return out.getvalue()


def encrypted_zip(name, data):
    """A stored zip whose entry has the 'encrypted' flag (bit 0) set in
    its local and central headers: what a reader sees of a zip with a
    password."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        z.writestr(zipfile.ZipInfo(name, (2024, 1, 2, 3, 4, 5)), data)
    b = bytearray(out.getvalue())
    local = b.find(b"PK\x03\x04")
    central = b.find(b"PK\x01\x02")
    b[local + 6] |= 1
    b[central + 8] |= 1
    return bytes(b)


def libarchive_write(fmt, members, filters=()):
    """An archive in libarchive format fmt ("7zip", "iso9660"), or
    None when libarchive is not there."""
    path = ctypes.util.find_library("archive")
    if path is None:
        return None
    la = ctypes.CDLL(path)
    vp = ctypes.c_void_p
    la.archive_write_new.restype = vp
    la.archive_entry_new.restype = vp
    for f in ("archive_write_set_format_by_name", "archive_write_open_memory",
              "archive_write_header", "archive_write_close",
              "archive_write_free", "archive_write_add_filter_by_name"):
        getattr(la, f).argtypes = None
    la.archive_write_data.argtypes = [vp, ctypes.c_char_p, ctypes.c_size_t]
    la.archive_entry_set_pathname.argtypes = [vp, ctypes.c_char_p]
    la.archive_entry_set_size.argtypes = [vp, ctypes.c_int64]
    la.archive_entry_set_filetype.argtypes = [vp, ctypes.c_uint]
    la.archive_entry_set_perm.argtypes = [vp, ctypes.c_uint]
    la.archive_entry_free.argtypes = [vp]
    a = vp(la.archive_write_new())
    if la.archive_write_set_format_by_name(a, fmt.encode()) != 0:
        return None
    for f in filters:
        la.archive_write_add_filter_by_name(a, f.encode())
    buf = ctypes.create_string_buffer(4 << 20)
    used = ctypes.c_size_t(0)
    if la.archive_write_open_memory(a, buf, ctypes.c_size_t(len(buf)),
                                    ctypes.byref(used)) != 0:
        return None
    for name, data in members:
        e = vp(la.archive_entry_new())
        la.archive_entry_set_pathname(e, name.encode())
        la.archive_entry_set_size(e, len(data))
        la.archive_entry_set_filetype(e, 0o100000)
        la.archive_entry_set_perm(e, 0o644)
        la.archive_write_header(a, e)
        la.archive_write_data(a, data, len(data))
        la.archive_entry_free(e)
    la.archive_write_close(a)
    la.archive_write_free(a)
    return buf.raw[:used.value]


def tar_gz(members):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as t:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1704164645
            t.addfile(info, io.BytesIO(data))
    return out.getvalue()


def message(subject, parts, top_type=None, boundary="b1"):
    """parts: raw MIME part texts (headers, blank line, body)."""
    if top_type is not None:
        return (FROM + "Subject: " + subject + "\r\nMIME-Version: 1.0\r\n"
                + top_type + "\r\n" + parts[0])
    out = (FROM + "Subject: " + subject + "\r\nMIME-Version: 1.0\r\n"
           'Content-Type: multipart/mixed; boundary="' + boundary + '"\r\n'
           "\r\n--" + boundary + "\r\nContent-Type: text/plain\r\n\r\n"
           "Please see the attachment.\r\n")
    for p in parts:
        out += "--" + boundary + "\r\n" + p
    return out + "--" + boundary + "--\r\n"


def attach(ctype, disp, data):
    return ("Content-Type: " + ctype + "\r\n"
            + ("Content-Disposition: " + disp + "\r\n" if disp else "")
            + "Content-Transfer-Encoding: base64\r\n\r\n" + b64(data)
            + "\r\n")


def uuencode(name, data):
    lines = ["begin 644 " + name]
    for i in range(0, len(data), 45):
        chunk = data[i:i + 45]
        line = chr(32 + len(chunk))
        for j in range(0, len(chunk), 3):
            t = chunk[j:j + 3] + b"\0\0"
            n = (t[0] << 16) | (t[1] << 8) | t[2]
            for k in (18, 12, 6, 0):
                c = (n >> k) & 63
                line += chr(96 if c == 0 else 32 + c)
        lines.append(line)
    lines += ["`", "end"]
    return "\r\n".join(lines) + "\r\n"


def inner_message():
    return message("the file", [attach(
        'application/octet-stream; name="update.exe"',
        'attachment; filename="update.exe"', EXE)], boundary="inner")


def corpus():
    c = {}
    c["double_extension"] = message("invoice", [attach(
        "application/pdf", 'attachment; filename="invoice.pdf.exe"', EXE)])
    c["rtlo_name"] = message("photo", [attach(
        "application/octet-stream",
        "attachment; filename*=UTF-8''photo%E2%80%AEgpj.exe", EXE)])
    c["lying_type"] = message("holiday", [attach(
        'image/jpeg; name="beach.jpg"', 'attachment; filename="beach.jpg"',
        EXE)])
    c["zip_in_zip"] = message("documents", [attach(
        "application/zip", 'attachment; filename="documents.zip"',
        zip_of([("readme.txt", b"open the inner archive\n"),
                ("inner.zip", zip_of([("setup.exe", EXE)]))]))])
    c["encrypted_zip"] = message("password 1234", [attach(
        "application/zip", 'attachment; filename="secure.zip"',
        encrypted_zip("statement.pdf", b"%PDF-1.4 not really\n" * 20))])
    c["zip_bomb"] = message("big", [attach(
        "application/zip", 'attachment; filename="data.zip"',
        zip_of([("zeros.bin", bytes(20 << 20))]))])
    c["directory_entry"] = message("folder", [attach(
        "application/zip", 'attachment; filename="folder.zip"',
        zip_of([("docs/", b""), ("docs/payload.exe/", EXE)]))])
    c["empty_name"] = message("no name", [attach(
        "application/octet-stream", 'attachment; filename=""', EXE)])
    c["empty_member_name"] = message("no name inside", [attach(
        "application/zip", 'attachment; filename="files.zip"',
        zip_of([("", EXE)]))])
    c["name_only_in_type"] = message("name", [
        "Content-Type: application/octet-stream; name=\"run.exe\"\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n" + b64(EXE) + "\r\n"])
    c["rfc2231_split"] = message("split", [
        "Content-Type: application/octet-stream\r\n"
        "Content-Disposition: attachment;\r\n"
        ' filename*0="inv"; filename*1="oice.";\r\n'
        ' filename*2="ex"; filename*3="e"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n" + b64(EXE) + "\r\n"])
    c["uuencoded_in_text"] = message("uu", [
        "Content-Type: text/plain\r\n\r\nHere it is:\r\n\r\n"
        + uuencode("setup.exe", EXE) + "\r\nbye\r\n"],
        top_type="Content-Type: text/plain\r\n")
    c["attached_rfc822"] = message("fwd", [
        "Content-Type: message/rfc822\r\n\r\n" + inner_message()])
    c["attached_eml_file"] = message("fwd as file", [attach(
        'application/octet-stream; name="forward.eml"',
        'attachment; filename="forward.eml"',
        inner_message().encode())])
    c["zip_after_image"] = message("cat", [attach(
        "image/png", 'attachment; filename="cat.png"',
        PNG + zip_of([("payload.exe", EXE)]))])
    c["tar_gz"] = message("tarball", [attach(
        "application/gzip", 'attachment; filename="backup.tar.gz"',
        tar_gz([("backup/tool.exe", EXE)]))])
    sz = libarchive_write("7zip", [("payload.exe", EXE)])
    if sz is not None:
        c["seven_zip"] = message("7z", [attach(
            "application/x-7z-compressed", 'attachment; filename="a.7z"',
            sz)])
    iso = libarchive_write("iso9660", [("PAYLOAD.EXE", EXE)])
    if iso is not None:
        c["iso_image"] = message("disk", [attach(
            "application/octet-stream", 'attachment; filename="disk.bin"',
            iso)])
    # must pass: an ordinary zip of documents, HTML with links
    c["clean_zip"] = message("report", [attach(
        "application/zip", 'attachment; filename="report.zip"',
        zip_of([("report.txt", b"quarterly numbers\n" * 50),
                ("chart.png", PNG)]))])
    c["clean_html"] = message("news", [
        "Content-Type: text/html; charset=utf-8\r\n\r\n"
        "<html><head><style>p{color:red}</style></head><body>"
        "<p>Read <a href=\"https://News.Example.COM/today?x=1&amp;y=2\">"
        "the news</a> or visit www.example.org.</p>"
        "<script>var casino = 1;</script></body></html>\r\n"],
        top_type="Content-Type: text/html; charset=utf-8\r\n")
    return c


if __name__ == "__main__":
    for name, text in sorted(corpus().items()):
        with open(name + ".eml", "w", newline="") as f:
            f.write(text)
        print(name + ".eml")
