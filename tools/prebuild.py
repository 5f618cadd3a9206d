#!/usr/bin/env python3
"""Compiles Liaison's two halves with plain cargo, exactly as `cargo leptos build --release --split`
will (the same packages, profiles, flags and LEPTOS_* variables, read from Cargo.toml's
[[workspace.metadata.leptos]] and .cargo/config.toml), so that on a fresh machine they compile
while tools/setup.sh is still installing cargo-leptos, and cargo-leptos then finds them fresh.

    tools/prebuild.py          build both halves side by side (logs in $CARGO_TARGET_DIR/setup-logs)
    tools/prebuild.py --print  print the two commands and their environment

tools/test.sh runs this before its browser tests and fails when cargo-leptos then compiles anything,
so a change to cargo-leptos or to the metadata that would make the two disagree fails the tests
instead of silently building everything twice on a fresh machine.
"""
import os
import shlex
import subprocess
import sys
import tomllib

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# Settings of cargo-leptos that change its commands in ways this file does not copy.
UNSUPPORTED = ["bin-cargo-args", "bin-profile-release", "bin-target-triple", "bin-target-dir",
               "bin-cargo-command", "lib-cargo-command", "front-target-dir", "features"]
# Rust flags from the environment: cargo-leptos merges them with its own for the wasm (in cargo's
# order of precedence); rather than copy that, the prebuild steps aside and cargo-leptos builds.
RUSTFLAGS_VARIABLES = ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_RUSTFLAGS",
                       "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS"]


def leptos_metadata():
    with open(os.path.join(TOP, "Cargo.toml"), "rb") as f:
        m = tomllib.load(f)["workspace"]["metadata"]["leptos"][0]
    unsupported = [k for k in UNSUPPORTED if k in m]
    if unsupported:
        sys.exit(f"tools/prebuild.py does not know how cargo-leptos uses {', '.join(unsupported)} "
                 "([[workspace.metadata.leptos]] in Cargo.toml): teach it, or remove the setting")
    return m


def config_rustflags():
    """build.rustflags of .cargo/config.toml, which cargo-leptos puts in front of its own flags."""
    path = os.path.join(TOP, ".cargo", "config.toml")
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        return tomllib.load(f).get("build", {}).get("rustflags", [])


def commands(target_dir):
    """The two builds of `cargo leptos build --release --split` (cargo-leptos 0.3.10:
    src/compile/front.rs, src/compile/server.rs, src/config/project.rs `to_envs`)."""
    m = leptos_metadata()
    env = {
        "LEPTOS_OUTPUT_NAME": m["output-name"],
        "LEPTOS_SITE_ROOT": m.get("site-root", "target/site"),
        "LEPTOS_SITE_PKG_DIR": m.get("site-pkg-dir", "pkg"),
        "LEPTOS_SITE_ADDR": m.get("site-addr", "127.0.0.1:3000"),
        "LEPTOS_RELOAD_PORT": str(m.get("reload-port", 3001)),
        "LEPTOS_LIB_DIR": m["lib-package"],
        "LEPTOS_BIN_DIR": m["bin-package"],
        "LEPTOS_JS_MINIFY": "true",
        "LEPTOS_HASH_FILES": "false",
    }
    front = ["cargo", "build", f"--package={m['lib-package']}", "--lib",
             f"--target-dir={os.path.join(target_dir, 'front')}", "--target=wasm32-unknown-unknown"]
    if not m.get("lib-default-features", True):
        front.append("--no-default-features")
    if m.get("lib-features"):
        front.append("--features=" + ",".join(m["lib-features"]))
    front += m.get("lib-cargo-args", [])
    front.append(f"--profile={m.get('lib-profile-release', 'release')}")
    front_env = dict(env, RUSTFLAGS=" ".join(config_rustflags() + ["-Clink-args=--emit-relocs"]))

    server = ["cargo", "build", f"--package={m['bin-package']}", f"--bin={m['bin-target']}"]
    if not m.get("bin-default-features", True):
        server.append("--no-default-features")
    if m.get("bin-features"):
        server.append("--features=" + ",".join(m["bin-features"]))
    server.append("--release")
    return [("front", front, front_env), ("server", server, env)]


def main():
    target_dir = os.environ.get("CARGO_TARGET_DIR") or os.path.join(TOP, "target")
    builds = commands(target_dir)
    if sys.argv[1:] == ["--print"]:
        for name, cmd, env in builds:
            print(name + ":", " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()), shlex.join(cmd))
        return 0
    set_flags = [v for v in RUSTFLAGS_VARIABLES if os.environ.get(v)]
    if set_flags:
        print(f"prebuild: skipped ({', '.join(set_flags)} set); cargo-leptos builds everything", file=sys.stderr)
        return 0
    logs = os.path.join(target_dir, "setup-logs")
    os.makedirs(logs, exist_ok=True)
    running = []
    for name, cmd, env in builds:
        log = open(os.path.join(logs, f"prebuild-{name}.log"), "w")
        full_env = dict(os.environ, **env)
        running.append((name, log, subprocess.Popen(cmd, cwd=TOP, env=full_env, stdout=log, stderr=subprocess.STDOUT)))
    failed = False
    for name, log, proc in running:
        _, status, usage = os.wait4(proc.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        log.write(f"[{name}: exit {code}; CPU {usage.ru_utime:.0f} s user, {usage.ru_stime:.0f} s system]\n")
        log.close()
        if code != 0:
            failed = True
            with open(log.name) as f:
                tail = f.readlines()[-30:]
            sys.stderr.write(f"prebuild of the {name} failed (exit {code}); the end of {log.name}:\n{''.join(tail)}")
        else:
            print(f"prebuild: the {name} is compiled", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
