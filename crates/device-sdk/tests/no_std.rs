#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The SDK stays buildable without the standard library.
//!
//! `#![no_std]` in `src/lib.rs` keeps the crate itself off `std`, but on a hosted target a
//! dependency that turns on its `std` feature would still build, silently tying the SDK to
//! an operating system. This test reads the SDK's normal dependency tree with its features
//! from cargo and fails if any crate in it has `std` enabled, or if `cairn-types` (a `std`
//! crate) is in it.

use std::process::Command;

fn tree(args: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["tree", "-p", "cairn-device-sdk", "--offline", "--prefix", "none"])
        .args(args)
        .current_dir(std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(
            || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")),
            std::path::PathBuf::from,
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Lines such as `sha2 feature "std"`: a crate with its `std` feature on.
fn std_features(tree: &str) -> Vec<&str> {
    tree.lines().filter(|l| l.contains("feature \"std\"")).collect()
}

#[test]
fn no_normal_dependency_of_the_sdk_has_its_std_feature_on() {
    let features = tree(&["-e", "normal,features", "--no-default-features"]);
    assert!(
        features.contains("p256 feature \"ecdsa\""),
        "unexpected cargo tree output:\n{features}"
    );
    assert_eq!(std_features(&features), Vec::<&str>::new());
    let crates = tree(&["-e", "normal"]);
    assert!(!crates.contains("cairn-types"), "cairn-types is a normal dependency:\n{crates}");
}

#[test]
fn the_check_sees_a_dependency_with_std_on() {
    // The dev-dependencies pull in std crates: the same reading must find them there.
    let features = tree(&["-e", "normal,dev,features"]);
    assert!(
        !std_features(&features).is_empty(),
        "no std feature among the dev-dependencies:\n{features}"
    );
}
