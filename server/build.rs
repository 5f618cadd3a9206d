//! Embeds the SQL migrations in the binary: writes `$OUT_DIR/migrations.rs` with one
//! `(file name, include_str!(…))` pair per file of `migrations/sqlite` and `migrations/postgres`,
//! in file-name order, which `store::migrations` hands to sqlx's migrator.

use std::{env, error::Error, fs, path::Path};

fn main() -> Result<(), Box<dyn Error>> {
    let dir = env::var("CARGO_MANIFEST_DIR")?;
    let out = env::var("OUT_DIR")?;
    println!("cargo::rerun-if-changed=migrations");
    let mut code = String::new();
    for (name, sub) in [("SQLITE", "sqlite"), ("POSTGRES", "postgres")] {
        let path = Path::new(&dir).join("migrations").join(sub);
        println!("cargo::rerun-if-changed={}", path.display());
        let mut files = Vec::new();
        for entry in fs::read_dir(&path)? {
            let file = entry?.file_name().to_string_lossy().into_owned();
            if file.ends_with(".sql") {
                files.push(file);
            }
        }
        files.sort();
        code.push_str(&format!("pub(super) static {name}: &[(&str, &str)] = &[\n"));
        for file in files {
            let full = path.join(&file).display().to_string();
            code.push_str(&format!("    ({file:?}, include_str!({full:?})),\n"));
        }
        code.push_str("];\n");
    }
    fs::write(Path::new(&out).join("migrations.rs"), code)?;
    Ok(())
}
