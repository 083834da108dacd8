"""CreativeVault: version control and backup for large binary creative files.

``import creativevault as cv; vault = cv.Vault.open(path)``. Importing the package is
cheap: no imaging library (numpy, Pillow, psd-tools, trimesh) is loaded until a feature
that needs one runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from creativevault.errors import VaultError

__version__ = "0.1.0"

__all__ = ["Vault", "VaultError", "__version__"]

if TYPE_CHECKING:
    from creativevault.repo.vault import Vault


def __getattr__(name: str) -> Any:
    # The vault pulls in dulwich; keep `cvault --version` and `import creativevault` light.
    if name == "Vault":
        from creativevault.repo.vault import Vault

        return Vault
    raise AttributeError(f"module 'creativevault' has no attribute {name!r}")
