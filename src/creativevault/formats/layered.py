"""Layered documents: Photoshop PSD/PSB, OpenRaster (.ora) and Krita (.kra).

:func:`load_layered` reads a document's layer tree and, for every layer, a hash of its
*stored* pixel data (PSD channel bytes as compressed in the file, the ORA layer PNG, the
Krita tile file) without decoding any pixels, so two versions of a 500 MB file can be
compared layer by layer and only the layers whose hashes differ need decoding
(:meth:`LayeredDoc.decode_layer`).

Layer identity (:attr:`LayerInfo.id`) is what stays the same when a layer is renamed or
moved: Photoshop's layer id (the ``lyid`` tagged block), Krita's node uuid, and otherwise
the layer's path in the group tree with an occurrence number (``name:Group 1/Sky#0``).

The stack is listed bottom to top, a group before its children (psd-tools' order).
Decoded pixels are RGBA at the format's own precision: uint8, uint16 (16-bit PSD, Krita
RGBA16, 16-bit PNG) or float32 (32-bit PSD, Krita float).
"""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from creativevault.errors import InputFileError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = ["LAYERED_EXTENSIONS", "LayerInfo", "LayeredDoc", "is_layered", "load_layered"]

#: file name extensions :func:`load_layered` reads
LAYERED_EXTENSIONS = (".psd", ".psb", ".ora", ".kra")


@dataclass(frozen=True)
class LayerInfo:
    """One layer or group of a layered document, as stored (nothing decoded)."""

    id: str  # stable identity across versions (see the module docstring)
    name: str
    path: str  # position in the group tree, "Group 1/Sky"
    index: int  # position in the stack, 0 = bottom
    bbox: tuple[int, int, int, int]  # x0, y0, x1, y1 on the canvas
    opacity: float  # 0..1
    blend_mode: str  # "normal", "multiply", "pass-through", ...
    visible: bool  # the layer's own flag (a hidden group hides its children too)
    has_mask: bool
    mask_hash: str | None
    pixel_hash: str | None  # hash of the stored pixel data and its placement
    kind: str  # "layer" | "group"
    detail: str = ""  # the format's own layer type: pixel, shape, type, paintlayer, ...
    parent: str | None = None  # id of the enclosing group

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "path": self.path, "index": self.index,
                "bbox": list(self.bbox), "opacity": round(self.opacity, 4),
                "blend_mode": self.blend_mode, "visible": self.visible,
                "has_mask": self.has_mask, "kind": self.kind, "detail": self.detail}


