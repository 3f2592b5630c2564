//! End-to-end tests of the `authtrail` command line: the binary as a user
//! runs it, on the fixtures, the local stream and (through the test script)
//! kinesalite.

mod context;
mod crash;
mod demo;
mod geoip;
mod invoke;
mod lake;
mod replay;
mod reports;
mod tour;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

// Cargo's value at run time first: a build cache shared by clones keeps
// binaries built in another clone, whose compile-time path may be gone.
pub fn root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

pub fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/cognito").join(name)
}

/// `authtrail ARGS` in `dir`, with a clean authtrail environment.
pub fn authtrail(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authtrail"));
    cmd.current_dir(dir).args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("AUTHTRAIL") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("authtrail runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
