"""Photo metadata: EXIF, XMP and IPTC read from a file as flat, comparable fields.

Every field becomes one ``key -> text`` entry with exiv2-style keys, so two versions of a
photo compare field by field and a field's key reads the same in every file type:

- EXIF ``Exif.<group>.<TagName>``: groups ``Image`` (IFD0), ``Photo`` (the Exif IFD),
  ``GPSInfo``, ``Iop`` (interoperability), ``Thumbnail`` (IFD1); tag names from piexif's
  tables (``0x1234`` for tags it does not know). Layout tags (strip/tile offsets, IFD
  pointers) are left out: they move whenever anything is rewritten. The maker note and
  other binary blobs appear as ``<N bytes, sha256 …>``, so a change still shows.
- XMP ``Xmp.<prefix>.<Name>`` with the usual prefix of each namespace (``xmp``, ``dc``,
  ``photoshop``, ``crs``, ``lr``, …) whatever prefix the file declares; arrays are joined
  with ``; ``, language alternatives give ``Name`` (x-default) and ``Name[lang]``,
  structures ``Name/prefix:Field``.
- IPTC ``Iptc.<Envelope|Application2>.<DatasetName>`` (repeated datasets joined with ``; ``).

Reading is bounded: Pillow reads EXIF, XMP and IPTC by seeking through the file (never
decoding the image); containers Pillow cannot open (RW2, ORF, CR3, RAF) are searched in
their first :data:`SCAN_LIMIT` bytes, where cameras put their metadata. A part that cannot be read leaves a
note and the other parts are still returned. Leaf module: Pillow and piexif are imported
inside functions.
"""

from __future__ import annotations

import hashlib
import re
import struct
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "PHOTO_EXTENSIONS",
    "SCAN_LIMIT",
    "SIDECAR_EXTENSIONS",
    "PhotoMetadata",
    "is_photo",
    "is_sidecar",
    "parse_xmp",
    "read_metadata",
]

#: bytes searched for metadata in containers Pillow cannot open (and for an XMP packet)
SCAN_LIMIT = 16 * 1024 * 1024
#: longest XMP packet read (Lightroom's develop history can be hundreds of KB)
MAX_XMP = 8 * 1024 * 1024
#: longest value text kept for a field
MAX_VALUE = 300

#: extensions treated as photos (their metadata is compared)
PHOTO_EXTENSIONS = frozenset({
    "jpg", "jpeg", "jpe", "tif", "tiff", "heic", "heif", "webp",
    "dng", "cr2", "cr3", "crw", "nef", "nrw", "arw", "srf", "sr2", "raf", "rw2", "orf",
    "pef", "srw", "3fr", "iiq", "x3f", "erf",
})
#: XMP sidecar files
SIDECAR_EXTENSIONS = frozenset({"xmp"})

_PHOTO_MAGIC = (b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"IIU\x00", b"IIRO", b"IIRS",
                b"MMOR", b"FUJIFILMCCD-RAW")

# IFD name (piexif's) -> (exiv2 group, how to reach it from a Pillow Exif object)
_IFD1 = -1  # PIL.ExifTags.IFD.IFD1
_GROUPS: tuple[tuple[str, str, int | None], ...] = (
    ("0th", "Image", None), ("Exif", "Photo", 0x8769), ("GPS", "GPSInfo", 0x8825),
    ("Interop", "Iop", 0xA005), ("1st", "Thumbnail", _IFD1),
)
#: tags describing the file's layout, not the photo (offsets, counts, IFD pointers) and
#: tags whose payload is parsed as its own part (XMP 700, IPTC 33723, Photoshop 34377)
_LAYOUT_TAGS = frozenset({0x0111, 0x0117, 0x0144, 0x0145, 0x0201, 0x0202, 0x014A, 0x8769,
                          0x8825, 0xA005, 0x02BC, 0x83BB, 0x8649})

