"""Which folders the distribution holds; everything else is declared in pyproject.toml.

``appPackage/`` (the Teams app package template and icons) and ``media/prompts/`` (the
standard prompts) stay at the top of the repository and ship as the packages
``bot.app_package`` and ``bot.standard_prompts`` (docs/decisions/0018-installable-wheel.md).
pyproject.toml cannot list found packages and mapped ones together, hence this file.
"""

from setuptools import find_namespace_packages, setup

# Package name -> the repository folder it is built from.
MAPPED_PACKAGES = {
    "bot.app_package": "appPackage",
    "bot.standard_prompts": "media/prompts",
}
PACKAGES = ["contactcenter*", "bot*", "graph*", "simulator*", "storage*", "tab*", "bench*"]

setup(
    packages=[*find_namespace_packages(include=PACKAGES), *MAPPED_PACKAGES],
    package_dir=MAPPED_PACKAGES,
)
