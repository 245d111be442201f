//! `cairn vectors`: the wire test vectors of docs/wire.md, made from their fixed seeds by
//! `cairn_app::vectors` (the same generator the vectors tests compare `docs/vectors/` with).

use super::Ctx;
use anyhow::{Context, bail};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct VectorsArgs {
    /// Directory of the vector files: written (created if missing), or compared with
    /// `--check`.
    #[arg(long, default_value = "docs/vectors")]
    pub out: PathBuf,
    /// Compare the files in the directory with freshly made ones instead of writing; fail
    /// on any difference.
    #[arg(long)]
    pub check: bool,
}

pub fn run(ctx: &Ctx, a: VectorsArgs) -> anyhow::Result<()> {
    let files = cairn_app::vectors::files()?;
    if a.check {
        let diffs = cairn_types::vectors::compare(&files, |name| {
            std::fs::read_to_string(a.out.join(name)).map_err(|e| e.to_string())
        });
        if !diffs.is_empty() {
            bail!("the vectors in {} differ:\n{}", a.out.display(), diffs.join("\n"));
        }
        if !ctx.json {
            println!("{} vector files in {} match", files.len(), a.out.display());
        }
        return Ok(());
    }
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    for (name, v) in &files {
        let path = a.out.join(name);
        std::fs::write(&path, cairn_types::vectors::to_text(v))
            .with_context(|| format!("writing {}", path.display()))?;
        if !ctx.json {
            println!("wrote {}", path.display());
        }
    }
    if ctx.json {
        crate::output::json(&files.keys().collect::<Vec<_>>())?;
    }
    Ok(())
}
