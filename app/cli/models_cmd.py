"""`main.py models`: list the registered models, activate one, roll back (docs/fine-tuning.md)."""

from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="every model: version, status, parent, created, key metrics (* = active)")
    ls.add_argument("--json", action="store_true", help="the registry entries as JSON")
    a = sub.add_parser("activate", help="make VERSION (or a unique prefix of it) the active model")
    a.add_argument("version")
    a.add_argument("--force", action="store_true", help="also a model that fine-tuning rejected")
    rb = sub.add_parser("rollback", help="activate the parent of the active model")
    for sp in (a, rb):
        sp.add_argument("--store", metavar="URL", help="the lab server (postgresql://host/db) this "
                        "workstation works against: the change is recorded there, lab admins only")
    sub.add_parser("path", help="print the active model's checkpoint path")


def _fmt(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def _list(reg, as_json: bool) -> int:
    entries, active = reg.entries(), reg.active_version()
    if as_json:
        import json

        print(json.dumps([{**e.to_dict(), "active": e.version == active} for e in entries], indent=1))
        return 0
    if not entries:
        print("no models: the bundled model is not installed and nothing was fine-tuned yet")
        return 0
    print(f"  {'version':12s}  {'status':9s}  {'parent':12s}  {'created (UTC)':20s}  "
          f"{'n':>3s}  {'frag Dice':>9s}  {'MAE pts':>7s}  {'kappa':>6s}  reason")
    for e in entries:
        m = e.metrics
        print(f"{'*' if e.version == active else ' '} {e.version:12s}  {e.status:9s}  {e.parent or '-':12s}  "
              f"{e.created_utc:20s}  {_fmt(m.get('n_images'), '>3d'):>3s}  {_fmt(m.get('fragment_dice'), '.3f'):>9s}  "
              f"{_fmt(m.get('fraction_mae_pts_mask'), '.2f'):>7s}  {_fmt(m.get('grade_kappa_quadratic'), '.3f'):>6s}  "
              f"{e.reason}")
    return 0


def run(args) -> int:
    from app.core.registry import Registry, RegistryError
    from app.core.store_format import StoreError

    reg = Registry()
    store = getattr(args, "store", None)
    if store:
        from app.cli.server_cmd import ask_password
        from app.core.server_models import recorder
        from app.core.store_api import is_server_url

        if not is_server_url(store):
            print(f"error: --store must be the lab server's postgresql:// URL, not {store!r}", file=sys.stderr)
            return 2
        reg.recorder = recorder(store, ask_password=ask_password)
    try:
        if args.action == "list":
            rc = _list(reg, args.json)
        elif args.action == "activate":
            e = reg.activate(args.version, force=args.force)
            print(f"active model: {e.version} ({reg.path_of(e)})")
            rc = 0
        elif args.action == "rollback":
            e = reg.rollback()
            print(f"rolled back: active model is now {e.version} ({e.status})")
            rc = 0
        else:
            print(reg.active_path())
            rc = 0
    except RegistryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except StoreError as exc:  # the lab server refused the change (not a lab admin) or is unreachable
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for line in reg.recovery:
        print(f"warning: {line}", file=sys.stderr)
    return rc
