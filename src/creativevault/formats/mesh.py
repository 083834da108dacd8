"""3D models (OBJ+MTL, glTF, GLB, PLY, STL) read into one comparable shape: :class:`SceneDoc`.

Geometry is loaded with trimesh (``process=False``: no merging, no reordering; OBJ with
``maintain_order`` so vertices keep the file's order, PLY without splitting vertices at
texture seams). Positions are float64: text formats are parsed to float64, float32
positions (glTF, binary STL, most PLY) are widened, which is exact; ``position_type``
says what the file held. Materials and file references (material libraries, textures,
buffers) are read from the files themselves rather than from trimesh, which keeps only
decoded images and drops their names: a reference is kept as written (spaces and all),
resolved against the referring file's folder and reported missing rather than required.

Node paths name each node by its chain of parents in the scene graph
(``TestExportScene/TestNode/Cube``). Names trimesh derives from the file name (STL, PLY,
OBJ without ``o`` lines) become ``mesh``, so two versions of a file stored under
different names (git's temporary files) still match node for node.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import struct
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from creativevault.errors import InputFileError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = [
    "MESH_SUFFIXES",
    "FileReference",
    "GeometryInfo",
    "MaterialInfo",
    "NodeInfo",
    "SceneDoc",
    "load_scene",
    "transform_points",
]

#: file name suffixes :func:`load_scene` reads, and the format each names
MESH_SUFFIXES: dict[str, str] = {
    ".obj": "obj", ".gltf": "gltf", ".glb": "glb", ".ply": "ply", ".stl": "stl",
}

_SINGLE_NAME = "mesh"
_PRIMITIVE_FRAME = re.compile(r"_[0-9a-f]{6}$")


@dataclass(frozen=True)
class FileReference:
    """A file a model refers to: as written, resolved, and whether it is there.

    Embedded images (glTF buffer views, data URIs) have ``path`` None and a ``digest``
    (SHA-256 of their bytes) so a changed embedded texture is seen.
    """

    role: str  # "material library" | "texture" | "buffer"
    name: str  # exactly as written in the file
    path: Path | None
    exists: bool
    owner: str = ""  # the material (for textures)
    slot: str = ""  # map_Kd, baseColorTexture, TextureFile, ...
    digest: str | None = None

    @property
    def embedded(self) -> bool:
        return self.path is None

    def to_json(self) -> dict[str, Any]:
        return {"role": self.role, "name": self.name,
                "path": None if self.path is None else str(self.path),
                "exists": self.exists, "owner": self.owner, "slot": self.slot,
                "digest": self.digest}


@dataclass
class MaterialInfo:
    """A material: base colour (RGBA or RGB, 0..1), textures by slot, other properties."""

    name: str
    base_color: tuple[float, ...] | None = None
    textures: dict[str, FileReference] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)


@dataclass
class GeometryInfo:
    """One mesh as stored: vertices (float64, file order), triangle faces, material name."""

    name: str
    vertices: np.ndarray
    faces: np.ndarray
    material: str | None = None

    @property
    def vertex_count(self) -> int:
        return int(self.vertices.shape[0])

    @property
    def face_count(self) -> int:
        return int(self.faces.shape[0])


@dataclass
class NodeInfo:
    """A node of the scene graph: path, local and world 4x4 transforms, its geometry."""

    path: str
    name: str
    local: np.ndarray
    world: np.ndarray
    geometry: str | None = None


@dataclass
class SceneDoc:
    """A loaded model: nodes in scene-graph order, geometries, materials, references."""

    path: Path
    format: str  # "obj" | "gltf" | "glb" | "ply" | "stl"
    position_type: str  # "float32" | "float64" | "text" | ...
    nodes: dict[str, NodeInfo] = field(default_factory=dict)
    geometries: dict[str, GeometryInfo] = field(default_factory=dict)
    materials: dict[str, MaterialInfo] = field(default_factory=dict)
    references: list[FileReference] = field(default_factory=list)

    def mesh_nodes(self) -> list[NodeInfo]:
        """The nodes that place a geometry."""
        return [n for n in self.nodes.values() if n.geometry is not None]

    def geometry_of(self, node: NodeInfo) -> GeometryInfo | None:
        return None if node.geometry is None else self.geometries[node.geometry]

    def world_vertices(self, node: NodeInfo | str) -> np.ndarray:
        """A node's vertices in scene (world) space, float64 (unchanged when the
        transform is the identity)."""
        import numpy as np

        if isinstance(node, str):
            node = self.nodes[node]
        geometry = self.geometry_of(node)
        if geometry is None:
            return np.zeros((0, 3), dtype=np.float64)
        return transform_points(geometry.vertices, node.world)

    @property
    def vertex_count(self) -> int:
        """Vertices summed over the nodes (an instanced mesh counts once per node)."""
        return sum(self.geometries[n.geometry].vertex_count for n in self.mesh_nodes()
                   if n.geometry is not None)

    @property
    def face_count(self) -> int:
        """Triangles summed over the nodes (an instanced mesh counts once per node)."""
        return sum(self.geometries[n.geometry].face_count for n in self.mesh_nodes()
                   if n.geometry is not None)

    def bounds(self) -> tuple[np.ndarray, np.ndarray] | None:
        """World-space axis-aligned bounds (min, max) over every node, or None if empty."""
        import numpy as np

        lows, highs = [], []
        for node in self.mesh_nodes():
            v = self.world_vertices(node)
            v = v[np.isfinite(v).all(axis=1)]
            if len(v):
                lows.append(v.min(axis=0))
                highs.append(v.max(axis=0))
        if not lows:
            return None
        return np.min(lows, axis=0), np.max(highs, axis=0)

    def missing_references(self) -> list[FileReference]:
        """References to files that are not where the model says they are."""
        return [r for r in self.references if not r.exists]


def transform_points(vertices: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``vertices`` (N x 3) through a 4x4 affine ``matrix``; the identity returns them
    unchanged (the same array, bit for bit)."""
    import numpy as np

    if np.array_equal(matrix, np.eye(4)):
        return vertices
    return vertices @ matrix[:3, :3].T + matrix[:3, 3]


