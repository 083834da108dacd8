"""features.diff.mesh: exact displacement, surface distance, per-node and material changes,
the side-by-side render."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from creativevault.errors import InputFileError
from creativevault.features.diff.mesh import SURFACE_SAMPLES, MeshDiffer, diff_scenes
from creativevault.features.diff.report import DiffOptions
from creativevault.formats.render import BACKGROUND


def _export(mesh: trimesh.Trimesh, path: Path) -> Path:
    mesh.export(path)
    return path


def _sphere(tmp_path: Path, name: str, moved: dict[int, list[float]] | None = None,
            subdivisions: int = 3) -> Path:
    m = trimesh.creation.icosphere(subdivisions=subdivisions)
    v = m.vertices.copy()
    for i, delta in (moved or {}).items():
        v[i] += delta
    return _export(trimesh.Trimesh(v, m.faces, process=False), tmp_path / name)


def test_accepts_model_names_only() -> None:
    d = MeshDiffer()
    assert d.kind == "mesh"
    for name in ("a.obj", "b.GLTF", "c.glb", "d.ply", "e.stl"):
        assert d.accepts(name, b"")
    assert not d.accepts("scene.blend", b"BLENDER")
    assert not d.accepts("photo.png", b"\x89PNG")
    assert d.accepts("noext", b"glTF\x02\x00\x00\x00")


def test_one_vertex_moved_gives_exact_figures(tmp_path: Path) -> None:
    a = _sphere(tmp_path, "a.ply")
    b = _sphere(tmp_path, "b.ply", {5: [0.5, 0.0, 0.0]})
    result = MeshDiffer().diff(a, b, "ball.ply", DiffOptions())
    assert result.status == "modified" and result.kind == "mesh"
    assert result.summary[0] == ("mesh: 1 node, 642 vertices, 1,280 faces -> "
                                 "1 node, 642 vertices, 1,280 faces")
    (part,) = result.parts
    d = part.figures["displacement"]
    assert part.figures["topology"] == "same"
    assert d["max"] == 0.5 and d["moved"] == 1 and d["vertices"] == 642
    assert d["mean"] == pytest.approx(0.5 / 642)
    assert d["rms"] == pytest.approx(np.sqrt(0.25 / 642))
    assert "1 of 642 vertices moved; max 0.5" in "\n".join(result.lines())
    assert result.figures["nodes"]["modified"] == ["mesh"]
    json.dumps(result.to_json())


def test_render_shows_where_geometry_moved(tmp_path: Path) -> None:
    top = int(np.argmax(trimesh.creation.icosphere(subdivisions=3).vertices[:, 1]))
    a = _sphere(tmp_path, "a.ply")
    b = _sphere(tmp_path, "b.ply", {top: [0.0, 0.5, 0.0]})  # a spike on top
    result = MeshDiffer().diff(a, b, "ball.ply", DiffOptions(out_dir=tmp_path))
    img = np.asarray(Image.open(result.pictures[0].path).convert("RGB"))
    w = (img.shape[1] - 8) // 2
    half_a, half_b = img[18:, :w], img[18:, w + 8:]
    bg = np.asarray(BACKGROUND, dtype=np.uint8)
    fg_a, fg_b = (half_a != bg).any(axis=2), (half_b != bg).any(axis=2)
    assert fg_a.mean() > 0.05
    spike = fg_b & ~fg_a  # drawn in B only: the spike, and it is red
    assert spike.sum() > 50
    ys, xs = np.nonzero(spike)
    assert ys.mean() < np.nonzero(fg_a)[0].mean()  # above the sphere's middle
    tip = spike & (np.arange(spike.shape[0])[:, None] < ys.min() + (ys.max() - ys.min()) / 4)
    red = half_b[tip].astype(int)  # red at the tip, blending to blue at its base
    assert len(red) and (red[:, 0] > red[:, 2]).mean() > 0.8


def test_several_vertices_moved(tmp_path: Path) -> None:
    a = _sphere(tmp_path, "a.stl")
    b = _sphere(tmp_path, "b.stl", {0: [0, 0.25, 0], 10: [0, 0, -0.125]})
    # STL stores corners per face: every copy of a moved vertex moves
    result = MeshDiffer().diff(a, b, "ball.stl", DiffOptions())
    d = result.parts[0].figures["displacement"]
    assert d["max"] == pytest.approx(0.25, abs=1e-6)  # float32 storage
    faces = trimesh.creation.icosphere(subdivisions=3).faces
    assert d["moved"] == int(np.isin(faces, [0, 10]).sum())  # one copy per face corner


def test_retriangulated_mesh_takes_the_surface_distance_path(tmp_path: Path) -> None:
    a = _sphere(tmp_path, "a.ply", subdivisions=3)
    b = _sphere(tmp_path, "b.ply", subdivisions=4)
    out = tmp_path / "pics"
    result = MeshDiffer().diff(a, b, "ball.ply", DiffOptions(out_dir=out))
    part = result.parts[0]
    assert part.figures["topology"] == "different"
    s = part.figures["surface_distance"]
    assert s["samples"] == SURFACE_SAMPLES
    assert 0 < s["hausdorff"] < 0.1  # two tessellations of the unit sphere
    assert s["hausdorff"] == max(s["a_to_b"]["max"], s["b_to_a"]["max"])
    assert s["spacing"] > 0
    assert "different topology" in "\n".join(result.lines())
    assert result.pictures[0].path.is_file()


def test_identical_and_absent_sides(fixture_file) -> None:
    fuze = fixture_file("mesh/fuze.obj")
    same = MeshDiffer().diff(fuze, fuze, "fuze.obj", DiffOptions())
    assert same.status == "unchanged" and same.parts == []
    assert same.summary == ["mesh: unchanged (1 node, 502 vertices, 1,000 faces)"]
    added = MeshDiffer().diff(None, fuze, "fuze.obj", DiffOptions())
    assert added.status == "added" and added.figures["a"] is None
    deleted = MeshDiffer().diff(fuze, None, "fuze.obj", DiffOptions())
    assert deleted.status == "deleted" and deleted.summary[0].startswith("mesh deleted")
    assert diff_scenes(None, None, "x.obj").status == "unchanged"


def _scene_variant(fixture_file, tmp_path: Path, edit) -> Path:
    folder = tmp_path / "b"
    folder.mkdir()
    shutil.copyfile(fixture_file("mesh/TestScene.bin"), folder / "TestScene.bin")
    doc = json.loads(fixture_file("mesh/TestScene.gltf").read_text())
    edit(doc)
    (folder / "TestScene.gltf").write_text(json.dumps(doc))
    return folder / "TestScene.gltf"


def test_gltf_node_transform_change_is_reported_per_node(fixture_file,
                                                        tmp_path: Path) -> None:
    def move_sphere(doc: dict) -> None:
        doc["nodes"][3]["translation"] = [2.0, 0.5, 0.0]  # the "Sphere" node

    b = _scene_variant(fixture_file, tmp_path, move_sphere)
    out = tmp_path / "pics"
    result = MeshDiffer().diff(fixture_file("mesh/TestScene.gltf"), b, "TestScene.gltf",
                               DiffOptions(out_dir=out))
    assert result.figures["nodes"]["modified"] == ["TestExportScene/TestNode/Sphere"]
    assert result.figures["nodes"]["unchanged"] == 12
    (part,) = result.parts
    assert part.status == "modified"
    t = part.figures["transform"]
    assert t["translation"] == [[1.62, 0.0, 0.0], [2.0, 0.5, 0.0]]
    assert t["rotation_degrees"] == pytest.approx(0.0)
    assert "displacement" not in part.figures  # the geometry itself did not change
    assert "transform: moved by (0.38, 0.5, 0)" in "\n".join(result.lines())

    # the picture: A | B from one camera, B red where the sphere moved
    (picture,) = result.pictures
    assert picture.role == "render" and picture.path == out / "TestScene.render.png"
    img = np.asarray(Image.open(picture.path).convert("RGB"))
    assert img.shape == (765 + 18, 2048, 3)  # two 1020 x 765 panels fit preview_edge
    half_a, half_b = img[18:, :1020], img[18:, 1028:]
    bg = np.asarray(BACKGROUND, dtype=np.uint8)
    assert (half_a != bg).any(axis=2).mean() > 0.05
    reddish = (half_b[:, :, 0].astype(int) - half_b[:, :, 2]) > 100
    assert reddish.sum() > 100  # the moved sphere
    blueish = (half_b[:, :, 2].astype(int) - half_b[:, :, 0]) > 100
    assert blueish.sum() > reddish.sum()  # everything else is unchanged


def test_gltf_nodes_added_removed_and_material_changes(fixture_file,
                                                      tmp_path: Path) -> None:
    def edit(doc: dict) -> None:
        doc["nodes"][1]["children"].remove(4)  # drop "Plane"
        doc["nodes"][3]["mesh"] = 2  # Sphere now shows the plane's mesh
        doc["nodes"][0]["children"].append(len(doc["nodes"]))
        doc["nodes"].append({"name": "Extra", "mesh": 0, "translation": [0, 3, 0]})
        doc["nodes"][2]["scale"] = [2.0, 2.0, 2.0]
        doc["materials"][1]["pbrMetallicRoughness"]["baseColorFactor"] = [1, 0, 0, 1]
        doc["materials"].append({"name": "New"})
        doc["materials"][4]["emissiveFactor"] = [0, 0, 0]

    b = _scene_variant(fixture_file, tmp_path, edit)
    result = MeshDiffer().diff(fixture_file("mesh/TestScene.gltf"), b, "TestScene.gltf",
                               DiffOptions(out_dir=tmp_path / "pics"))
    nodes = result.figures["nodes"]
    assert nodes["added"] == ["TestExportScene/Extra"]
    assert nodes["deleted"] == ["TestExportScene/TestNode/Plane"]
    assert "TestExportScene/TestNode/Sphere" in nodes["modified"]
    assert "TestExportScene/TestNode/Cube" in nodes["modified"]
    text = "\n".join(result.lines())
    assert "different topology" in text  # Sphere's geometry became a plane
    assert "scale (1, 1, 1) -> (2, 2, 2)" in text
    assert "material 'TestMaterial1' modified" in text
    assert "base colour (0.489488, 0.311419, 0.941176, 1) -> (1, 0, 0, 1)" in text
    assert "material 'New' added" in text
    assert "emissiveFactor" in text
    assert result.figures["materials"]["modified"] == ["TestMaterial1", "ConstantMat"]
    assert "material: 'TestMaterial1' -> 'Default-Material'" in text


def _obj_pair(tmp_path: Path, mtl_a: str, mtl_b: str) -> tuple[Path, Path]:
    paths = []
    for side, mtl in (("a", mtl_a), ("b", mtl_b)):
        folder = tmp_path / side
        folder.mkdir()
        (folder / "box.mtl").write_text(mtl)
        (folder / "box.obj").write_text(
            "mtllib box.mtl\no Box\nv 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\n"
            "usemtl paint\nf 1 2 3\nf 1 3 4\n")
        paths.append(folder / "box.obj")
    return paths[0], paths[1]


def test_obj_material_colour_and_texture_reference_changes(tmp_path: Path) -> None:
    a, b = _obj_pair(
        tmp_path,
        "newmtl paint\nKd 0.8 0.8 0.8\nmap_Kd old wood.png\nmap_Bump bumps.png\n",
        "newmtl paint\nKd 1 0 0\nmap_Kd new wood final.png\nmap_Ks shine.png\nNs 10\n")
    (b.parent / "shine.png").write_bytes(b"\x89PNG")
    result = MeshDiffer().diff(a, b, "box.obj", DiffOptions())
    text = "\n".join(result.lines())
    assert "material 'paint' modified" in text
    assert "base colour (0.8, 0.8, 0.8) -> (1, 0, 0)" in text
    assert "texture map_Kd: 'old wood.png' -> 'new wood final.png'" in text
    assert "texture map_Ks added: 'shine.png'" in text
    assert "texture map_Bump removed: 'bumps.png'" in text
    assert "Ns: (unset) -> 10" in text
    (part,) = [p for p in result.parts if p.path == "material:paint"]
    assert part.figures["textures"]["map_Kd"] == ["old wood.png", "new wood final.png"]
    # missing textures are named for the new version only
    assert [r["name"] for r in result.figures["missing_references"]] == [
        "new wood final.png"]
    assert any("new wood final.png" in n and "map_Kd" in n for n in result.notes)
    assert result.figures["nodes"]["modified"] == []


def test_obj_material_library_and_material_set_changes(tmp_path: Path) -> None:
    a, b = _obj_pair(tmp_path, "newmtl paint\nKd 1 1 1\nnewmtl old\nKd 0 0 0\n",
                     "newmtl paint\nKd 1 1 1\nnewmtl fresh\nKd 0 1 0\nmap_Kd a b.png\n")
    text = "\n".join(MeshDiffer().diff(a, b, "box.obj", DiffOptions()).lines())
    assert "material 'fresh' added: base colour (0, 1, 0), map_Kd 'a b.png'" in text
    assert "material 'old' removed" in text
    b.write_text(b.read_text().replace("mtllib box.mtl", "mtllib other.mtl"))
    result = MeshDiffer().diff(a, b, "box.obj", DiffOptions())
    text = "\n".join(result.lines())
    assert "material library added: 'other.mtl'" in text
    assert "material library removed: 'box.mtl'" in text
    assert result.status == "modified"


def test_node_geometry_added_removed_and_counts(tmp_path: Path) -> None:
    from creativevault.formats.mesh import GeometryInfo, NodeInfo, SceneDoc

    def doc(nodes: dict[str, str | None], geoms: dict[str, GeometryInfo]) -> SceneDoc:
        s = SceneDoc(path=tmp_path / "x.glb", format="glb", position_type="float32")
        for p, g in nodes.items():
            s.nodes[p] = NodeInfo(path=p, name=p, local=np.eye(4), world=np.eye(4),
                                  geometry=g)
        s.geometries = geoms
        return s

    box = trimesh.creation.box()
    g = GeometryInfo("g", np.asarray(box.vertices, dtype=np.float64),
                     np.asarray(box.faces, dtype=np.int64))
    a = doc({"n": None, "gone": "g", "empty": None}, {"g": g})
    b = doc({"n": "g", "new": "g", "new-empty": None}, {"g": g})
    result = diff_scenes(a, b, "x.glb", DiffOptions(out_dir=tmp_path))
    text = "\n".join(result.lines())
    assert "geometry added: 8 vertices, 12 faces" in text
    assert "node new added: 8 vertices, 12 faces" in text
    assert "node gone removed: 8 vertices, 12 faces" in text
    assert "node new-empty added (empty node)" in text
    assert "node empty removed (empty node)" in text
    back = diff_scenes(b, a, "x.glb", DiffOptions())
    assert "geometry removed: 8 vertices, 12 faces" in "\n".join(back.lines())


def test_added_model_picture_and_preview_edge(fixture_file, tmp_path: Path) -> None:
    result = MeshDiffer().diff(None, fixture_file("mesh/monkey.glb"), "models/monkey.glb",
                               DiffOptions(out_dir=tmp_path, preview_edge=1000))
    (picture,) = result.pictures
    assert picture.path == tmp_path / "monkey.render.png"
    img = np.asarray(Image.open(picture.path).convert("RGB"))
    assert img.shape[1] <= 1000
    right = img[18:, img.shape[1] // 2 + 8:]
    assert ((right[:, :, 0].astype(int) - right[:, :, 2]) > 100).any()  # new: red
    gone = MeshDiffer().diff(fixture_file("mesh/monkey.glb"), None, "monkey.glb",
                             DiffOptions(out_dir=tmp_path / "g"))
    assert gone.pictures[0].path.is_file()


def test_git_temp_files_without_suffix(fixture_file, tmp_path: Path) -> None:
    a = tmp_path / "XyZ12_monkey"
    shutil.copyfile(fixture_file("mesh/monkey.glb"), a)
    b = tmp_path / "other"
    shutil.copyfile(fixture_file("mesh/teapot.stl"), b)
    result = MeshDiffer().diff(a, a, "monkey.glb", DiffOptions())
    assert result.status == "unchanged"
    result = MeshDiffer().diff(a, a, "mystery", DiffOptions())  # GLB by its magic
    assert result.status == "unchanged"
    with pytest.raises(InputFileError):  # an STL without a name says nothing
        MeshDiffer().diff(a, b, "mystery", DiffOptions())


def test_corrupt_input_raises_for_the_engine(tmp_path: Path, fixture_file) -> None:
    bad = tmp_path / "bad.glb"
    bad.write_bytes(b"glTF\x02\x00\x00\x00")
    with pytest.raises(InputFileError):
        MeshDiffer().diff(fixture_file("mesh/monkey.glb"), bad, "bad.glb", DiffOptions())
    with pytest.raises(InputFileError):
        MeshDiffer().diff(tmp_path / "nope", None, "nope", DiffOptions())


def test_point_cloud_and_degenerate_surfaces(tmp_path: Path) -> None:
    from creativevault.formats.mesh import GeometryInfo, NodeInfo, SceneDoc

    def doc(vertices: np.ndarray, faces: np.ndarray) -> SceneDoc:
        s = SceneDoc(path=tmp_path / "x.ply", format="ply", position_type="float32")
        s.nodes["mesh"] = NodeInfo("mesh", "mesh", np.eye(4), np.eye(4), "mesh")
        s.geometries["mesh"] = GeometryInfo("mesh", vertices, faces)
        return s

    cloud = doc(np.array([[0.0, 0, 0], [1, 0, 0]]), np.zeros((0, 3), dtype=np.int64))
    more = doc(np.array([[0.0, 0, 0], [1, 0, 0], [3, 0, 0]]),
               np.zeros((0, 3), dtype=np.int64))
    s = diff_scenes(cloud, more, "x.ply").parts[0].figures["surface_distance"]
    assert s["hausdorff"] == 2.0 and s["a_to_b"]["max"] == 0.0
    empty = doc(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64))
    s = diff_scenes(cloud, empty, "x.ply").parts[0].figures["surface_distance"]
    assert np.isnan(s["hausdorff"])
    flat = doc(np.array([[0.0, 0, 0], [1, 0, 0], [2, 0, 0]]), np.array([[0, 1, 2]]))
    s = diff_scenes(cloud, flat, "x.ply").parts[0].figures["surface_distance"]
    assert s["hausdorff"] == 1.0
