"""The wheelhouse: every wheel `aidoctor install` builds or downloads, with its provenance, for offline reinstalls."""

from ..doctor.core.errors import TamperedWheel, WheelhouseError
from .store import Problem, StoredWheel, Wheelhouse, key_id_for

__all__ = ["Problem", "StoredWheel", "TamperedWheel", "Wheelhouse", "WheelhouseError", "key_id_for"]