def load_scene(path: str | Path, fmt: str | None = None) -> SceneDoc:
    """Read a model file (OBJ+MTL, glTF with its buffers, GLB, PLY, STL) into a SceneDoc.

    The format comes from the suffix unless ``fmt`` ("obj", "gltf", "glb", "ply", "stl")
    names it (git's temporary files have no useful name); references resolve against the
    file's own folder either way.

    Raises :class:`~creativevault.errors.InputFileError` naming the file when it is not
    one of these formats, cannot be read, is corrupt or truncated, or holds no geometry
    (glTF/GLB excepted: an empty scene is a valid one).
    """
    path = Path(path)
    fmt = fmt or MESH_SUFFIXES.get(path.suffix.lower(), "")
    if fmt not in MESH_SUFFIXES.values():
        raise InputFileError(f"not a model format cvault reads (expected one of "
                             f"{', '.join(MESH_SUFFIXES)})", path=path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputFileError(f"cannot read: {exc.strerror or exc}", path=path) from exc
    doc = SceneDoc(path=path, format=fmt, position_type="float32")
    if fmt in ("gltf", "glb"):
        header = _gltf_header(path, data, fmt)
        _gltf_materials(doc, header, data)
    elif fmt == "obj":
        doc.position_type = "text"
        _obj_materials(doc, data)
    elif fmt == "ply":
        doc.position_type = _ply_header(doc, data)
    else:
        doc.position_type = _stl_kind(data)
    scene = _trimesh_scene(path, fmt)
    _fill_graph(doc, scene)
    if not doc.geometries and fmt not in ("gltf", "glb"):
        raise InputFileError(f"holds no geometry (truncated or not a {fmt.upper()} file?)",
                             path=path)
    return doc


# --- geometry through trimesh -------------------------------------------------------


def _trimesh_scene(path: Path, fmt: str) -> Any:
    import warnings

    import trimesh

    kwargs: dict[str, Any] = {"force": "scene", "process": False}
    if fmt == "obj":
        kwargs.update(maintain_order=True, group_material=False)
    elif fmt == "ply":
        kwargs.update(fix_texture=False, skip_materials=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return trimesh.load(str(path), file_type=fmt, **kwargs)
    except Exception as exc:  # trimesh raises anything from ValueError to ImportError
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise InputFileError(f"cannot read as {fmt.upper()} (corrupt or truncated?): "
                             f"{type(exc).__name__}{': ' + detail if detail else ''}",
                             path=path) from exc


def _display_name(name: str, file_name: str) -> str:
    if name == file_name or name.startswith(file_name + "_"):
        return _SINGLE_NAME + name[len(file_name):]
    return name


def _fill_graph(doc: SceneDoc, scene: Any) -> None:
    import numpy as np

    file_name = doc.path.name
    graph = scene.graph
    parents: dict[str, str] = dict(graph.transforms.parents)
    base = graph.base_frame
    geometry_names: dict[str, str] = {}
    for gname, mesh in scene.geometry.items():
        faces = getattr(mesh, "faces", None)
        vertices = getattr(mesh, "vertices", None)
        if vertices is None:
            continue  # a point cloud or path: not a mesh
        name = _display_name(gname, file_name)
        geometry_names[gname] = name
        material = getattr(getattr(mesh, "visual", None), "material", None)
        mat_name = getattr(material, "name", None) if material is not None else None
        if doc.format == "ply":
            mat_name = next(iter(doc.materials), None)
        elif mat_name is not None and mat_name not in doc.materials:
            mat_name = None  # trimesh's placeholder ("material_0"), not one of the file's
        doc.geometries[name] = GeometryInfo(
            name=name,
            vertices=np.asarray(vertices, dtype=np.float64),
            faces=(np.zeros((0, 3), dtype=np.int64) if faces is None
                   else np.asarray(faces, dtype=np.int64).reshape(-1, 3)),
            material=mat_name)

    labels: dict[str, str] = {}

    def label(frame: str) -> str:
        if frame in labels:
            return labels[frame]
        parent = parents.get(frame)
        own = _display_name(frame, file_name)
        geometry = graph.transforms.node_data.get(frame, {}).get("geometry")
        if (parent is not None and parent != base and geometry is not None
                and frame.startswith(parent) and _PRIMITIVE_FRAME.fullmatch(
                    frame[len(parent):])):
            # trimesh names the frames of a glTF mesh's primitives <node>_<random id>
            own = f"[{geometry_names.get(geometry, geometry)}]"
            text = label(parent) + own
        elif parent is None or parent == base:
            text = own
        else:
            text = f"{label(parent)}/{own}"
        labels[frame] = text
        return text

    order = [f for f in _walk(graph, base, parents)]
    for frame in order:
        geometry = graph.transforms.node_data.get(frame, {}).get("geometry")
        world, _ = graph.get(frame)
        parent = parents.get(frame)
        local = (np.asarray(graph.transforms.edge_data.get((parent, frame), {}).get(
            "matrix", np.eye(4)), dtype=np.float64) if parent is not None else np.eye(4))
        path = label(frame)
        doc.nodes[path] = NodeInfo(
            path=path, name=path.rsplit("/", 1)[-1], local=local,
            world=np.asarray(world, dtype=np.float64),
            geometry=geometry_names.get(geometry) if geometry is not None else None)


def _walk(graph: Any, base: str, parents: dict[str, str]) -> list[str]:
    """Frames in depth-first order from the base frame, children in insertion order."""
    children: dict[str, list[str]] = {}
    for child, parent in parents.items():
        children.setdefault(parent, []).append(child)
    out: list[str] = []
    stack = list(reversed(children.get(base, [])))
    while stack:
        frame = stack.pop()
        out.append(frame)
        stack.extend(reversed(children.get(frame, [])))
    return out


# --- OBJ / MTL ----------------------------------------------------------------------

#: MTL texture options and how many arguments each takes (at most)
_MTL_OPTIONS = {"-blendu": 1, "-blendv": 1, "-bm": 1, "-boost": 1, "-cc": 1, "-clamp": 1,
                "-imfchan": 1, "-mm": 2, "-o": 3, "-s": 3, "-t": 3, "-texres": 1,
                "-type": 1}
_MTL_TEXTURE_KEYS = {"bump", "disp", "decal", "refl", "norm"}
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _texture_name(rest: str) -> str:
    """The file name after a texture statement's options (``-s 1 1 1 my tex.png``)."""
    tokens = list(re.finditer(r"\S+", rest))
    i = 0
    while i < len(tokens) and tokens[i].group().lower() in _MTL_OPTIONS:
        most = _MTL_OPTIONS[tokens[i].group().lower()]
        i += 1
        taken = 0
        while i < len(tokens) and taken < most and (
                _NUMBER.match(tokens[i].group()) or (taken == 0 and most == 1)):
            i += 1
            taken += 1
    if i >= len(tokens):
        return ""
    return rest[tokens[i].start():].strip()


def _reference(role: str, name: str, folder: Path, owner: str = "",
               slot: str = "") -> FileReference:
    target = folder / name.replace("\\", "/")
    return FileReference(role=role, name=name, path=target, exists=target.is_file(),
                         owner=owner, slot=slot)


def _obj_materials(doc: SceneDoc, data: bytes) -> None:
    folder = doc.path.parent
    libraries: list[str] = []
    for line in _text(data).splitlines():
        if line.startswith("mtllib"):
            rest = line[6:].strip()
            if not rest:
                continue
            # a name may hold spaces; the standard also allows several names per line
            if (folder / rest).is_file() or " " not in rest:
                libraries.append(rest)
            else:
                libraries.extend(rest.split())
    for name in libraries:
        ref = _reference("material library", name, folder)
        doc.references.append(ref)
        if ref.exists and ref.path is not None:
            try:
                _parse_mtl(doc, ref.path)
            except OSError:
                pass


def _parse_mtl(doc: SceneDoc, path: Path) -> None:
    current: MaterialInfo | None = None
    for raw in _text(path.read_bytes()).splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, rest = line.partition(" ")
        if "\t" in key:
            key, _, more = key.partition("\t")
            rest = (more + " " + rest).strip()
        rest = rest.strip()
        lower = key.lower()
        if lower == "newmtl":
            current = MaterialInfo(name=rest)
            doc.materials[rest] = current
            continue
        if current is None:
            continue
        if lower.startswith("map_") or lower in _MTL_TEXTURE_KEYS:
            texture = _texture_name(rest)
            if texture:
                ref = _reference("texture", texture, path.parent, owner=current.name,
                                 slot=key)
                current.textures[key] = ref
                doc.references.append(ref)
            continue
        if lower == "kd":
            try:
                current.base_color = tuple(float(x) for x in rest.split()[:3])
            except ValueError:
                current.properties[key] = rest
            continue
        current.properties[key] = " ".join(rest.split())


# --- PLY / STL ----------------------------------------------------------------------


def _ply_header(doc: SceneDoc, data: bytes) -> str:
    end = data.find(b"end_header")
    if not data.startswith(b"ply") or end < 0:
        raise InputFileError("not a PLY file (no 'ply' ... 'end_header' header)",
                             path=doc.path)
    position = "float32"
    texture_names: list[str] = []
    for raw in _text(data[:end]).splitlines():
        words = raw.split()
        if len(words) >= 3 and words[0] == "property" and words[-1] == "x":
            position = {"float": "float32", "float32": "float32", "double": "float64",
                        "float64": "float64"}.get(words[1], words[1])
        if words[:1] == ["comment"] and len(words) >= 3 and words[1].lower() == \
                "texturefile":
            # the name is everything after the keyword, internal spaces kept
            texture_names.append(raw.split(None, 2)[2].strip())
        if words[:1] == ["format"] and len(words) >= 2 and words[1] == "ascii":
            position = "text"
    if texture_names:
        material = MaterialInfo(name="ply")
        for i, name in enumerate(texture_names):
            slot = "TextureFile" if i == 0 else f"TextureFile{i + 1}"
            ref = _reference("texture", name, doc.path.parent, owner="ply", slot=slot)
            material.textures[slot] = ref
            doc.references.append(ref)
        doc.materials["ply"] = material
    return position


def _stl_kind(data: bytes) -> str:
    if len(data) >= 84:
        (count,) = struct.unpack_from("<I", data, 80)
        if 84 + 50 * count == len(data):
            return "float32"
    return "text" if data.lstrip().startswith(b"solid") else "float32"


# --- glTF / GLB ---------------------------------------------------------------------


@dataclass
class _Gltf:
    json: dict[str, Any]
    bin_chunk: bytes | None
    folder: Path


def _gltf_header(path: Path, data: bytes, fmt: str) -> _Gltf:
    bin_chunk = None
    try:
        if fmt == "glb" or data[:4] == b"glTF":
            if data[:4] != b"glTF" or len(data) < 20:
                raise ValueError("no GLB header")
            _, _, total = struct.unpack_from("<4sII", data, 0)
            if total > len(data):
                raise ValueError(f"file is {len(data)} bytes, header says {total}")
            length, kind = struct.unpack_from("<I4s", data, 12)
            if kind != b"JSON" or 20 + length > len(data):
                raise ValueError("first chunk is not a complete JSON chunk")
            text = data[20:20 + length]
            at = 20 + length
            if at + 8 <= len(data):
                blen, bkind = struct.unpack_from("<I4s", data, at)
                if bkind == b"BIN\x00":
                    bin_chunk = data[at + 8:at + 8 + blen]
        else:
            text = data
        header = json.loads(text.decode("utf-8-sig"))
        if not isinstance(header, dict):
            raise ValueError("top level is not a JSON object")
    except (ValueError, struct.error, UnicodeDecodeError) as exc:
        raise InputFileError(f"not a readable {fmt.upper()} file: {exc}", path=path) \
            from exc
    return _Gltf(json=header, bin_chunk=bin_chunk, folder=path.parent)


def _uri_reference(role: str, uri: str, folder: Path, owner: str = "",
                   slot: str = "") -> FileReference:
    """A relative URI (``my%20texture.png``): kept as written, resolved once decoded."""
    target = folder / urllib.parse.unquote(uri)
    return FileReference(role=role, name=uri, path=target, exists=target.is_file(),
                         owner=owner, slot=slot)


def _gltf_buffer(doc: SceneDoc, gltf: _Gltf, index: int) -> bytes | None:
    buffers = gltf.json.get("buffers", [])
    if not 0 <= index < len(buffers):
        return None
    uri = buffers[index].get("uri")
    if uri is None:
        return gltf.bin_chunk
    if uri.startswith("data:"):
        return _data_uri(uri)
    ref = next((r for r in doc.references if r.role == "buffer" and r.name == uri), None)
    if ref is None or not ref.exists or ref.path is None:
        return None
    try:
        return ref.path.read_bytes()
    except OSError:
        return None


def _data_uri(uri: str) -> bytes | None:
    head, _, payload = uri.partition(",")
    try:
        if head.endswith(";base64"):
            return base64.b64decode(payload)
        return urllib.parse.unquote_to_bytes(payload)
    except ValueError:
        return None


def _gltf_materials(doc: SceneDoc, gltf: _Gltf, data: bytes) -> None:
    header = gltf.json
    for buffer in header.get("buffers", []):
        uri = buffer.get("uri")
        if isinstance(uri, str) and not uri.startswith("data:"):
            doc.references.append(_uri_reference("buffer", uri, gltf.folder))
    images = header.get("images", [])
    textures = header.get("textures", [])
    views = header.get("bufferViews", [])

    def image_ref(texture_index: Any, owner: str, slot: str) -> FileReference | None:
        if not isinstance(texture_index, int) or not 0 <= texture_index < len(textures):
            return None
        texture = textures[texture_index]
        source = texture.get("source")
        if source is None:  # KHR_texture_basisu, EXT_texture_webp ...
            for ext in texture.get("extensions", {}).values():
                if isinstance(ext, dict) and "source" in ext:
                    source = ext["source"]
        if not isinstance(source, int) or not 0 <= source < len(images):
            return None
        image = images[source]
        uri = image.get("uri")
        if isinstance(uri, str) and not uri.startswith("data:"):
            return _uri_reference("texture", uri, gltf.folder, owner=owner, slot=slot)
        blob: bytes | None = None
        if isinstance(uri, str):
            blob = _data_uri(uri)
        elif isinstance(image.get("bufferView"), int) and image["bufferView"] < len(views):
            view = views[image["bufferView"]]
            buffer = _gltf_buffer(doc, gltf, view.get("buffer", 0))
            if buffer is not None:
                start = view.get("byteOffset", 0)
                blob = buffer[start:start + view.get("byteLength", 0)]
        name = image.get("name") or f"image {source}"
        return FileReference(role="texture", name=name, path=None, exists=blob is not None,
                             owner=owner, slot=slot,
                             digest=hashlib.sha256(blob).hexdigest() if blob else None)

    for i, material in enumerate(header.get("materials", [])):
        name = material.get("name") or f"material {i}"
        if name in doc.materials:
            name = f"{name} ({i})"
        info = MaterialInfo(name=name)
        pbr = material.get("pbrMetallicRoughness", {})
        info.base_color = tuple(float(x) for x in pbr.get("baseColorFactor",
                                                          [1.0, 1.0, 1.0, 1.0]))
        slots = {"baseColorTexture": pbr.get("baseColorTexture"),
                 "metallicRoughnessTexture": pbr.get("metallicRoughnessTexture"),
                 "normalTexture": material.get("normalTexture"),
                 "occlusionTexture": material.get("occlusionTexture"),
                 "emissiveTexture": material.get("emissiveTexture")}
        for slot, spec in slots.items():
            if isinstance(spec, dict):
                ref = image_ref(spec.get("index"), name, slot)
                if ref is not None:
                    info.textures[slot] = ref
                    doc.references.append(ref)
        for key in ("metallicFactor", "roughnessFactor"):
            if key in pbr:
                info.properties[key] = json.dumps(pbr[key])
        for key in ("emissiveFactor", "alphaMode", "alphaCutoff", "doubleSided",
                    "extensions"):
            if key in material:
                info.properties[key] = json.dumps(material[key], sort_keys=True)
        doc.materials[name] = info