_RATIONAL_TYPES = frozenset({5, 10})


@dataclass
class PhotoMetadata:
    """The metadata fields of one file, by family, plus notes on parts that failed."""

    exif: dict[str, str] = field(default_factory=dict)
    xmp: dict[str, str] = field(default_factory=dict)
    iptc: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def fields(self) -> dict[str, str]:
        """Every field, EXIF then XMP then IPTC (keys never collide: prefixes differ)."""
        return {**self.exif, **self.xmp, **self.iptc}

    def counts(self) -> dict[str, int]:
        return {"exif": len(self.exif), "xmp": len(self.xmp), "iptc": len(self.iptc)}


def _extension(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[-1].lower() if "." in base else ""


def is_sidecar(name: str) -> bool:
    """Whether ``name`` is an XMP sidecar (``IMG_0001.xmp``)."""
    return _extension(name) in SIDECAR_EXTENSIONS


def is_photo(name: str, head: bytes = b"") -> bool:
    """Whether a file called ``name`` starting with ``head`` is a photo (JPEG, TIFF, raw…)."""
    ext = _extension(name)
    if ext in PHOTO_EXTENSIONS:
        return True
    if ext:
        return False  # a named format that is not a photo (a PNG, a PSD) is not one
    return head.startswith(_PHOTO_MAGIC) or head[4:12] == b"ftypcrx "


# ------------------------------------------------------------------ reading
def read_metadata(path: Path, name: str | None = None) -> PhotoMetadata:
    """The EXIF, XMP and IPTC fields of the file at ``path`` (``name`` gives its type).

    Never raises for a damaged file: each part that cannot be read adds a note. Raises
    :class:`OSError` only when the file itself cannot be opened.
    """
    path = Path(path)
    name = name or path.name
    meta = PhotoMetadata()
    with path.open("rb") as f:
        start = f.read(64)
        if is_sidecar(name) or start.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(
                (b"<?xpacket", b"<x:xmpmeta", b"<x:xapmeta", b"<rdf:RDF")):
            _read_xmp(start + f.read(MAX_XMP - len(start)), meta)
            return meta
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _read_embedded(path, meta)
    return meta


def _read_embedded(path: Path, meta: PhotoMetadata) -> None:
    from PIL import Image, UnidentifiedImageError

    im = None
    try:
        im = Image.open(path)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError,
            SyntaxError, struct.error, EOFError):
        im = None
    except Exception:  # a plug-in tripping over a damaged header
        im = None
    if im is None:
        # a container Pillow does not read: its metadata sits near the start
        with path.open("rb") as f:
            head = f.read(SCAN_LIMIT)
        try:
            _exif_from_bytes(head, meta)
        except Exception as exc:
            meta.notes.append(f"EXIF unreadable: {_reason(exc)}")
        _read_xmp(_scan_xmp(head), meta)
        return
    try:
        try:
            _exif_from_pillow(im.getexif(), meta)
        except Exception as exc:
            meta.notes.append(f"EXIF unreadable: {_reason(exc)}")
        # Pillow finds the packet where each format keeps it (JPEG APP1, TIFF tag 700,
        # WebP/PNG chunks)
        packet = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
        if isinstance(packet, str):
            packet = packet.encode("utf-8")
        _read_xmp(packet, meta)
        try:
            _iptc_from_pillow(im, meta)
        except Exception as exc:
            meta.notes.append(f"IPTC unreadable: {_reason(exc)}")
    finally:
        im.close()


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else ""
    return f"{type(exc).__name__}: {line}"[:200] if line else type(exc).__name__


# ------------------------------------------------------------------ EXIF
def _exif_from_pillow(exif: Any, meta: PhotoMetadata) -> None:
    for ifd, group, pointer in _GROUPS:
        if pointer is None:
            tags = dict(exif)
        else:
            try:
                tags = dict(exif.get_ifd(pointer))
            except (KeyError, ValueError, TypeError, struct.error, OSError, SyntaxError):
                meta.notes.append(f"EXIF {group} directory unreadable")
                continue
        _add_exif(meta, ifd, group, tags)


