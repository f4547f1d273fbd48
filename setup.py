"""Compile the message catalogues (campaign/locale/*/LC_MESSAGES/campaign.po -> .mo) whenever
the package is built or installed, editable installs included: the `.mo` files are never
committed and never made by hand. Everything else about the package is in pyproject.toml."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithCatalogues(build_py):
    def run(self) -> None:
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        for po in sorted(Path(__file__).parent.glob("campaign/locale/*/LC_MESSAGES/*.po")):
            with po.open("rb") as handle:
                catalog = read_po(handle)
            with po.with_suffix(".mo").open("wb") as out:
                write_mo(out, catalog)
        super().run()


setup(cmdclass={"build_py": BuildWithCatalogues})
