"""The local demo's settings file: `.env` beside manage.py.

`make install` writes it once (DEBUG on, a generated SECRET_KEY, SITE_URL for the
address `make run` serves), and settings load it when present, so every documented
`manage.py` command works from a plain shell after `make run`. Variables set in the
real environment always win over the file. A production host has no such file and
reads only its environment (see .env.example); `MINDWEAVE_ENV_FILE=` (empty) makes
settings ignore the file even where it exists, as `make test` does.

    python -m mindweave_ir.localenv create        # once; never overwrites
    python -m mindweave_ir.localenv serve 8101    # SITE_URL -> http://127.0.0.1:8101
"""

import argparse
import secrets
import sys
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values, set_key

BASE_DIR = Path(__file__).resolve().parent.parent
ENV_FILE = BASE_DIR / ".env"
LOCAL_HOSTS = ("127.0.0.1", "localhost")

HEADER = """\
# The local demo's settings, written once by `make install` (mindweave_ir/localenv.py).
# Not for production: a production host sets its variables in the real environment
# (see .env.example), which always wins over this file. Never commit this file.
"""


def site_url(port):
    return f"http://127.0.0.1:{port}"


def create(path=ENV_FILE, *, port=8000):
    """Write the demo's file unless it exists; True if it was written."""
    path = Path(path)
    if path.exists():
        return False
    path.write_text(
        HEADER
        + "DEBUG=true\n"
        + f"SECRET_KEY={secrets.token_urlsafe(50)}\n"
        + f"SITE_URL={site_url(port)}\n",
        encoding="utf-8",
    )
    path.chmod(0o600)
    return True


def serve(path=ENV_FILE, *, port):
    """Point SITE_URL at the port `make run` serves on, so e-mailed links and feed URLs
    match it. A SITE_URL someone set to a non-local address is left alone; returns the
    SITE_URL in force."""
    path = Path(path)
    current = dotenv_values(path).get("SITE_URL") or ""
    wanted = site_url(port)
    if (not current or urlsplit(current).hostname in LOCAL_HOSTS) and current != wanted:
        set_key(path, "SITE_URL", wanted, quote_mode="never")
        return wanted
    return current


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m mindweave_ir.localenv")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("create", help="write .env for the local demo unless it exists")
    serving = sub.add_parser("serve", help="point SITE_URL at http://127.0.0.1:PORT")
    serving.add_argument("port", type=int)
    args = parser.parse_args(argv)
    if args.command == "create":
        if create():
            print(f"Wrote {ENV_FILE.name} for the local demo (DEBUG on, a new SECRET_KEY).")
        return 0
    if not 0 < args.port < 65536:
        parser.error(f"PORT must be 1-65535, not {args.port}")
    create(port=args.port)
    print(f"  Links in notifications and feeds use SITE_URL={serve(port=args.port)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
