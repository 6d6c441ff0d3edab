#!/usr/bin/env python3
"""Fails when a package in Cargo.lock declares a rust-version newer than ours.

Only one toolchain is installed, so the declared rust-version cannot be tested by building
with it. This script reads `cargo metadata` (the lock file's resolution, every target and
platform, dev-dependencies included) and compares each package's `rust_version` with the
lowest one declared by the workspace members. Packages that declare none are listed, not
failed: nothing can be said about them without building.

Usage: python3 .ci/msrv-deps.py [extra cargo metadata arguments]
"""
import json
import subprocess
import sys


def version(text):
    """'1.85' or '1.85.0' -> (1, 85, 0)."""
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def show(v):
    return ".".join(str(p) for p in v)


def main():
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", *sys.argv[1:]],
        check=True,
        stdout=subprocess.PIPE,
    ).stdout
    meta = json.loads(out)
    members = set(meta["workspace_members"])
    packages = meta["packages"]
    ours = [p for p in packages if p["id"] in members]
    undeclared = [p["name"] for p in ours if not p.get("rust_version")]
    if undeclared:
        print(f"msrv: workspace members without rust-version: {', '.join(undeclared)}")
        return 1
    msrv = min(version(p["rust_version"]) for p in ours)
    mismatched = [p["name"] for p in ours if version(p["rust_version"]) != msrv]
    if mismatched:
        print(f"msrv: members declaring another rust-version than {show(msrv)}: {', '.join(mismatched)}")
        return 1
    too_new, unknown = [], []
    for p in packages:
        if p["id"] in members:
            continue
        rv = p.get("rust_version")
        if not rv:
            unknown.append(f"{p['name']} {p['version']}")
        elif version(rv) > msrv:
            too_new.append(f"{p['name']} {p['version']} needs Rust {rv}")
    deps = len(packages) - len(ours)
    print(
        f"msrv: {deps} locked packages checked against rust-version {show(msrv)}; "
        f"{len(unknown)} declare none"
    )
    if too_new:
        print("msrv: these locked packages need a newer Rust than we declare:")
        for line in sorted(too_new):
            print(f"  {line}")
        print(
            "msrv: pick older versions (the workspace uses resolver 3, so "
            "`cargo update -p NAME` prefers compatible ones) or raise rust-version"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