def _exif_from_bytes(data: bytes, meta: PhotoMetadata) -> None:
    """EXIF from a container Pillow cannot open: TIFF-like raws with their own magic
    (RW2, ORF), Canon CR3 (``CMT1``…``CMT4`` boxes) or an embedded JPEG's APP1 (RAF)."""
    from PIL import Image

    if data[:4] in (b"IIU\x00", b"IIRO", b"IIRS"):
        exif = Image.Exif()
        exif.load(b"II*\x00" + data[4:])
        _exif_from_pillow(exif, meta)
        return
    if data[:4] == b"MMOR":
        exif = Image.Exif()
        exif.load(b"MM\x00*" + data[4:])
        _exif_from_pillow(exif, meta)
        return
    if data[4:12] == b"ftypcrx ":
        for box, ifd, group in ((b"CMT1", "0th", "Image"), (b"CMT2", "Exif", "Photo"),
                                (b"CMT4", "GPS", "GPSInfo")):
            at = data.find(box)
            if at < 4:
                continue
            size = struct.unpack(">I", data[at - 4:at])[0]
            exif = Image.Exif()
            exif.load(data[at + 4:at - 4 + size])
            _add_exif(meta, ifd, group, dict(exif))
        return
    at = data.find(b"Exif\x00\x00")
    if at >= 0 and data[at + 6:at + 10] in (b"II*\x00", b"MM\x00*"):
        exif = Image.Exif()
        exif.load(data[at:])
        _exif_from_pillow(exif, meta)


def _tag_info(ifd: str, tag: int) -> tuple[str, int | None]:
    import piexif

    info = piexif.TAGS.get(ifd, {}).get(tag)
    if info is None and ifd == "1st":
        info = piexif.TAGS["0th"].get(tag)
    if info is None:
        from PIL import ExifTags

        name = (ExifTags.GPSTAGS.get(tag) if ifd == "GPS" else ExifTags.TAGS.get(tag))
        return (name or f"0x{tag:04x}"), None
    return info["name"], info["type"]


def _add_exif(meta: PhotoMetadata, ifd: str, group: str, tags: dict[int, Any]) -> None:
    for tag, value in tags.items():
        if tag in _LAYOUT_TAGS:
            continue
        name, kind = _tag_info(ifd, tag)
        meta.exif[f"Exif.{group}.{name}"] = _format(value, kind)


def _format(value: Any, kind: int | None = None) -> str:
    """A stable, readable text for an EXIF value."""
    if hasattr(value, "numerator") and hasattr(value, "denominator") \
            and not isinstance(value, int):
        return _rational(int(value.numerator), int(value.denominator))
    if isinstance(value, tuple):
        if kind in _RATIONAL_TYPES and len(value) == 2 and all(isinstance(v, int)
                                                               for v in value):
            return _rational(value[0], value[1])
        return ", ".join(_format(v, kind) for v in value)
    if isinstance(value, bytes):
        return _format_bytes(value)
    if isinstance(value, str):
        return _clip(value.rstrip("\x00").strip())
    if isinstance(value, float):
        return f"{value:.10g}"
    return _clip(str(value))


def _rational(num: int, den: int) -> str:
    if den == 0:
        return f"{num}/0"
    if num % den == 0:
        return str(num // den)
    return f"{num}/{den} ({num / den:.6g})"


def _format_bytes(data: bytes) -> str:
    stripped = data.rstrip(b"\x00")
    if len(stripped) <= 64 and stripped and all(32 <= c < 127 for c in stripped):
        return stripped.decode("ascii").strip()
    if stripped.startswith((b"ASCII\x00\x00\x00", b"UNICODE\x00")):  # UserComment
        body = stripped[8:]
        text = body.decode("ascii" if stripped[0] == 65 else "utf-16", "replace")
        return _clip(text.rstrip("\x00").strip())
    if len(data) <= 16:
        return " ".join(f"{c:02x}" for c in data)
    try:
        text = stripped.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    if text and text.isprintable():
        return _clip(text.strip())
    return f"<{len(data):,} bytes, sha256 {hashlib.sha256(data).hexdigest()[:12]}>"


def _clip(text: str) -> str:
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE - 1] + "…"


