use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A vendored protoc, so a fresh machine builds without installing protobuf-compiler.
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: the build script is single-threaded; prost-build reads PROTOC.
    unsafe { std::env::set_var("PROTOC", protoc) };
    let protos = ["../../proto/log.proto", "../../proto/loki/push.proto"].map(PathBuf::from);
    // Loki's messages import google/protobuf/timestamp.proto, which the vendored protoc ships.
    let includes = [
        PathBuf::from("../../proto"),
        protoc_bin_vendored::include_path()?,
    ];
    tonic_prost_build::configure().compile_protos(&protos, &includes)?;
    for proto in &protos {
        println!("cargo:rerun-if-changed={}", proto.display());
    }
    Ok(())
}
