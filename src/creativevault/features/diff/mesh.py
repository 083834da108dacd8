"""3D model diffs: counts, bounds, per-node geometry and transform changes, materials, a render.

Nodes are matched by their path in the scene graph. For a node whose geometry changed:

* **same topology** (same vertex count, identical faces): per-vertex displacement, exact
  (max, mean and RMS over all vertices; ``moved`` counts vertices whose stored
  coordinates differ at all). Measured in scene units: both versions' geometry is placed
  with B's world transform, so a transform change is reported once, on its own line,
  not again as displacement.
* **different topology**: a sampled surface distance, Hausdorff style. Each surface gives
  its vertices plus :data:`SURFACE_SAMPLES` points sampled uniformly by area (fixed
  seed); distances are nearest-neighbour distances between the two point sets
  (scipy's cKDTree), both ways. This over-estimates point-to-surface distance by at most
  about the sample spacing, reported as ``spacing`` (sqrt(area / samples)).

The picture ``<stem>.render.png`` shows A and B side by side from one camera fitted to
both versions' bounds; A in grey, B coloured blue (unchanged) to red (largest change) by
world-space vertex displacement, or, where topology differs, by each B vertex's distance
to A's sampled surface. Nodes added in B are red.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from creativevault.features.diff.report import DiffOptions, FileDiff, Picture
from creativevault.formats.mesh import MESH_SUFFIXES, MaterialInfo, SceneDoc, load_scene

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from creativevault.formats.mesh import GeometryInfo, NodeInfo

__all__ = ["SURFACE_SAMPLES", "MeshDiffer", "diff_scenes"]

#: points sampled on each surface for the surface distance (besides its vertices)
SURFACE_SAMPLES = 20_000
#: rendered panel size (each of A and B) before ``preview_edge`` limits it
_PANEL = (1024, 768)
#: up to this many triangles a render is supersampled 2x (smoother edges)
_SUPERSAMPLE_LIMIT = 300_000


class MeshDiffer:
    """Differ for 3D models: OBJ (+MTL), glTF, GLB, PLY, STL."""

    kind = "mesh"

    def accepts(self, name: str, head: bytes) -> bool:
        suffix = Path(name).suffix.lower()
        return suffix in MESH_SUFFIXES or (suffix == "" and head[:4] == b"glTF")

    def diff(self, a: Path | None, b: Path | None, name: str,
             options: DiffOptions) -> FileDiff:
        scene_a = load_scene(a, _format_of(a, name)) if a is not None else None
        scene_b = load_scene(b, _format_of(b, name)) if b is not None else None
        return diff_scenes(scene_a, scene_b, name, options)


def _format_of(path: Path, name: str) -> str | None:
    """The model format of ``path``, from its suffix, else ``name``'s, else GLB magic
    (git hands drivers temporary files whose names may say nothing)."""
    for candidate in (path.name, name):
        fmt = MESH_SUFFIXES.get(Path(candidate).suffix.lower())
        if fmt is not None:
            return fmt
    try:
        with path.open("rb") as fh:
            return "glb" if fh.read(4) == b"glTF" else None
    except OSError:
        return None


# --- text helpers -------------------------------------------------------------------


def _num(x: float) -> str:
    return f"{x:.6g}"


def _vec(v: Any) -> str:
    return "(" + ", ".join(_num(float(x)) for x in v) + ")"


def _counts(scene: SceneDoc) -> str:
    nodes = len(scene.mesh_nodes())
    return (f"{nodes:,} node{'s' if nodes != 1 else ''}, {scene.vertex_count:,} vertices, "
            f"{scene.face_count:,} faces")


def _bounds_json(scene: SceneDoc | None) -> list[list[float]] | None:
    if scene is None:
        return None
    bounds = scene.bounds()
    return None if bounds is None else [[float(x) for x in bounds[0]],
                                        [float(x) for x in bounds[1]]]


def _bounds_text(b: list[list[float]] | None) -> str:
    return "(empty)" if b is None else f"{_vec(b[0])}..{_vec(b[1])}"


def _scene_json(scene: SceneDoc | None) -> dict[str, Any] | None:
    if scene is None:
        return None
    return {"format": scene.format, "position_type": scene.position_type,
            "nodes": len(scene.mesh_nodes()), "all_nodes": len(scene.nodes),
            "vertices": scene.vertex_count, "faces": scene.face_count,
            "bounds": _bounds_json(scene), "materials": sorted(scene.materials)}


# --- the comparison -----------------------------------------------------------------


def diff_scenes(a: SceneDoc | None, b: SceneDoc | None, name: str,
                options: DiffOptions | None = None) -> FileDiff:
    """Compare two loaded models (``None`` for an absent side)."""
    options = options or DiffOptions()
    out = FileDiff(path=name, kind="mesh", status="modified")
    out.figures["a"] = _scene_json(a)
    out.figures["b"] = _scene_json(b)
    colouring: dict[str, Any] = {}
    if a is None and b is None:
        out.status = "unchanged"
        out.summary.append("mesh: both sides absent")
        return out
    if a is None:
        assert b is not None
        out.status = "added"
        out.summary.append(f"mesh added: {_counts(b)}")
    elif b is None:
        out.status = "deleted"
        out.summary.append(f"mesh deleted: {_counts(a)}")
    else:
        out.summary.append(f"mesh: {_counts(a)} -> {_counts(b)}")
        ba, bb = out.figures["a"]["bounds"], out.figures["b"]["bounds"]
        if ba != bb:
            out.summary.append(f"bounds: {_bounds_text(ba)} -> {_bounds_text(bb)}")
        if a.position_type != b.position_type:
            out.summary.append(f"positions stored as {a.position_type} -> {b.position_type}")
        node_figures = _diff_nodes(a, b, out, colouring)
        material_figures = _diff_materials(a, b, out)
        out.figures["nodes"] = node_figures
        out.figures["materials"] = material_figures
        libs_a = {r.name for r in a.references if r.role == "material library"}
        libs_b = {r.name for r in b.references if r.role == "material library"}
        for lib in sorted(libs_b - libs_a):
            out.summary.append(f"material library added: {lib!r}")
        for lib in sorted(libs_a - libs_b):
            out.summary.append(f"material library removed: {lib!r}")
        if not out.parts and len(out.summary) == 1 and libs_a == libs_b:
            out.status = "unchanged"
            out.summary[0] = f"mesh: unchanged ({_counts(b)})"
    if b is not None:
        missing = b.missing_references()
        out.figures["missing_references"] = [r.to_json() for r in missing]
        for ref in missing:
            owner = f" ({ref.slot} of material {ref.owner!r})" if ref.owner else ""
            out.notes.append(f"missing {ref.role} {ref.name!r}{owner}: not found at "
                             f"{ref.path}")
    if options.out_dir is not None:
        picture = _render_picture(a, b, name, options, colouring)
        if picture is not None:
            out.pictures.append(picture)
    return out


def _diff_nodes(a: SceneDoc, b: SceneDoc, out: FileDiff,
                colouring: dict[str, Any]) -> dict[str, Any]:
    figures: dict[str, Any] = {"added": [], "deleted": [], "modified": [], "unchanged": 0}
    for path, node in b.nodes.items():
        if path not in a.nodes:
            figures["added"].append(path)
            colouring[path] = None  # drawn as "new"
            geometry = b.geometry_of(node)
            counts = (f": {geometry.vertex_count:,} vertices, {geometry.face_count:,} faces"
                      if geometry is not None else " (empty node)")
            out.parts.append(FileDiff(
                path=path, kind="mesh", status="added", summary=[f"node {path} added{counts}"],
                figures=_geometry_counts(None, geometry)))
    for path, node in a.nodes.items():
        if path not in b.nodes:
            figures["deleted"].append(path)
            geometry = a.geometry_of(node)
            counts = (f": {geometry.vertex_count:,} vertices, {geometry.face_count:,} faces"
                      if geometry is not None else " (empty node)")
            out.parts.append(FileDiff(
                path=path, kind="mesh", status="deleted",
                summary=[f"node {path} removed{counts}"],
                figures=_geometry_counts(geometry, None)))
    for path, node_b in b.nodes.items():
        node_a = a.nodes.get(path)
        if node_a is None:
            continue
        part = _diff_node(a, b, node_a, node_b, colouring)
        if part is None:
            figures["unchanged"] += 1
        else:
            figures["modified"].append(path)
            out.parts.append(part)
    # parts in B's node order (added/modified), then deleted ones
    order = {p: i for i, p in enumerate(list(b.nodes) + list(a.nodes))}
    out.parts.sort(key=lambda p: order.get(p.path, len(order)))
    return figures


def _geometry_counts(ga: GeometryInfo | None, gb: GeometryInfo | None) -> dict[str, Any]:
    return {"vertices": [None if ga is None else ga.vertex_count,
                         None if gb is None else gb.vertex_count],
            "faces": [None if ga is None else ga.face_count,
                      None if gb is None else gb.face_count]}


def _transform_text(ma: np.ndarray, mb: np.ndarray) -> tuple[list[str], dict[str, Any]]:
    import numpy as np

    ta, tb = ma[:3, 3], mb[:3, 3]
    sa = np.linalg.norm(ma[:3, :3], axis=0)
    sb = np.linalg.norm(mb[:3, :3], axis=0)
    ra = ma[:3, :3] / np.where(sa > 0, sa, 1.0)
    rb = mb[:3, :3] / np.where(sb > 0, sb, 1.0)
    cos = (np.trace(ra.T @ rb) - 1.0) / 2.0
    angle = math.degrees(math.acos(max(-1.0, min(1.0, float(cos)))))
    parts = []
    if not np.array_equal(ta, tb):
        parts.append(f"moved by {_vec(tb - ta)}")
    if not np.allclose(ra, rb, rtol=0, atol=1e-12):
        parts.append(f"rotated by {_num(angle)} degrees")
    if not np.allclose(sa, sb, rtol=1e-12, atol=0):
        parts.append(f"scale {_vec(sa)} -> {_vec(sb)}")
    if not parts:
        parts.append("matrix changed")
    figures = {"translation": [[float(x) for x in ta], [float(x) for x in tb]],
               "rotation_degrees": angle,
               "scale": [[float(x) for x in sa], [float(x) for x in sb]],
               "matrix": [ma.tolist(), mb.tolist()]}
    return [f"transform: {', '.join(parts)}"], figures


def _diff_node(a: SceneDoc, b: SceneDoc, node_a: NodeInfo, node_b: NodeInfo,
               colouring: dict[str, Any]) -> FileDiff | None:
    import numpy as np

    lines: list[str] = []
    figures: dict[str, Any] = {}
    if not np.array_equal(node_a.local, node_b.local):
        text, figures["transform"] = _transform_text(node_a.local, node_b.local)
        lines += text
    ga, gb = a.geometry_of(node_a), b.geometry_of(node_b)
    if gb is not None:
        # what the viewer sees move: world positions, A against B (for the picture)
        wa = (a.world_vertices(node_a) if ga is not None
              and ga.vertex_count == gb.vertex_count else None)
        wb = b.world_vertices(node_b)
        if wa is not None and ga is not None and np.array_equal(ga.faces, gb.faces):
            colouring[node_b.path] = np.linalg.norm(wb - wa, axis=1)
    if ga is None and gb is not None:
        lines.append(f"geometry added: {gb.vertex_count:,} vertices, "
                     f"{gb.face_count:,} faces")
        figures.update(_geometry_counts(None, gb))
        colouring[node_b.path] = None
    elif ga is not None and gb is None:
        lines.append(f"geometry removed: {ga.vertex_count:,} vertices, "
                     f"{ga.face_count:,} faces")
        figures.update(_geometry_counts(ga, None))
    elif ga is not None and gb is not None:
        if ga.material != gb.material:
            lines.append(f"material: {ga.material!r} -> {gb.material!r}")
            figures["material"] = [ga.material, gb.material]
        same_faces = np.array_equal(ga.faces, gb.faces)
        same_vertices = np.array_equal(ga.vertices, gb.vertices)
        if not (same_faces and same_vertices):
            figures.update(_geometry_counts(ga, gb))
            lines.append(f"vertices {ga.vertex_count:,} -> {gb.vertex_count:,}, "
                         f"faces {ga.face_count:,} -> {gb.face_count:,}")
            if same_faces and ga.vertex_count == gb.vertex_count:
                figures["topology"] = "same"
                d = _displacement(ga, gb, node_b.world)
                figures["displacement"] = d
                lines.append(f"same topology: {d['moved']:,} of {d['vertices']:,} vertices "
                             f"moved; max {_num(d['max'])}, mean {_num(d['mean'])}, "
                             f"RMS {_num(d['rms'])}")
            else:
                figures["topology"] = "different"
                s, per_vertex = _surface_distance(ga, gb, node_a.world, node_b.world)
                figures["surface_distance"] = s
                colouring[node_b.path] = per_vertex
                lines.append(
                    f"different topology: surface distance A->B max "
                    f"{_num(s['a_to_b']['max'])} mean {_num(s['a_to_b']['mean'])}, "
                    f"B->A max {_num(s['b_to_a']['max'])} mean {_num(s['b_to_a']['mean'])} "
                    f"(Hausdorff {_num(s['hausdorff'])}, {s['samples']:,} samples per "
                    f"surface, spacing ~{_num(s['spacing'])})")
    if not lines:
        return None
    return FileDiff(path=node_b.path, kind="mesh", status="modified",
                    summary=[f"node {node_b.path} modified"] + [f"  {x}" for x in lines],
                    figures=figures)


def _displacement(ga: GeometryInfo, gb: GeometryInfo, world: np.ndarray) -> dict[str, Any]:
    import numpy as np

    from creativevault.formats.mesh import transform_points

    va = transform_points(ga.vertices, world)
    vb = transform_points(gb.vertices, world)
    dist = np.linalg.norm(vb - va, axis=1)
    moved = int(np.count_nonzero((ga.vertices != gb.vertices).any(axis=1)))
    n = len(dist)
    return {"vertices": n, "moved": moved,
            "max": float(dist.max()) if n else 0.0,
            "mean": float(dist.mean()) if n else 0.0,
            "rms": float(np.sqrt(np.mean(dist * dist))) if n else 0.0}


def _surface_points(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, float]:
    """A surface's vertices plus SURFACE_SAMPLES area-uniform samples; and its area."""
    import numpy as np

    finite = vertices[np.isfinite(vertices).all(axis=1)]
    if len(faces) == 0 or len(vertices) == 0:
        return finite, 0.0
    tri = vertices[faces]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    areas = np.nan_to_num(np.linalg.norm(cross, axis=1) / 2.0)
    total = float(areas.sum())
    if total <= 0:
        return finite, 0.0
    # the same sampling as trimesh.sample.sample_surface, on raw arrays (no Trimesh
    # object, whose constructor may touch the arrays) with a fixed seed
    rng = np.random.default_rng(0)
    chosen = np.searchsorted(np.cumsum(areas), rng.random(SURFACE_SAMPLES) * total)
    chosen = np.minimum(chosen, len(areas) - 1)
    r = rng.random((SURFACE_SAMPLES, 2))
    flip = r.sum(axis=1) > 1.0
    r[flip] = 1.0 - r[flip]
    t = tri[chosen]
    points = t[:, 0] + r[:, :1] * (t[:, 1] - t[:, 0]) + r[:, 1:] * (t[:, 2] - t[:, 0])
    return np.concatenate([finite, points[np.isfinite(points).all(axis=1)]]), total


