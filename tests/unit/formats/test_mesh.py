"""formats.mesh: every shared model loads with trimesh's counts, float64 positions kept
exactly, scene-graph paths, materials and file references read from the files."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import trimesh

from creativevault.errors import InputFileError
from creativevault.formats.mesh import load_scene, transform_points

# fixture -> (format, mesh nodes, vertices, faces, trimesh.load options matching ours)
FIXTURES = {
    "mesh/box.obj": ("obj", 2, 14, 12, {"maintain_order": True, "group_material": False}),
    "mesh/fuze.obj": ("obj", 1, 502, 1000, {"maintain_order": True,
                                            "group_material": False}),
    "mesh/fuze.ply": ("ply", 1, 502, 1000, {"fix_texture": False,
                                            "skip_materials": True}),
    "mesh/TestScene.gltf": ("gltf", 9, 836, 1096, {}),
    "mesh/BoxTextured.glb": ("glb", 1, 24, 12, {}),
    "mesh/monkey.glb": ("glb", 1, 1966, 968, {}),
    "mesh/nested.glb": ("glb", 3, 72, 36, {}),
    "mesh/teapot.stl": ("stl", 1, 2682, 894, {}),
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # trimesh on box.obj
@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_fixture_counts_match_trimesh(fixture_file, name: str) -> None:
    path = fixture_file(name)
    fmt, nodes, vertices, faces, options = FIXTURES[name]
    doc = load_scene(path)
    assert doc.format == fmt
    assert (len(doc.mesh_nodes()), doc.vertex_count, doc.face_count) == (
        nodes, vertices, faces)

    scene = trimesh.load(str(path), force="scene", process=False, **options)
    expected_vertices = sum(len(scene.geometry[g].vertices)
                            for g in (scene.graph[n][1] for n in scene.graph.nodes_geometry))
    expected_faces = sum(len(scene.geometry[g].faces)
                         for g in (scene.graph[n][1] for n in scene.graph.nodes_geometry))
    assert (doc.vertex_count, doc.face_count) == (expected_vertices, expected_faces)
    # positions: float64, equal to trimesh's bit for bit, in the same order
    ours = sorted(g.vertices.tobytes() for g in doc.geometries.values())
    theirs = sorted(np.asarray(g.vertices, dtype=np.float64).tobytes()
                    for g in scene.geometry.values())
    assert ours == theirs
    for g in doc.geometries.values():
        assert g.vertices.dtype == np.float64 and g.faces.shape[1] == 3
    low, high = doc.bounds()
    assert np.allclose(low, scene.bounds[0]) and np.allclose(high, scene.bounds[1])


def test_obj_keeps_file_vertex_order(fixture_file) -> None:
    doc = load_scene(fixture_file("mesh/fuze.obj"))
    lines = [ln.split() for ln in fixture_file("mesh/fuze.obj").read_text().splitlines()
             if ln.startswith("v ")]
    file_vertices = np.array([[float(x) for x in ln[1:4]] for ln in lines])
    assert np.array_equal(doc.geometries["mesh"].vertices, file_vertices)
    assert doc.position_type == "text"


def test_obj_materials_and_texture_name_with_space(fixture_file) -> None:
    doc = load_scene(fixture_file("mesh/fuze.obj"))
    material = doc.materials["a-super-duper-material"]
    assert material.base_color == (1.0, 1.0, 1.0)
    ref = material.textures["map_Kd"]
    assert ref.name == "fuze uv.jpg" and ref.exists and ref.path is not None
    assert ref.path.name == "fuze uv.jpg"
    assert doc.geometries["mesh"].material == "a-super-duper-material"
    assert doc.missing_references() == []
    box = load_scene(fixture_file("mesh/box.obj"))
    assert sorted(box.materials) == ["Material", "SecondMaterial"]
    assert box.materials["Material"].base_color == (0.8, 0.8, 0.8)
    assert box.materials["Material"].properties["Ks"] == "0.500000 0.500000 0.500000"
    assert list(box.nodes) == ["Cube", "Cube_1"]


def test_ply_texture_comment_and_precision(fixture_file) -> None:
    doc = load_scene(fixture_file("mesh/fuze.ply"))
    assert doc.position_type == "float32"
    assert doc.materials["ply"].textures["TextureFile"].name == "fuze uv.jpg"
    assert list(doc.nodes) == ["mesh"]
    assert doc.geometries["mesh"].material == "ply"


def test_gltf_scene_graph_paths_and_external_buffer(fixture_file) -> None:
    doc = load_scene(fixture_file("mesh/TestScene.gltf"))
    assert "TestExportScene/TestNode/Sphere" in doc.nodes
    assert "TestExportScene/Cube_1" in doc.nodes
    # one glTF mesh with two primitives: a stable name per primitive
    assert "TestExportScene/d8[d8 (1)_1]" in doc.nodes
    sphere = doc.nodes["TestExportScene/TestNode/Sphere"]
    assert sphere.world[0, 3] == pytest.approx(1.62)
    assert np.allclose(doc.world_vertices(sphere),
                       doc.geometries["Sphere"].vertices + [1.62, 0, 0])
    assert [r.name for r in doc.references if r.role == "buffer"] == ["TestScene.bin"]
    assert doc.materials["TestMaterial1"].base_color[0] == pytest.approx(0.489488125)
    assert doc.materials["UnityStandardMaterial"].properties["alphaMode"] == '"BLEND"'


def test_glb_embedded_texture_digest(fixture_file) -> None:
    doc = load_scene(fixture_file("mesh/BoxTextured.glb"))
    ref = doc.materials["Texture"].textures["baseColorTexture"]
    assert ref.embedded and ref.exists and ref.name == "CesiumLogoFlat.png"
    assert ref.digest is not None and len(ref.digest) == 64
    nested = load_scene(fixture_file("mesh/nested.glb"))
    assert list(nested.nodes) == ["block01", "block01/block02", "block01/block02/block03"]
    node = nested.nodes["block01/block02/block03"]
    assert np.allclose(node.world, nested.nodes["block01/block02"].world @ node.local)


def test_stl_single_mesh_named_mesh_whatever_the_file_name(fixture_file,
                                                           tmp_path: Path) -> None:
    copy = tmp_path / "tmp_ABC123_teapot"
    shutil.copyfile(fixture_file("mesh/teapot.stl"), copy)
    doc = load_scene(copy, "stl")
    assert list(doc.nodes) == ["mesh"] and doc.position_type == "float32"
    assert doc.face_count == 894


def test_missing_texture_and_buffer_references_are_reported(tmp_path: Path) -> None:
    (tmp_path / "m.obj").write_text("mtllib my mats.mtl\nv 0 0 0\nv 1 0 0\nv 0 1 0\n"
                                    "usemtl red\nf 1 2 3\n")
    (tmp_path / "my mats.mtl").write_text(
        "newmtl red\nKd 1 0 0\nmap_Kd -s 1 1 1 -o 0.5 0 textures/brick wall.png\n"
        "bump -bm 0.3 normal map.png\n")
    doc = load_scene(tmp_path / "m.obj")
    red = doc.materials["red"]
    assert red.textures["map_Kd"].name == "textures/brick wall.png"
    assert red.textures["bump"].name == "normal map.png"
    missing = {r.name for r in doc.missing_references()}
    assert missing == {"textures/brick wall.png", "normal map.png"}
    assert doc.geometries["m" if "m" in doc.geometries else "mesh"].material == "red"

    (tmp_path / "n.obj").write_text("mtllib gone.mtl\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    gone = load_scene(tmp_path / "n.obj")
    assert [(r.role, r.name) for r in gone.missing_references()] == [
        ("material library", "gone.mtl")]


def test_gltf_with_missing_image_uri_still_loads(tmp_path: Path) -> None:
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=np.float32).tobytes()
    indices = np.array([0, 1, 2], dtype=np.uint16).tobytes() + b"\0\0"
    blob = vertices + indices
    (tmp_path / "tri.bin").write_bytes(blob)
    gltf = {
        "asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": [0]}],
        "nodes": [{"name": "Tri", "mesh": 0}],
        "meshes": [{"name": "Tri", "primitives": [
            {"attributes": {"POSITION": 0}, "indices": 1, "material": 0}]}],
        "materials": [{"name": "Skin", "pbrMetallicRoughness": {
            "baseColorTexture": {"index": 0}}}],
        "textures": [{"source": 0}], "images": [{"uri": "skin%20tone.png"}],
        "buffers": [{"uri": "tri.bin", "byteLength": len(blob)}],
        "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": 36},
                        {"buffer": 0, "byteOffset": 36, "byteLength": 6}],
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3",
             "min": [0, 0, 0], "max": [1, 1, 0]},
            {"bufferView": 1, "componentType": 5123, "count": 3, "type": "SCALAR"}],
    }
    (tmp_path / "tri.gltf").write_text(json.dumps(gltf))
    doc = load_scene(tmp_path / "tri.gltf")
    ref = doc.materials["Skin"].textures["baseColorTexture"]
    assert ref.name == "skin%20tone.png" and ref.path == tmp_path / "skin tone.png"
    assert not ref.exists and doc.missing_references() == [ref]
    assert doc.face_count == 1 and doc.nodes["Tri"].geometry is not None
    # without its buffer the file cannot be read
    (tmp_path / "tri.bin").unlink()
    with pytest.raises(InputFileError) as info:
        load_scene(tmp_path / "tri.gltf")
    assert "tri.gltf" in str(info.value)


def _truncated(fixture_file, name: str, size: int) -> bytes:
    return fixture_file(name).read_bytes()[:size]


@pytest.mark.parametrize("name,content", [
    ("bad.glb", b""),
    ("bad.glb", b"glTF\x02\x00\x00\x00\xff\xff\x00\x00"),
    ("bad.glb", b"glTF\x02\x00\x00\x00\x20\x00\x00\x00\x10\x00\x00\x00JSON{not json}  "),
    ("bad.gltf", b'{"asset": '),
    ("bad.gltf", b"[1, 2]"),
    ("bad.stl", b"garbage" * 10),
    ("bad.ply", b"junk"),
    ("bad.obj", b"\x00\x01garbage\xff"),
    ("bad.obj", b"v 1 2\nf 1 2 3\n"),
    ("bad.fbx", b"Kaydara FBX Binary"),
])
def test_corrupt_files_raise_input_file_error(tmp_path: Path, name: str,
                                              content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputFileError) as info:
        load_scene(path)
    assert name in str(info.value)


@pytest.mark.parametrize("name,size", [("mesh/teapot.stl", 3000), ("mesh/fuze.ply", 3000),
                                       ("mesh/monkey.glb", 5000)])
def test_truncated_fixtures_raise(fixture_file, tmp_path: Path, name: str,
                                  size: int) -> None:
    path = tmp_path / Path(name).name
    path.write_bytes(_truncated(fixture_file, name, size))
    with pytest.raises(InputFileError):
        load_scene(path)


def test_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(InputFileError):
        load_scene(tmp_path / "nope.obj")


def test_empty_gltf_scene_is_valid(tmp_path: Path) -> None:
    (tmp_path / "empty.gltf").write_text('{"asset": {"version": "2.0"}}')
    doc = load_scene(tmp_path / "empty.gltf")
    assert doc.nodes == {} and doc.bounds() is None and doc.vertex_count == 0


def test_float64_ply_positions_are_kept_exactly(tmp_path: Path) -> None:
    vertices = np.array([[0.1, 0.2, 0.3], [1 / 3, 2 / 3, 1.0], [1e-17, 0, 1]])
    header = ("ply\nformat binary_little_endian 1.0\nelement vertex 3\n"
              "property double x\nproperty double y\nproperty double z\n"
              "element face 1\nproperty list uchar int vertex_indices\nend_header\n")
    body = vertices.astype("<f8").tobytes() + struct.pack("<B3i", 3, 0, 1, 2)
    (tmp_path / "p.ply").write_bytes(header.encode() + body)
    doc = load_scene(tmp_path / "p.ply")
    assert doc.position_type == "float64"
    assert np.array_equal(doc.geometries["mesh"].vertices, vertices)
    m = np.eye(4)
    assert transform_points(vertices, m) is vertices
    m[:3, 3] = [1, 2, 3]
    assert np.allclose(transform_points(vertices, m), vertices + [1, 2, 3])
