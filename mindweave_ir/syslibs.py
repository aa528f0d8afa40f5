"""Whether the system libraries behind optional features are here.

PDFs (post-incident reviews, handoffs) are rendered by WeasyPrint, which loads
Pango, GObject, HarfBuzz and Fontconfig from the system when it is imported. A slim
Linux image or a fresh macOS has none of them; everything else in the product works
without them, so nothing imports WeasyPrint until a PDF is asked for, and this
module says plainly what is missing and how to install it.

`python -m mindweave_ir.syslibs` prints the same (`make run` shows it at start-up).
"""

import functools
import importlib
import sys

PDF_INSTALL = {
    "Debian/Ubuntu": "sudo apt-get install -y libpango-1.0-0 libpangoft2-1.0-0 "
                     "fonts-dejavu-core",
    "Fedora/RHEL": "sudo dnf install -y pango",
    "macOS (Homebrew)": "brew install pango",
}


def pdf_install_hint():
    """One line per platform: how to get WeasyPrint's system libraries."""
    return "; ".join(f"{platform}: {command}" for platform, command in PDF_INSTALL.items())


@functools.cache
def pdf_problem():
    """'' if WeasyPrint can render here, else what is missing and how to install it.

    Cached for the process: the libraries are loaded once, at import, so installing
    them takes a restart anyway, and a probe (e.g. /readyz every few seconds) must
    not retry a failing import each time.
    """
    try:
        importlib.import_module("weasyprint")
    except (OSError, ImportError) as exc:
        return (f"PDF export is unavailable: WeasyPrint cannot load the system's Pango "
                f"libraries ({exc}). Install them, then restart: {pdf_install_hint()}.")
    return ""


def main():
    problem = pdf_problem()
    print(f"  {problem}" if problem else "  PDF export: ready (WeasyPrint and Pango found)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