def _surface_distance(ga: GeometryInfo, gb: GeometryInfo, world_a: np.ndarray,
                      world_b: np.ndarray) -> tuple[dict[str, Any], np.ndarray]:
    import numpy as np
    from scipy.spatial import cKDTree

    from creativevault.formats.mesh import transform_points

    # geometry edits in B's frame (as for displacement); the picture uses world A
    pa, area_a = _surface_points(transform_points(ga.vertices, world_b), ga.faces)
    pb, area_b = _surface_points(transform_points(gb.vertices, world_b), gb.faces)
    result: dict[str, Any] = {"samples": SURFACE_SAMPLES}
    if len(pa) == 0 or len(pb) == 0:
        nan = float("nan")
        result.update(a_to_b={"max": nan, "mean": nan}, b_to_a={"max": nan, "mean": nan},
                      hausdorff=nan, spacing=nan)
        return result, np.zeros(len(gb.vertices))
    tree_a, tree_b = cKDTree(pa), cKDTree(pb)
    d_ab, _ = tree_b.query(pa)
    d_ba, _ = tree_a.query(pb)
    result["a_to_b"] = {"max": float(d_ab.max()), "mean": float(d_ab.mean())}
    result["b_to_a"] = {"max": float(d_ba.max()), "mean": float(d_ba.mean())}
    result["hausdorff"] = max(result["a_to_b"]["max"], result["b_to_a"]["max"])
    result["spacing"] = math.sqrt(max(area_a, area_b) / SURFACE_SAMPLES)
    # per B vertex: distance to A's surface as placed in the scene (for the picture)
    world_pa, _ = _surface_points(transform_points(ga.vertices, world_a), ga.faces)
    vb = transform_points(gb.vertices, world_b)
    per_vertex, _ = cKDTree(world_pa).query(np.nan_to_num(vb))
    return result, per_vertex


