"""Per-frame face features from MediaPipe's face mesh (478 landmarks; the models ship in the
`mediapipe==0.10.14` wheel): head pose and expression geometry, or the raw normalised landmarks.

Left and right are the subject's own. Geometry is measured in a face frame (origin at the nose tip,
x from the right eye to the left eye, y towards the chin, z = x × y) and divided by the inter-ocular
distance (IOD), so it does not change when the face moves, turns or changes size in the picture.
See docs/EXTRACTION.md for what each feature corresponds to among Facet's outputs.
"""

from __future__ import annotations

import os
import warnings
from functools import lru_cache

import numpy as np

from hscl.extract.native_log import quiet_native_stderr

N_LANDMARKS = 478  # face mesh with the refined eye and iris points

# MediaPipe face-mesh landmark indices used by the geometry.
NOSE_TIP, NOSE_BASE, CHIN = 1, 2, 152
RIGHT_EYE_OUTER, RIGHT_EYE_INNER, RIGHT_LID_UPPER, RIGHT_LID_LOWER, RIGHT_IRIS = 33, 133, 159, 145, 468
LEFT_EYE_OUTER, LEFT_EYE_INNER, LEFT_LID_UPPER, LEFT_LID_LOWER, LEFT_IRIS = 263, 362, 386, 374, 473
MOUTH_RIGHT, MOUTH_LEFT, LIP_INNER_UPPER, LIP_INNER_LOWER, LIP_OUTER_UPPER, LIP_OUTER_LOWER = 61, 291, 13, 14, 0, 17
RIGHT_BROW_MID, LEFT_BROW_MID, RIGHT_BROW_INNER, LEFT_BROW_INNER = 105, 334, 55, 285

GEOMETRY_NAMES: tuple[str, ...] = (
    "head_yaw",
    "head_pitch",
    "head_roll",
    "face_x",
    "face_y",
    "face_scale",
    "mouth_open",
    "mouth_width",
    "lip_corner_right",
    "lip_corner_left",
    "eye_open_right",
    "eye_open_left",
    "brow_raise_right",
    "brow_raise_left",
    "brow_gap",
    "jaw_drop",
    "gaze_right",
    "gaze_left",
    "upper_lip_raise",
    "lip_height",
)


def feature_names(face_set: str) -> list[str]:
    """Names of the per-frame features of `face_set` ('geometry' or 'landmarks')."""
    if face_set == "geometry":
        return list(GEOMETRY_NAMES)
    return [f"{axis}{i}" for i in range(N_LANDMARKS) for axis in "xyz"]


def face_frame(points: np.ndarray) -> tuple[np.ndarray, float]:
    """The rotation whose rows are the face's x, y, z axes in picture coordinates, and the IOD.

    `points` are landmarks (478, 3) in pixel-like units (x and z times the width, y times the height).
    """
    right_eye = (points[RIGHT_EYE_OUTER] + points[RIGHT_EYE_INNER]) / 2
    left_eye = (points[LEFT_EYE_OUTER] + points[LEFT_EYE_INNER]) / 2
    x_axis = left_eye - right_eye
    iod = float(np.linalg.norm(x_axis))
    x_axis = x_axis / iod
    down = points[CHIN] - (left_eye + right_eye) / 2
    y_axis = down - np.dot(down, x_axis) * x_axis
    y_axis = y_axis / np.linalg.norm(y_axis)
    return np.stack([x_axis, y_axis, np.cross(x_axis, y_axis)]), iod


