//! Builds the explorer (`explorer/`, a Vite project) and embeds its files in the node: the
//! node serves them at `/` (see `api_explorer`).
//!
//! Runs `npm ci` when `explorer/node_modules` is missing or older than the lock file, then
//! `npm run build` into `OUT_DIR`, and writes `explorer_assets.rs`: every built file's path
//! and bytes. Cargo runs this again only when the explorer's sources change. Setting
//! `CAIRN_EXPLORER_DIST` to a directory of built files uses those instead, without npm.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const SOURCES: [&str; 5] =
    ["package.json", "package-lock.json", "index.html", "vite.config.js", "src"];

fn main() {
    if let Err(e) = run() {
        eprintln!("\nerror: the explorer could not be built: {e}\n");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?);
    let out = PathBuf::from(std::env::var("OUT_DIR").map_err(|e| e.to_string())?);
    let project = manifest.join("../../explorer");
    println!("cargo:rerun-if-env-changed=CAIRN_EXPLORER_DIST");
    for s in SOURCES {
        println!("cargo:rerun-if-changed={}", project.join(s).display());
    }
    let dist = match std::env::var_os("CAIRN_EXPLORER_DIST") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let dist = out.join("explorer-dist");
            build(&project, &dist)?;
            dist
        }
    };
    let mut files = Vec::new();
    collect(&dist, &dist, &mut files)?;
    files.sort();
    if !files.iter().any(|(p, _)| p == "/index.html") {
        return Err(format!("{} holds no index.html", dist.display()));
    }
    let mut code =
        String::from("/// Every file of the built explorer: its path under `/` and its bytes.\n");
    code.push_str("pub static ASSETS: &[(&str, &[u8])] = &[\n");
    for (path, file) in &files {
        let _ = writeln!(code, "    ({path:?}, include_bytes!({:?})),", file.display().to_string());
    }
    code.push_str("];\n");
    std::fs::write(out.join("explorer_assets.rs"), code).map_err(|e| e.to_string())
}

fn npm(project: &Path, args: &[&str]) -> Result<(), String> {
    let status = Command::new("npm").args(args).current_dir(project).status().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            "npm is not installed: the node embeds the explorer, which is built with Node.js \
             and npm (Debian: `apt-get install nodejs npm`); or set CAIRN_EXPLORER_DIST to a \
             directory holding a built explorer"
                .to_string()
        } else {
            format!("running npm {}: {e}", args.join(" "))
        }
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`npm {}` in {} failed ({status})", args.join(" "), project.display()))
    }
}

fn modified(p: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

fn build(project: &Path, dist: &Path) -> Result<(), String> {
    let installed = modified(&project.join("node_modules/.package-lock.json"));
    let locked = modified(&project.join("package-lock.json"));
    if installed.is_none() || installed < locked {
        npm(project, &["ci", "--no-audit", "--no-fund", "--loglevel=error"])?;
    }
    let out_dir = dist.display().to_string();
    npm(project, &["run", "build", "--silent", "--", "--outDir", &out_dir, "--emptyOutDir"])
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            collect(root, &path, out)?;
        } else {
            let rel = path.strip_prefix(root).map_err(|e| e.to_string())?;
            let url: Vec<String> =
                rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
            let abs = path.canonicalize().map_err(|e| e.to_string())?;
            out.push((format!("/{}", url.join("/")), abs));
        }
    }
    Ok(())
}