# --- materials ----------------------------------------------------------------------


def _color_text(c: tuple[float, ...] | None) -> str:
    return "(none)" if c is None else _vec(c)


def _diff_materials(a: SceneDoc, b: SceneDoc, out: FileDiff) -> dict[str, Any]:
    figures: dict[str, Any] = {"added": [], "deleted": [], "modified": []}
    for name, mb in b.materials.items():
        ma = a.materials.get(name)
        if ma is None:
            figures["added"].append(name)
            textures = "".join(f", {slot} {ref.name!r}" for slot, ref in mb.textures.items())
            out.parts.append(FileDiff(
                path=f"material:{name}", kind="mesh", status="added",
                summary=[f"material {name!r} added: base colour "
                         f"{_color_text(mb.base_color)}{textures}"]))
            continue
        lines, changes = _material_changes(ma, mb)
        if lines:
            figures["modified"].append(name)
            out.parts.append(FileDiff(
                path=f"material:{name}", kind="mesh", status="modified",
                summary=[f"material {name!r} modified"] + [f"  {x}" for x in lines],
                figures=changes))
    for name in a.materials:
        if name not in b.materials:
            figures["deleted"].append(name)
            out.parts.append(FileDiff(path=f"material:{name}", kind="mesh",
                                      status="deleted",
                                      summary=[f"material {name!r} removed"]))
    return figures