def head_pose(rotation: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in radians of a face frame `rotation` (rows: face axes), Z-Y-X order.

    With M = rotationᵀ (columns: face axes) = Rz(roll) Ry(yaw) Rx(pitch): yaw = asin(-M[2,0]),
    pitch = atan2(M[2,1], M[2,2]), roll = atan2(M[1,0], M[0,0]).
    """
    m = rotation.T
    yaw = float(np.arcsin(np.clip(-m[2, 0], -1.0, 1.0)))
    pitch = float(np.arctan2(m[2, 1], m[2, 2]))
    roll = float(np.arctan2(m[1, 0], m[0, 0]))
    return yaw, pitch, roll


def geometry(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """The 20 `GEOMETRY_NAMES` features (float32) of normalised landmarks (478, 3) in a width × height picture."""
    points = landmarks.astype(np.float64) * np.array([width, height, width], dtype=np.float64)
    rotation, iod = face_frame(points)
    face = (points - points[NOSE_TIP]) @ rotation.T / iod  # face-frame coordinates in IODs

    def gap(a: int, b: int) -> float:
        return float(np.linalg.norm(face[a] - face[b]))

    def across(point: int, start: int, end: int) -> float:
        span = face[end] - face[start]
        return float(np.dot(face[point] - face[start], span) / np.dot(span, span))

    lip_middle_y = (face[LIP_INNER_UPPER, 1] + face[LIP_INNER_LOWER, 1]) / 2
    values = (
        *head_pose(rotation),
        float(landmarks[:, 0].mean()),
        float(landmarks[:, 1].mean()),
        iod / width,
        gap(LIP_INNER_UPPER, LIP_INNER_LOWER),
        gap(MOUTH_RIGHT, MOUTH_LEFT),
        lip_middle_y - face[MOUTH_RIGHT, 1],
        lip_middle_y - face[MOUTH_LEFT, 1],
        gap(RIGHT_LID_UPPER, RIGHT_LID_LOWER) / gap(RIGHT_EYE_OUTER, RIGHT_EYE_INNER),
        gap(LEFT_LID_UPPER, LEFT_LID_LOWER) / gap(LEFT_EYE_OUTER, LEFT_EYE_INNER),
        face[RIGHT_LID_UPPER, 1] - face[RIGHT_BROW_MID, 1],
        face[LEFT_LID_UPPER, 1] - face[LEFT_BROW_MID, 1],
        gap(RIGHT_BROW_INNER, LEFT_BROW_INNER),
        gap(NOSE_TIP, CHIN),
        across(RIGHT_IRIS, RIGHT_EYE_OUTER, RIGHT_EYE_INNER),
        across(LEFT_IRIS, LEFT_EYE_INNER, LEFT_EYE_OUTER),
        gap(NOSE_BASE, LIP_OUTER_UPPER),
        gap(LIP_OUTER_UPPER, LIP_OUTER_LOWER),
    )
    return np.asarray(values, dtype=np.float32)


@lru_cache(maxsize=1)
def _face_mesh():
    """MediaPipe's face mesh, built and run once on a blank frame, its native start-up lines kept quiet."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    import mediapipe as mp

    with quiet_native_stderr():
        # Every frame is searched on its own (no tracking), so a frame's features do not depend on the ones before.
        mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True)
        _process(mesh, np.zeros((64, 64, 3), dtype=np.uint8))  # the models start (and log) on the first frame
    return mesh


def _process(mesh, frame: np.ndarray):
    with warnings.catch_warnings():  # mediapipe 0.10.14 calls a protobuf method that protobuf 4.25 marks deprecated
        warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype", category=UserWarning)
        return mesh.process(np.ascontiguousarray(frame))


def detect_landmarks(frame: np.ndarray) -> np.ndarray | None:
    """Normalised landmarks (478, 3) of the most prominent face in an RGB frame, or None if there is no face."""
    mesh = _face_mesh()
    with quiet_native_stderr():
        result = _process(mesh, frame)
    if not result.multi_face_landmarks:
        return None
    return np.array([(p.x, p.y, p.z) for p in result.multi_face_landmarks[0].landmark], dtype=np.float32)


def face_features(frame: np.ndarray, face_set: str) -> np.ndarray | None:
    """The `face_set` features of one RGB frame, or None when no face is found."""
    landmarks = detect_landmarks(frame)
    if landmarks is None:
        return None
    if face_set == "landmarks":
        return landmarks.reshape(-1)
    height, width = frame.shape[:2]
    return geometry(landmarks, width, height)