# ------------------------------------------------------------------ XMP
_NS_PREFIX = {
    "http://ns.adobe.com/xap/1.0/": "xmp",
    "http://ns.adobe.com/xap/1.0/mm/": "xmpMM",
    "http://ns.adobe.com/xap/1.0/rights/": "xmpRights",
    "http://ns.adobe.com/xap/1.0/bj/": "xmpBJ",
    "http://ns.adobe.com/xap/1.0/g/img/": "xmpGImg",
    "http://ns.adobe.com/xap/1.0/sType/ResourceRef#": "stRef",
    "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#": "stEvt",
    "http://ns.adobe.com/xap/1.0/sType/Dimensions#": "stDim",
    "http://ns.adobe.com/xmp/1.0/DynamicMedia/": "xmpDM",
    "http://purl.org/dc/elements/1.1/": "dc",
    "http://ns.adobe.com/photoshop/1.0/": "photoshop",
    "http://ns.adobe.com/exif/1.0/": "exif",
    "http://ns.adobe.com/exif/1.0/aux/": "aux",
    "http://cipa.jp/exif/1.0/": "exifEX",
    "http://ns.adobe.com/tiff/1.0/": "tiff",
    "http://ns.adobe.com/camera-raw-settings/1.0/": "crs",
    "http://ns.adobe.com/lightroom/1.0/": "lr",
    "http://ns.adobe.com/pdf/1.3/": "pdf",
    "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/": "Iptc4xmpCore",
    "http://iptc.org/std/Iptc4xmpExt/2008-02-29/": "Iptc4xmpExt",
    "http://ns.useplus.org/ldf/xmp/1.0/": "plus",
    "http://ns.google.com/photos/1.0/panorama/": "GPano",
    "http://ns.microsoft.com/photo/1.0/": "MicrosoftPhoto",
    "http://ns.adobe.com/iX/1.0/": "iX",
}
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_XML = "http://www.w3.org/XML/1998/namespace"
_X = "adobe:ns:meta/"
_START = re.compile(rb"<(?:x:xmpmeta|x:xapmeta|rdf:RDF)[\s>]")
_ENDS = (b"</x:xmpmeta>", b"</x:xapmeta>", b"</rdf:RDF>")


def _scan_xmp(data: bytes) -> bytes | None:
    """The first UTF-8 XMP packet in ``data`` (files whose container Pillow does not read)."""
    match = _START.search(data)
    if match is None:
        return None
    start = match.start()
    end = -1
    for marker in _ENDS:
        at = data.find(marker, start)
        if at >= 0:
            end = at + len(marker)
            break
    if end < 0 or end - start > MAX_XMP:
        return None
    return data[start:end]


def _read_xmp(packet: bytes | None, meta: PhotoMetadata) -> None:
    if not packet:
        return
    try:
        meta.xmp.update(parse_xmp(packet))
    except ValueError as exc:
        meta.notes.append(f"XMP unreadable: {exc}")


def _decode_packet(packet: bytes) -> str:
    body = packet.rstrip(b"\x00 \t\r\n")
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8"), (b"\xfe\xff", "utf-16-be"),
                       (b"\xff\xfe", "utf-16-le")):
        if body.startswith(bom):
            return body[len(bom):].decode(codec, "replace")
    if body.startswith(b"\x00<"):
        return body.decode("utf-16-be", "replace")
    if body.startswith(b"<\x00"):
        return body.decode("utf-16-le", "replace")
    return body.decode("utf-8", "replace")


