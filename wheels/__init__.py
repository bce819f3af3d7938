"""The wheelhouse: wheels built or downloaded for this machine (aidoctor install; not yet built)."""
