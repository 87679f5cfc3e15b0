"""Faces: detection, 5-point landmarks, similarity alignment, embedding and verification."""

from reidkit.faces.align import REFERENCE_POINTS, align, alignment_matrix, umeyama
from reidkit.faces.reid import Face, FaceReId

__all__ = ["REFERENCE_POINTS", "Face", "FaceReId", "align", "alignment_matrix", "umeyama"]
