//! Compiles every `.proto` file with protox, so no system `protoc` is needed.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let files = [
        root.join("identity/v1/identity.proto"),
        root.join("auth/v1/auth.proto"),
    ];

    let mut compiler = protox::Compiler::new([&root])?;
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(&files)?;
    for file in compiler.files() {
        if let Some(path) = file.path() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    // compile_fds neither writes the descriptor set nor adds the clippy allowance that
    // compile_protos would: both are done here.
    std::fs::write(
        out_dir.join("descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    tonic_prost_build::configure()
        .type_attribute(".", "#[allow(clippy::all, missing_docs)]")
        .server_mod_attribute(".", "#[allow(missing_docs)]")
        .client_mod_attribute(".", "#[allow(missing_docs)]")
        .compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}
