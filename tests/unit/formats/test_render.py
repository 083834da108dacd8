"""formats.render: the headless rasteriser draws what is in front of the camera."""

from __future__ import annotations

import time

import numpy as np
import pytest
import trimesh

from creativevault.formats.render import (
    BACKGROUND,
    Camera,
    RenderMesh,
    fit_camera,
    heat_colors,
    render,
)


def _foreground(img: np.ndarray) -> np.ndarray:
    return (img != np.asarray(BACKGROUND, dtype=np.uint8)).any(axis=2)


def test_box_is_drawn_in_the_middle() -> None:
    box = trimesh.creation.box()
    camera = fit_camera(*box.bounds, 320, 240)
    img = render([RenderMesh(box.vertices, box.faces)], camera)
    assert img.shape == (240, 320, 3) and img.dtype == np.uint8
    fg = _foreground(img)
    assert 0.05 < fg.mean() < 0.6
    assert fg[120, 160] and not fg[0, 0]
    # three visible faces, each flat-shaded differently
    assert len({tuple(c) for c in img[fg].reshape(-1, 3)}) >= 3


def test_default_size_and_supersampling() -> None:
    sphere = trimesh.creation.icosphere(subdivisions=2)
    camera = fit_camera(*sphere.bounds)
    img = render([RenderMesh(sphere.vertices, sphere.faces)], camera, supersample=2)
    assert img.shape == (768, 1024, 3)
    assert _foreground(img).any()


def test_nearer_triangle_wins_whatever_the_order() -> None:
    quad = np.array([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]], dtype=float)
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    near = RenderMesh(quad + [0, 0, 1], faces, color=(1.0, 0.0, 0.0))
    far = RenderMesh(quad * 3, faces, color=(0.0, 0.0, 1.0))
    camera = Camera(eye=(0, 0, 10), target=(0, 0, 0), width=64, height=64)
    for order in ([near, far], [far, near]):
        img = render(order, camera)
        r, g, b = (int(x) for x in img[32, 32])
        assert r > 0 and b == 0 and g == 0
        assert img[2, 32, 2] > 0 and img[2, 32, 0] == 0  # the far quad around it


def test_vertex_colours_and_heat_scale() -> None:
    colors = heat_colors(np.array([0.0, 0.5, 1.0, 2.0, np.nan]), 1.0)
    assert colors.shape == (5, 3)
    assert colors[0, 2] > colors[0, 0]  # blue at zero
    assert colors[2, 0] > colors[2, 2] and np.array_equal(colors[2], colors[3])  # red, clipped
    assert np.array_equal(heat_colors(np.ones(2), 0.0)[0], colors[0])
    quad = np.array([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]], dtype=float)
    mesh = RenderMesh(quad, np.array([[0, 1, 2], [0, 2, 3]]),
                      vertex_colors=heat_colors(np.array([0.0, 1.0, 1.0, 0.0]), 1.0))
    img = render([mesh], Camera(eye=(0, 0, 5), target=(0, 0, 0), width=80, height=60))
    left, right = img[30, 25].astype(int), img[30, 55].astype(int)
    assert left[2] > left[0] and right[0] > right[2]


def test_culls_what_is_behind_or_degenerate() -> None:
    tri = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=float)
    camera = Camera(eye=(0, 0, -5), target=(0, 0, -10), width=32, height=32)  # looks away
    img = render([RenderMesh(tri, np.array([[0, 1, 2]]))], camera)
    assert not _foreground(img).any()
    flat = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0]], dtype=float)  # zero area
    bad = np.array([[np.nan, 0, 0], [1, 0, 0], [0, 1, 0]])
    camera = Camera(eye=(0, 0, 5), target=(0, 0, 0), width=32, height=32)
    meshes = [RenderMesh(flat, np.array([[0, 1, 2]])), RenderMesh(bad, np.array([[0, 1, 2]])),
              RenderMesh(tri, np.array([[0, 1, 7]])), RenderMesh(np.zeros((0, 3)),
                                                                 np.zeros((0, 3)))]
    assert not _foreground(render(meshes, camera)).any()
    assert not _foreground(render([], camera)).any()


def test_fit_camera_degenerate_bounds() -> None:
    cam = fit_camera([0, 0, 0], [0, 0, 0], 100, 100)
    assert np.isfinite(cam.eye).all()
    cam = fit_camera([np.nan] * 3, [1, 1, 1])
    assert np.isfinite(cam.eye).all()
    top = Camera(eye=(0, 5, 0), target=(0, 0, 0), width=40, height=30)  # looking along up
    sphere = trimesh.creation.icosphere(subdivisions=1)
    assert _foreground(render([RenderMesh(sphere.vertices, sphere.faces)], top)).any()


def test_big_triangles_cover_the_frame() -> None:
    quad = np.array([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]], dtype=float)
    camera = Camera(eye=(0, 0, 1), target=(0, 0, 0), width=200, height=150)
    img = render([RenderMesh(quad * 10, np.array([[0, 1, 2], [0, 2, 3]]))], camera)
    assert _foreground(img).all()


@pytest.mark.parametrize("subdivisions,limit", [(6, 3.0)])
def test_100k_triangles_render_fast(subdivisions: int, limit: float) -> None:
    sphere = trimesh.creation.icosphere(subdivisions=subdivisions)  # 81,920 faces
    small = trimesh.creation.icosphere(subdivisions=5)  # + 20,480
    vertices = np.vstack([sphere.vertices, small.vertices * 0.5 + [1.2, 0, 0]])
    faces = np.vstack([sphere.faces, small.faces + len(sphere.vertices)])
    assert len(faces) == 102_400
    camera = fit_camera(vertices.min(axis=0), vertices.max(axis=0))
    start = time.perf_counter()
    img = render([RenderMesh(vertices, faces)], camera)
    elapsed = time.perf_counter() - start
    assert _foreground(img).mean() > 0.1
    assert elapsed < limit  # measured ~0.2 s on the 2-core dev machine