def _material_changes(ma: MaterialInfo, mb: MaterialInfo) -> tuple[list[str],
                                                                    dict[str, Any]]:
    lines: list[str] = []
    figures: dict[str, Any] = {}
    if ma.base_color != mb.base_color:
        lines.append(f"base colour {_color_text(ma.base_color)} -> "
                     f"{_color_text(mb.base_color)}")
        figures["base_color"] = [ma.base_color, mb.base_color]
    textures: dict[str, Any] = {}
    for slot in sorted(set(ma.textures) | set(mb.textures)):
        ta, tb = ma.textures.get(slot), mb.textures.get(slot)
        if ta is None and tb is not None:
            lines.append(f"texture {slot} added: {tb.name!r}")
        elif tb is None and ta is not None:
            lines.append(f"texture {slot} removed: {ta.name!r}")
        elif ta is not None and tb is not None:
            if ta.name != tb.name:
                lines.append(f"texture {slot}: {ta.name!r} -> {tb.name!r}")
            elif ta.digest != tb.digest:
                lines.append(f"texture {slot}: embedded image {ta.name!r} changed")
            else:
                continue
        textures[slot] = [None if ta is None else ta.name, None if tb is None else tb.name]
    if textures:
        figures["textures"] = textures
    props: dict[str, Any] = {}
    for key in sorted(set(ma.properties) | set(mb.properties)):
        pa, pb = ma.properties.get(key), mb.properties.get(key)
        if pa != pb:
            lines.append(f"{key}: {pa if pa is not None else '(unset)'} -> "
                         f"{pb if pb is not None else '(unset)'}")
            props[key] = [pa, pb]
    if props:
        figures["properties"] = props
    return lines, figures


