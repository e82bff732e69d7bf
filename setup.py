"""Map the top-level role folders to packages under ``heals.``.

commands/, streams/, projections/ and connectors/ live at the top of the
repository, where the architecture names them, but install as
heals.commands, heals.streams and so on, so nothing generic lands at the top
of site-packages. pyproject.toml contains every other setting.
"""

from setuptools import find_packages, setup

ROLE_FOLDERS = ("commands", "streams", "projections", "connectors")


def _packages_and_dirs() -> tuple[list[str], dict[str, str]]:
    packages = ["heals", *(f"heals.{name}" for name in find_packages("heals"))]
    package_dir = {"heals": "heals"}
    for folder in ROLE_FOLDERS:
        root = f"heals.{folder}"
        packages.append(root)
        package_dir[root] = folder
        packages.extend(f"{root}.{name}" for name in find_packages(folder))
    return packages, package_dir


PACKAGES, PACKAGE_DIR = _packages_and_dirs()

setup(packages=PACKAGES, package_dir=PACKAGE_DIR)
