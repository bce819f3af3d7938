"""The wheelhouse: every wheel `aidoctor install` builds or downloads, with its provenance, for offline reinstalls."""

from .store import (Problem, StoredWheel, TamperedWheel, Wheelhouse, WheelhouseError, default_root,
                    key_id_for)

__all__ = ["Problem", "StoredWheel", "TamperedWheel", "Wheelhouse", "WheelhouseError", "default_root", "key_id_for"]