@dataclass
class LayeredDoc:
    """A layered document opened for comparison; decodes pixels only when asked."""

    path: Path
    format: str  # "psd" | "psb" | "ora" | "kra"
    size: tuple[int, int]  # width, height
    bit_depth: int
    layers: list[LayerInfo] = field(default_factory=list)
    _decoder: Callable[[LayerInfo], Any] | None = field(default=None, repr=False)
    _compositor: Callable[[], Any] | None = field(default=None, repr=False)
    _closer: Callable[[], None] | None = field(default=None, repr=False)

    def layer(self, layer_id: str) -> LayerInfo:
        """The layer with identity ``layer_id`` (KeyError if absent)."""
        for info in self.layers:
            if info.id == layer_id:
                return info
        raise KeyError(layer_id)

    def decode_layer(self, layer_id: str) -> np.ndarray:
        """The layer's pixels over its :attr:`LayerInfo.bbox`, RGBA (h, w, 4), native precision.

        Groups and layers without pixels give an empty (0, 0, 4) array.
        """
        import numpy as np

        info = self.layer(layer_id)
        x0, y0, x1, y1 = info.bbox
        if info.kind == "group" or x1 <= x0 or y1 <= y0 or self._decoder is None:
            return np.zeros((0, 0, 4), np.uint8)
        try:
            return self._decoder(info)
        except InputFileError:
            raise
        except Exception as exc:
            raise InputFileError(f"cannot decode layer {info.name!r} ({exc})",
                                 path=self.path) from None

    def composite(self) -> np.ndarray:
        """The whole image as stored in the file (PSD merged image data, ORA/KRA
        ``mergedimage.png``), else a flattening of the visible layers (normal blending
        only). RGB or RGBA, native precision."""
        try:
            out = self._compositor() if self._compositor is not None else None
            return out if out is not None else self.flatten()
        except InputFileError:
            raise
        except Exception as exc:
            raise InputFileError(f"cannot decode the composite image ({exc})",
                                 path=self.path) from None

    def flatten(self) -> np.ndarray:
        """Visible layers blended "over" in stack order (opacity applied, blend modes
        ignored): float32 RGBA in 0..1. An approximation for documents with no composite."""
        import numpy as np

        w, h = self.size
        out = np.zeros((h, w, 4), np.float32)
        by_id = {info.id: info for info in self.layers}
        for info in self.layers:
            if info.kind == "group" or not _shown(info, by_id):
                continue
            x0, y0, x1, y1 = info.bbox
            cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
            if cx0 >= cx1 or cy0 >= cy1:
                continue
            src = _unit(self.decode_layer(info.id))[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0]
            a = src[..., 3:4] * _opacity(info, by_id)
            dst = out[cy0:cy1, cx0:cx1]
            dst[..., :3] = src[..., :3] * a + dst[..., :3] * (1 - a)
            dst[..., 3:4] = a + dst[..., 3:4] * (1 - a)
        return out

    def close(self) -> None:
        """Release the open file (zip documents); the doc cannot decode afterwards."""
        if self._closer is not None:
            self._closer()
            self._closer = None

    def __enter__(self) -> LayeredDoc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _shown(info: LayerInfo, by_id: dict[str, LayerInfo]) -> bool:
    node: LayerInfo | None = info
    while node is not None:
        if not node.visible:
            return False
        node = by_id.get(node.parent) if node.parent else None
    return True


def _opacity(info: LayerInfo, by_id: dict[str, LayerInfo]) -> float:
    value, node = 1.0, info
    while True:
        value *= node.opacity
        if not node.parent or node.parent not in by_id:
            return value
        node = by_id[node.parent]


def _unit(a: np.ndarray) -> np.ndarray:
    """Pixels as float32 in 0..1."""
    import numpy as np

    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    if a.dtype == np.uint16:
        return a.astype(np.float32) / 65535.0
    return a.astype(np.float32)


def is_layered(name: str, head: bytes = b"") -> bool:
    """Whether a file called ``name`` starting with ``head`` is a layered document."""
    ext = PurePosixPath(name).suffix.lower()
    if ext in (".psd", ".psb"):
        return head[:4] in (b"8BPS", b"")
    if ext in (".ora", ".kra"):
        return head[:2] in (b"PK", b"")
    return head[:6] in (b"8BPS\x00\x01", b"8BPS\x00\x02")