def parse_xmp(packet: bytes) -> dict[str, str]:
    """The properties of an XMP packet as ``Xmp.<prefix>.<Name>`` -> text.

    Raises :class:`ValueError` for a packet that is not well-formed XML or that declares a
    DOCTYPE (entity expansion is refused rather than risked).
    """
    import io
    import xml.etree.ElementTree as ET

    text = _decode_packet(packet).replace("\x00", "")
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)  # the str already is decoded
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise ValueError("XMP packet declares a DOCTYPE; refused")
    declared: dict[str, str] = {}
    try:
        for _event, (prefix, uri) in ET.iterparse(io.StringIO(text), events=("start-ns",)):
            declared.setdefault(uri, prefix)
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ValueError(f"not well-formed XML ({exc})") from None
    rdf = root if root.tag == f"{{{_RDF}}}RDF" else root.find(f".//{{{_RDF}}}RDF")
    if rdf is None:
        return {}
    prefixes = {**declared, **_NS_PREFIX}
    out: dict[str, str] = {}
    for desc in rdf.findall(f"{{{_RDF}}}Description"):
        _description(desc, None, prefixes, out)
    return out


def _qname(tag: str, prefixes: dict[str, str]) -> tuple[str, str]:
    if tag.startswith("{"):
        uri, _, local = tag[1:].partition("}")
        return prefixes.get(uri, uri), local
    return "", tag


def _key(parent: str | None, tag: str, prefixes: dict[str, str]) -> str:
    prefix, local = _qname(tag, prefixes)
    if parent is None:
        return f"Xmp.{prefix}.{local}"
    return f"{parent}/{prefix}:{local}"


def _description(node: Any, parent: str | None, prefixes: dict[str, str],
                 out: dict[str, str]) -> None:
    """Properties of an ``rdf:Description`` (attributes and child elements)."""
    for attr, value in node.attrib.items():
        if attr.startswith((f"{{{_RDF}}}", f"{{{_XML}}}")) or attr in ("about",):
            continue
        out[_key(parent, attr, prefixes)] = _clip(value.strip())
    for child in node:
        _property(child, _key(parent, child.tag, prefixes), prefixes, out)


def _property(node: Any, key: str, prefixes: dict[str, str], out: dict[str, str]) -> None:
    resource = node.get(f"{{{_RDF}}}resource")
    if resource is not None:
        out[key] = _clip(resource)
        return
    if node.get(f"{{{_RDF}}}parseType") == "Resource":
        _description(node, key, prefixes, out)
        return
    children = list(node)
    if not children:
        if node.attrib and any(not a.startswith(f"{{{_XML}}}") for a in node.attrib):
            _description(node, key, prefixes, out)  # a struct written as attributes
        else:
            out[key] = _clip((node.text or "").strip())
        return
    inner = children[0]
    if inner.tag == f"{{{_RDF}}}Description":
        _description(inner, key, prefixes, out)
    elif inner.tag == f"{{{_RDF}}}Alt":
        for li in inner:
            lang = li.get(f"{{{_XML}}}lang")
            name = key if lang in (None, "x-default") else f"{key}[{lang}]"
            out[name] = _clip((li.text or "").strip())
    elif inner.tag in (f"{{{_RDF}}}Seq", f"{{{_RDF}}}Bag"):
        items = list(inner)
        if all(not list(li) and not _struct_attrs(li) for li in items):
            out[key] = _clip("; ".join((li.text or "").strip() for li in items))
        else:
            for i, li in enumerate(items, 1):
                sub = f"{key}[{i}]"
                if li.get(f"{{{_RDF}}}parseType") == "Resource" or _struct_attrs(li):
                    _description(li, sub, prefixes, out)
                elif list(li) and list(li)[0].tag == f"{{{_RDF}}}Description":
                    _description(list(li)[0], sub, prefixes, out)
                else:
                    out[sub] = _clip((li.text or "").strip())
    else:  # a struct written without rdf:Description
        for child in children:
            _property(child, _key(key, child.tag, prefixes), prefixes, out)