# --- the picture --------------------------------------------------------------------


def _render_picture(a: SceneDoc | None, b: SceneDoc | None, name: str,
                    options: DiffOptions, colouring: dict[str, Any]) -> Picture | None:
    import numpy as np

    from creativevault.formats.render import RenderMesh, fit_camera, heat_colors, render
    from creativevault.imaging.pictures import save_png, side_by_side

    bounds = [x for x in (s.bounds() for s in (a, b) if s is not None) if x is not None]
    if not bounds or options.out_dir is None:
        return None
    low = np.min([x[0] for x in bounds], axis=0)
    high = np.max([x[1] for x in bounds], axis=0)
    width, height = _PANEL
    if not options.full_resolution:
        width = max(64, min(width, (options.preview_edge - 8) // 2))
        height = width * 3 // 4
    camera = fit_camera(low, high, width, height)
    triangles = sum(s.face_count for s in (a, b) if s is not None)
    ss = 2 if triangles <= _SUPERSAMPLE_LIMIT else 1

    panels = []
    if a is not None:
        meshes = [RenderMesh(a.world_vertices(n), a.geometries[n.geometry].faces)
                  for n in a.mesh_nodes() if n.geometry is not None]
        panels.append(render(meshes, camera, supersample=ss))
    else:
        panels.append(render([], camera))
    label_b = "B (absent)"
    if b is not None:
        values = {}
        for node in b.mesh_nodes():
            v = colouring.get(node.path, 0.0) if a is not None else None
            values[node.path] = v
        finite = [float(np.max(v)) for v in values.values()
                  if isinstance(v, np.ndarray) and v.size]
        vmax = max(finite, default=0.0)
        meshes = []
        for node in b.mesh_nodes():
            geometry = b.geometries[node.geometry]  # type: ignore[index]
            v = values[node.path]
            if v is None:  # new in B
                colors = heat_colors(np.ones(geometry.vertex_count), 1.0)
            elif isinstance(v, np.ndarray):
                colors = heat_colors(v, vmax)
            else:
                colors = heat_colors(np.zeros(geometry.vertex_count), 1.0)
            meshes.append(RenderMesh(b.world_vertices(node), geometry.faces,
                                     vertex_colors=colors))
        panels.append(render(meshes, camera, supersample=ss))
        label_b = (f"B: blue unchanged .. red {_num(vmax)} (scene units)" if a is not None
                   else "B (added)")
    else:
        panels.append(render([], camera))
    label_a = "A" if a is not None else "A (absent)"
    picture = side_by_side(panels, [label_a, label_b])
    path = Path(options.out_dir) / f"{Path(name).stem}.render.png"
    save_png(picture, path)
    return Picture(role="render", path=path)
