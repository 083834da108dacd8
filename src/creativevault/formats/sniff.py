"""Name a file's format from its first bytes (magic numbers), for summaries."""

from __future__ import annotations

import codecs

__all__ = ["HEAD_BYTES", "sniff"]

#: how many leading bytes :func:`sniff` needs
HEAD_BYTES = 64

# (offset, magic, name), first match wins; more specific entries come first.
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"8BPS\x00\x01", "Adobe Photoshop document (PSD)"),
    (0, b"8BPS\x00\x02", "Adobe Photoshop large document (PSB)"),
    (0, b"\x89PNG\r\n\x1a\n", "PNG image"),
    (0, b"\xff\xd8\xff", "JPEG image"),
    (0, b"v/1\x01", "OpenEXR image"),
    (0, b"#?RADIANCE", "Radiance HDR image"),
    (0, b"BLENDER", "Blender scene"),
    (0, b"FUJIFILMCCD-RAW", "Fujifilm RAF camera raw"),
    (0, b"IIU\x00", "Panasonic RW2 camera raw"),
    (0, b"IIRO", "Olympus ORF camera raw"),
    (4, b"ftypcrx ", "Canon CR3 camera raw"),
    (4, b"ftypheic", "HEIC image"),
    (4, b"ftypavif", "AVIF image"),
    (4, b"ftyp", "MP4/QuickTime movie"),
    (8, b"CR\x02", "Canon CR2 camera raw"),
    (0, b"II*\x00", "TIFF image (or TIFF-based camera raw: DNG, NEF, ARW)"),
    (0, b"MM\x00*", "TIFF image (or TIFF-based camera raw: DNG, NEF, ARW)"),
    (0, b"glTF", "glTF binary model (GLB)"),
    (0, b"ply\n", "PLY model"),
    (0, b"Kaydara FBX Binary", "Autodesk FBX model"),
    (0, b"solid ", "STL model (ASCII)"),
    (0, b"PK\x03\x04", "zip container (KRA, ORA, USDZ, ...)"),
    (0, b"RIFF", "RIFF container (WebP, WAV, AVI)"),
    (0, b"GIF8", "GIF image"),
    (0, b"%PDF", "PDF document"),
    (0, b"gimp xcf", "GIMP image (XCF)"),
    (0, b"DDS ", "DirectDraw surface texture (DDS)"),
    (0, b"\xabKTX 20", "KTX2 texture"),
    (0, b"PXR-USDC", "USD crate scene (USDC)"),
    (0, b"#usda", "USD ASCII scene (USDA)"),
    (0, b"\x28\xb5\x2f\xfd", "zstd-compressed data"),
    (0, b"\x1f\x8b", "gzip-compressed data"),
    (0, b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
)


def sniff(head: bytes, name: str = "") -> str:
    """A human name for the format that starts with ``head`` (``name`` breaks ties)."""
    for offset, magic, label in _MAGIC:
        if head[offset:offset + len(magic)] == magic:
            if label.startswith("zip container") and name:
                ext = name.rsplit(".", 1)[-1].lower()
                return {"kra": "Krita document (KRA)", "ora": "OpenRaster document (ORA)",
                        "usdz": "USD zip package (USDZ)"}.get(ext, label)
            return label
    if head[:4] == b"RIFF" or not head:
        return "empty file" if not head else "RIFF container"
    if b"\0" in head:  # valid UTF-8, but no text file holds NUL (git's rule too)
        return "binary data"
    try:
        # not final: a character cut at the end of ``head`` is still text
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "text"
    except UnicodeDecodeError:
        return "binary data"