def _struct_attrs(node: Any) -> bool:
    return any(not a.startswith((f"{{{_RDF}}}", f"{{{_XML}}}")) for a in node.attrib)


# ------------------------------------------------------------------ IPTC
_IPTC_NAMES = {
    (1, 0): "Envelope.ModelVersion", (1, 5): "Envelope.Destination",
    (1, 20): "Envelope.FileFormat", (1, 30): "Envelope.ServiceId",
    (1, 70): "Envelope.DateSent", (1, 90): "Envelope.CharacterSet",
    (2, 0): "Application2.RecordVersion", (2, 3): "Application2.ObjectType",
    (2, 4): "Application2.ObjectAttribute", (2, 5): "Application2.ObjectName",
    (2, 7): "Application2.EditStatus", (2, 10): "Application2.Urgency",
    (2, 12): "Application2.Subject", (2, 15): "Application2.Category",
    (2, 20): "Application2.SuppCategory", (2, 22): "Application2.FixtureId",
    (2, 25): "Application2.Keywords", (2, 26): "Application2.LocationCode",
    (2, 27): "Application2.LocationName", (2, 30): "Application2.ReleaseDate",
    (2, 35): "Application2.ReleaseTime", (2, 37): "Application2.ExpirationDate",
    (2, 40): "Application2.SpecialInstructions", (2, 45): "Application2.ReferenceService",
    (2, 47): "Application2.ReferenceDate", (2, 50): "Application2.ReferenceNumber",
    (2, 55): "Application2.DateCreated", (2, 60): "Application2.TimeCreated",
    (2, 62): "Application2.DigitizationDate", (2, 63): "Application2.DigitizationTime",
    (2, 65): "Application2.Program", (2, 70): "Application2.ProgramVersion",
    (2, 75): "Application2.ObjectCycle", (2, 80): "Application2.Byline",
    (2, 85): "Application2.BylineTitle", (2, 90): "Application2.City",
    (2, 92): "Application2.SubLocation", (2, 95): "Application2.ProvinceState",
    (2, 100): "Application2.CountryCode", (2, 101): "Application2.CountryName",
    (2, 103): "Application2.TransmissionReference", (2, 105): "Application2.Headline",
    (2, 110): "Application2.Credit", (2, 115): "Application2.Source",
    (2, 116): "Application2.Copyright", (2, 118): "Application2.Contact",
    (2, 120): "Application2.Caption", (2, 122): "Application2.Writer",
    (2, 130): "Application2.ImageType", (2, 131): "Application2.ImageOrientation",
    (2, 135): "Application2.Language",
}


def _iptc_from_pillow(im: Any, meta: PhotoMetadata) -> None:
    from PIL import IptcImagePlugin

    info = IptcImagePlugin.getiptcinfo(im)
    if not info:
        return
    for (record, dataset), value in sorted(info.items()):
        name = _IPTC_NAMES.get((record, dataset), f"{record}:{dataset}")
        values: Iterable[bytes] = value if isinstance(value, list) else [value]
        meta.iptc[f"Iptc.{name}"] = _clip("; ".join(_iptc_text(v, (record, dataset))
                                                    for v in values))


def _iptc_text(value: bytes, key: tuple[int, int]) -> str:
    if key in ((2, 0), (1, 0), (1, 20), (1, 22)) and len(value) <= 2:
        return str(int.from_bytes(value, "big"))
    if key == (1, 90):
        return "UTF-8" if value == b"\x1b%G" else value.hex(" ")
    try:  # UTF-8 whether or not 1:90 says so (most writers today); else Latin-1
        return value.decode("utf-8").strip()
    except UnicodeDecodeError:
        return value.decode("latin-1").strip()