def load_layered(path: str | Path) -> LayeredDoc:
    """Open a PSD/PSB, ORA or KRA document: its layer tree and hashes, no pixels decoded.

    Raises :class:`~creativevault.errors.InputFileError` naming the file when it cannot
    be read, is truncated or corrupt.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise InputFileError(f"cannot read ({exc.strerror or exc})", path=path) from None
    try:
        if head == b"8BPS":
            return _load_psd(path)
        if head[:2] == b"PK":
            return _load_zip(path)
    except InputFileError:
        raise
    except Exception as exc:  # psd-tools, zipfile, XML and struct errors alike
        raise InputFileError(f"not a readable layered document ({type(exc).__name__}: "
                             f"{exc})", path=path) from None
    raise InputFileError("not a layered document (PSD, PSB, ORA or KRA)", path=path,
                         expected="8BPS or a zip container", actual=head.hex())


# --------------------------------------------------------------------------- hashing


class _Hasher:
    def __init__(self) -> None:
        import blake3

        self._h = blake3.blake3()

    def update(self, *parts: bytes | str | int | Iterable[int]) -> _Hasher:
        for p in parts:
            if isinstance(p, str):
                p = p.encode("utf-8")
            elif isinstance(p, int):
                p = struct.pack(">q", p)
            elif not isinstance(p, (bytes, bytearray, memoryview)):
                p = b"".join(struct.pack(">q", int(v)) for v in p)
            self._h.update(struct.pack(">Q", len(p)))
            self._h.update(p)
        return self

    def hexdigest(self) -> str:
        return self._h.hexdigest(length=16)


def _identities(entries: list[tuple[str, str | None]]) -> list[str]:
    """Stable ids from (path, native id or None); a native id seen twice is not used."""
    natives = [n for _, n in entries if n]
    dup = {n for n in natives if natives.count(n) > 1}
    seen: dict[str, int] = {}
    out = []
    for p, native in entries:
        if native and native not in dup:
            out.append(native)
            continue
        k = seen.get(p, 0)
        seen[p] = k + 1
        out.append(f"name:{p}#{k}")
    return out


def _blend_name(raw: str) -> str:
    name = raw.split(":", 1)[-1].strip().lower().replace("_", "-").replace(" ", "-")
    return {"src-over": "normal", "pass-through": "pass-through",
            "passthrough": "pass-through"}.get(name, name or "normal")


# --------------------------------------------------------------------------- PSD / PSB


def _load_psd(path: Path) -> LayeredDoc:
    from psd_tools import PSDImage

    psd = PSDImage.open(path)
    header = psd._record.header
    rows: list[dict[str, Any]] = []
    for index, layer in enumerate(psd.descendants()):
        names = []
        node: Any = layer
        while node is not None and node is not psd:
            names.append(node.name)
            node = node.parent
        lpath = "/".join(reversed(names))
        native = layer.layer_id
        rows.append({"layer": layer, "path": lpath, "index": index,
                     "native": f"psd:{native}" if isinstance(native, int) and native > 0
                     else None})
    ids = _identities([(r["path"], r["native"]) for r in rows])
    id_of = {id(r["layer"]): i for r, i in zip(rows, ids, strict=True)}
    infos: list[LayerInfo] = []
    channels_of: dict[str, Any] = {}
    for r, lid in zip(rows, ids, strict=True):
        layer = r["layer"]
        record = layer._record
        group = layer.is_group()
        pix, mask = _Hasher(), _Hasher()
        box = (record.left, record.top, record.right, record.bottom)
        pix.update(box)
        has_pixels = False
        for ci, cd in zip(record.channel_info, layer._channels, strict=False):
            target = pix if int(ci.id) >= -1 else mask
            target.update(int(ci.id), int(cd.compression), cd.data)
            has_pixels |= int(ci.id) >= -1 and bool(cd.data)
        md = record.mask_data
        if md is not None:
            mask.update((md.left, md.top, md.right, md.bottom, md.background_color,
                         int(md.flags.mask_disabled), int(md.flags.invert_mask)))
        parent = layer.parent
        infos.append(LayerInfo(
            id=lid, name=layer.name, path=r["path"], index=r["index"],
            bbox=tuple(layer.bbox) if group else box,  # a layer's stored pixels' box
            opacity=layer.opacity / 255.0,
            blend_mode=_blend_name(getattr(layer.blend_mode, "name", str(layer.blend_mode))),
            visible=bool(layer.visible), has_mask=layer.has_mask(),
            mask_hash=mask.hexdigest() if md is not None else None,
            pixel_hash=None if group else pix.hexdigest(),
            kind="group" if group else "layer", detail=layer.kind,
            parent=id_of.get(id(parent)) if parent is not None else None))
        channels_of[lid] = layer
    ext = path.suffix.lower().lstrip(".")
    doc = LayeredDoc(path, "psb" if header.version == 2 or ext == "psb" else "psd",
                     (header.width, header.height), int(header.depth), infos)

    def decode(info: LayerInfo) -> np.ndarray:
        return _psd_layer_pixels(psd, channels_of[info.id], header)

    def composite() -> np.ndarray:
        return _psd_composite(psd, header)

    doc._decoder, doc._compositor = decode, composite
    return doc


def _psd_dtype(depth: int) -> Any:
    import numpy as np

    return {8: np.dtype(np.uint8), 16: np.dtype(">u2"), 32: np.dtype(">f4")}.get(depth)


def _full(dtype: Any) -> float:
    import numpy as np

    return 1.0 if dtype.kind == "f" else float(np.iinfo(dtype).max)


def _psd_layer_pixels(psd: Any, layer: Any, header: Any) -> np.ndarray:
    import numpy as np

    record = layer._record
    w, h = record.width, record.height
    dtype = _psd_dtype(int(header.depth))
    mode = int(header.color_mode)
    colors = {3: (0, 1, 2), 1: (0, 0, 0)}.get(mode)  # RGB, grayscale
    if dtype is None or colors is None:  # bitmap, indexed, CMYK, Lab: psd-tools converts
        img = layer.topil()
        if img is None:
            return np.zeros((h, w, 4), np.uint8)
        return np.asarray(img.convert("RGBA"))
    planes: dict[int, np.ndarray] = {}
    for ci, cd in zip(record.channel_info, layer._channels, strict=False):
        cid = int(ci.id)
        if cid in (-1, *colors) and cd.data:
            raw = cd.get_data(w, h, int(header.depth), int(header.version))
            planes[cid] = np.frombuffer(raw, dtype, count=w * h).reshape(h, w)
    out = np.zeros((h, w, 4), dtype.newbyteorder("="))
    for k, cid in enumerate(colors):
        if cid in planes:
            out[..., k] = planes[cid]
    out[..., 3] = planes[-1] if -1 in planes else _full(dtype)
    return out


def _psd_composite(psd: Any, header: Any) -> np.ndarray:
    import numpy as np

    dtype = _psd_dtype(int(header.depth))
    mode = int(header.color_mode)
    colors = {3: (0, 1, 2), 1: (0, 0, 0)}.get(mode)
    if not psd.has_preview() or dtype is None or colors is None:
        return np.asarray(psd.composite().convert("RGB"))
    planes = psd._record.image_data.get_data(header)
    w, h = int(header.width), int(header.height)
    out = np.empty((h, w, 3), dtype.newbyteorder("="))
    for k, c in enumerate(colors):
        out[..., k] = np.frombuffer(planes[c], dtype, count=w * h).reshape(h, w)
    return out


# --------------------------------------------------------------------------- zip (ORA, KRA)


def _load_zip(path: Path) -> LayeredDoc:
    zf = zipfile.ZipFile(path)
    try:
        names = set(zf.namelist())
        mimetype = zf.read("mimetype").decode("ascii", "replace").strip() \
            if "mimetype" in names else ""
        if mimetype == "application/x-krita" or "maindoc.xml" in names:
            doc = _load_kra(path, zf, names)
        elif mimetype == "image/openraster" or "stack.xml" in names:
            doc = _load_ora(path, zf, names)
        else:
            raise InputFileError("zip container is neither OpenRaster nor Krita", path=path,
                                 expected="stack.xml or maindoc.xml", actual=mimetype or None)
    except BaseException:
        zf.close()
        raise
    doc._closer = zf.close
    return doc


def _png_size(data: bytes) -> tuple[int, int]:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("layer is not a PNG image")
    w, h = struct.unpack(">II", data[16:24])
    return int(w), int(h)


def _png_rgba(data: bytes) -> np.ndarray:
    """A PNG as RGBA at its own precision (8 or 16 bits)."""
    import numpy as np

    if len(data) > 25 and data[24] == 16:  # 16-bit: Pillow would reduce it to 8 bits
        import imagecodecs

        a = np.asarray(imagecodecs.png_decode(data))
        if a.ndim == 2:
            a = a[..., None]
        c = a.shape[2]
        full = np.full(a.shape[:2] + (1,), 65535, a.dtype)
        if c == 1:
            return np.concatenate([a, a, a, full], axis=2)
        if c == 2:
            return np.concatenate([a[..., :1]] * 3 + [a[..., 1:2]], axis=2)
        if c == 3:
            return np.concatenate([a, full], axis=2)
        return np.ascontiguousarray(a[..., :4])
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGBA"))


def _float_attr(el: ET.Element, key: str, default: float) -> float:
    try:
        return float(el.get(key, default))
    except ValueError:
        return default


def _load_ora(path: Path, zf: zipfile.ZipFile, names: set[str]) -> LayeredDoc:
    root = ET.fromstring(zf.read("stack.xml"))
    if root.tag != "image":
        raise ValueError("stack.xml has no <image> root")
    width, height = int(root.get("w", "0")), int(root.get("h", "0"))
    top = root.find("stack")
    if top is None:
        raise ValueError("stack.xml has no <stack>")
    rows: list[dict[str, Any]] = []

    def walk(stack: ET.Element, prefix: str, parent: int | None, dx: int, dy: int) -> None:
        for el in reversed([e for e in stack if e.tag in ("layer", "stack")]):
            name = el.get("name", "")
            lpath = f"{prefix}{name}"
            x, y = dx + int(_float_attr(el, "x", 0)), dy + int(_float_attr(el, "y", 0))
            row = {"el": el, "path": lpath, "parent": parent, "x": x, "y": y,
                   "native": f"ora:{el.get('uuid')}" if el.get("uuid") else None}
            rows.append(row)
            if el.tag == "stack":
                walk(el, f"{lpath}/", len(rows) - 1, x, y)

    walk(top, "", None, 0, 0)
    ids = _identities([(r["path"], r["native"]) for r in rows])
    infos = []
    depth = 8
    src_of: dict[str, tuple[str, int, int]] = {}
    for index, (r, lid) in enumerate(zip(rows, ids, strict=True)):
        el: ET.Element = r["el"]
        group = el.tag == "stack"
        bbox = (0, 0, 0, 0)
        pixel_hash = None
        if not group:
            src = el.get("src", "")
            if src not in names:
                raise InputFileError(f"layer {el.get('name', '')!r} refers to missing "
                                     f"{src!r}", path=path)
            data = zf.read(src)
            w, h = _png_size(data)
            if data[24] == 16:
                depth = 16
            bbox = (r["x"], r["y"], r["x"] + w, r["y"] + h)
            pixel_hash = _Hasher().update(bbox, data).hexdigest()
            src_of[lid] = (src, r["x"], r["y"])
        infos.append(LayerInfo(
            id=lid, name=el.get("name", ""), path=r["path"], index=index, bbox=bbox,
            opacity=min(max(_float_attr(el, "opacity", 1.0), 0.0), 1.0),
            blend_mode=_blend_name(el.get("composite-op", "svg:src-over")),
            visible=el.get("visibility", "visible") != "hidden", has_mask=False,
            mask_hash=None, pixel_hash=pixel_hash, kind="group" if group else "layer",
            detail="stack" if group else "layer",
            parent=ids[r["parent"]] if r["parent"] is not None else None))
    doc = LayeredDoc(path, "ora", (width, height), depth, infos)

    def decode(info: LayerInfo) -> np.ndarray:
        return _png_rgba(zf.read(src_of[info.id][0]))

    def composite() -> np.ndarray | None:
        if "mergedimage.png" not in names:
            return None
        return _png_rgba(zf.read("mergedimage.png"))

    doc._decoder, doc._compositor = decode, composite
    return doc


_KRA_NS = "{http://www.calligra.org/DTD/krita}"


def _kra_depth(colorspace: str) -> int:
    if colorspace.endswith("F32"):
        return 32
    if colorspace.endswith(("16", "F16")):
        return 16
    return 8


def _load_kra(path: Path, zf: zipfile.ZipFile, names: set[str]) -> LayeredDoc:
    from creativevault.formats import kra

    root = ET.fromstring(zf.read("maindoc.xml"))
    image = root.find(f"{_KRA_NS}IMAGE")
    if image is None:
        image = root.find("IMAGE")
    ns = _KRA_NS if image is not None and image.tag.startswith("{") else ""
    if image is None:
        raise ValueError("maindoc.xml has no IMAGE element")
    img_name = image.get("name", "")
    width, height = int(image.get("width", "0")), int(image.get("height", "0"))
    doc_cs = image.get("colorspacename", "RGBA")
    layer_dir = f"{img_name}/layers/"
    rows: list[dict[str, Any]] = []

    def walk(container: ET.Element, prefix: str, parent: int | None) -> None:
        layers = container.find(f"{ns}layers")
        if layers is None:
            return
        for el in reversed(layers.findall(f"{ns}layer")):
            name = el.get("name", "")
            uuid = el.get("uuid")
            rows.append({"el": el, "path": f"{prefix}{name}", "parent": parent,
                         "native": f"kra:{uuid}" if uuid else None})
            if el.get("nodetype") == "grouplayer":
                walk(el, f"{prefix}{name}/", len(rows) - 1)

    walk(image, "", None)
    ids = _identities([(r["path"], r["native"]) for r in rows])
    infos = []
    tiles_of: dict[str, tuple[str, str, int, int]] = {}
    for index, (r, lid) in enumerate(zip(rows, ids, strict=True)):
        el: ET.Element = r["el"]
        nodetype = el.get("nodetype", "")
        group = nodetype == "grouplayer"
        x, y = int(_float_attr(el, "x", 0)), int(_float_attr(el, "y", 0))
        filename = el.get("filename", "")
        cs = el.get("colorspacename", doc_cs)
        bbox = (0, 0, 0, 0)
        pix = _Hasher().update(nodetype, x, y)
        if nodetype == "paintlayer":
            member = layer_dir + filename
            if member not in names:
                raise InputFileError(f"layer {el.get('name', '')!r} has no tile data "
                                     f"{member!r}", path=path)
            data = zf.read(member)
            tx0, ty0, tx1, ty1 = kra.parse_tiles(data).bbox()
            if tx1 > tx0:
                bbox = (tx0 + x, ty0 + y, tx1 + x, ty1 + y)
            default = member + ".defaultpixel"
            pix.update(cs, data, zf.read(default) if default in names else b"")
            tiles_of[lid] = (member, cs, x, y)
        elif not group:  # vector, file, fill, clone layers: hash what the zip holds for them
            for member in sorted(n for n in names if n.startswith(layer_dir + filename + ".")
                                 and not n.endswith(".icc")):
                pix.update(member, zf.read(member))
            pix.update(sorted(el.attrib.items()).__repr__())
        masks = el.find(f"{ns}masks")
        mask_els = [] if masks is None else [
            m for m in masks.findall(f"{ns}mask") if m.get("nodetype") == "transparencymask"]
        mask_hash = None
        if mask_els:
            mh = _Hasher()
            for m in mask_els:
                member = layer_dir + m.get("filename", "")
                mh.update(m.get("visible", "1"), m.get("x", "0"), m.get("y", "0"),
                          zf.read(member) if member in names else b"")
            mask_hash = mh.hexdigest()
        infos.append(LayerInfo(
            id=lid, name=el.get("name", ""), path=r["path"], index=index, bbox=bbox,
            opacity=min(max(_float_attr(el, "opacity", 255) / 255.0, 0.0), 1.0),
            blend_mode=_blend_name(el.get("compositeop", "normal")),
            visible=el.get("visible", "1") != "0", has_mask=bool(mask_els),
            mask_hash=mask_hash, pixel_hash=None if group else pix.hexdigest(),
            kind="group" if group else "layer", detail=nodetype,
            parent=ids[r["parent"]] if r["parent"] is not None else None))
    doc = LayeredDoc(path, "kra", (width, height), _kra_depth(doc_cs), infos)

    def decode(info: LayerInfo) -> np.ndarray:
        import numpy as np

        if info.id not in tiles_of:
            return np.zeros((0, 0, 4), np.uint8)
        member, cs, _x, _y = tiles_of[info.id]
        default = member + ".defaultpixel"
        try:
            pixels, _origin = kra.decode_tiles(
                zf.read(member), cs, zf.read(default) if default in names else None)
        except kra.TileFormatError as exc:
            raise InputFileError(f"layer {info.name!r}: {exc}", path=path) from None
        return pixels

    def composite() -> np.ndarray | None:
        if "mergedimage.png" not in names:
            return None
        return _png_rgba(zf.read("mergedimage.png"))

    doc._decoder, doc._compositor = decode, composite
    return doc
