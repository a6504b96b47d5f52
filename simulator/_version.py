"""The version of arsim (one place; the package and the manifests read it from here)."""

__version__ = "0.1.0"
